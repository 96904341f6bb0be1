//! PostgreSQL (issue #16): the private cluster the PostgreSQL tests run on (it starts without
//! anything installed by hand, since scripts/test installs Debian's package; listens on
//! 127.0.0.1 only; is new enough for Klaxon, 13 or later; is gone when the test ends), the
//! PostgreSQL migrations (`migrations/postgres`), which must make the schema SQLite's make,
//! and two replicas migrating one empty database at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use klaxon_tests::postgres::Postgres;
use klaxon_tests::wait::eventually;
use sqlx::Connection as _;
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, SqliteConnection};

/// Starts a private cluster (initdb and pg_ctl block, so off the runtime's threads).
async fn cluster() -> Postgres {
    tokio::task::spawn_blocking(Postgres::start)
        .await
        .expect("join")
        .expect("a private PostgreSQL cluster starts")
}

/// Stops a cluster (pg_ctl blocks).
async fn stop(pg: Postgres) {
    drop(tokio::task::spawn_blocking(move || drop(pg)).await);
}

/// The PostgreSQL migrations, read from the source tree.
async fn postgres_migrator() -> Migrator {
    Migrator::new(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../migrations/postgres"
    )))
    .await
    .expect("migrations/postgres reads")
}

#[tokio::test]
async fn a_private_cluster_starts_on_loopback_and_stops_when_dropped() {
    let pg = cluster().await;
    let url = pg
        .database("klaxon_probe")
        .await
        .expect("create a database");
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await
        .expect("version");
    let version: u32 = version.parse().expect("a number");
    assert!(version >= 130_000, "PostgreSQL 13 or newer, got {version}");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .expect("listen_addresses");
    assert_eq!(listen, "127.0.0.1");
    conn.close().await.expect("close");
    stop(pg).await;
    assert!(
        PgConnection::connect(&url).await.is_err(),
        "the cluster stopped with its test"
    );
}

/// A column as both backends can describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    /// PostgreSQL's name of the type (SQLite's declared type translated).
    ty: String,
    not_null: bool,
    /// The default's text, without PostgreSQL's `::type` cast.
    default: Option<String>,
    /// Whether the database gives it (SQLite's rowid alias, PostgreSQL's identity).
    generated: bool,
}

/// An index other than the primary key's (a UNIQUE constraint's included).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    columns: Vec<String>,
    unique: bool,
    /// A partial index's predicate, normalised (see [`predicate`]).
    predicate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    references: Vec<String>,
    on_delete: String,
    on_update: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    /// Sorted, so that order of creation does not count.
    indexes: Vec<Index>,
    foreign_keys: Vec<ForeignKey>,
}

/// Every table but the migrator's own.
type Schema = BTreeMap<String, Table>;

/// A partial index's predicate, for comparing the two backends' spelling of it loosely:
/// lower case, no casts, `!=` as `<>`, no blanks or parentheses.
fn predicate(sql: &str) -> String {
    sql.to_lowercase()
        .replace("::text", "")
        .replace("::bigint", "")
        .replace("!=", "<>")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect()
}

/// A default's text without a trailing PostgreSQL cast (`'pending'::text` is `'pending'`).
fn default(sql: &str) -> String {
    match sql.rfind("::") {
        Some(i)
            if sql[i + 2..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == ' ') =>
        {
            sql[..i].to_owned()
        }
        _ => sql.to_owned(),
    }
}

/// The types the PostgreSQL twins use for SQLite's declared types.
fn postgres_type(sqlite: &str) -> String {
    match sqlite.to_ascii_uppercase().as_str() {
        "INTEGER" => "bigint".to_owned(),
        "TEXT" => "text".to_owned(),
        "REAL" => "double precision".to_owned(),
        "BLOB" => "bytea".to_owned(),
        other => format!("(SQLite's {other}, which the twins have no rule for)"),
    }
}

async fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("tables");
    let mut schema = Schema::new();
    for name in names {
        let mut table = Table::default();
        let columns: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1)",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .expect("columns");
        let mut key: Vec<(i64, String)> = columns
            .iter()
            .filter(|c| c.4 > 0)
            .map(|c| (c.4, c.0.clone()))
            .collect();
        key.sort();
        table.primary_key = key.into_iter().map(|(_, c)| c).collect();
        for (column, ty, not_null, dflt, pk) in columns {
            // A rowid alias: the only key column, declared INTEGER.
            let rowid =
                pk > 0 && table.primary_key.len() == 1 && ty.eq_ignore_ascii_case("INTEGER");
            let column_info = Column {
                ty: postgres_type(&ty),
                // A key column is NOT NULL in PostgreSQL; in SQLite only a rowid alias is, and
                // another key column admits NULL unless declared NOT NULL (a legacy of SQLite's,
                // see https://sqlite.org/lang_createtable.html#the_primary_key). Klaxon never
                // writes a NULL key, so a key column counts as NOT NULL here.
                not_null: not_null != 0 || pk > 0,
                default: dflt.as_deref().map(default),
                generated: rowid,
            };
            table.columns.insert(column, column_info);
        }
        let indexes: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .expect("indexes");
        for (index, unique, origin) in indexes {
            if origin == "pk" {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut *conn)
                    .await
                    .expect("index columns");
            let sql: Option<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1",
            )
            .bind(&index)
            .fetch_one(&mut *conn)
            .await
            .expect("index sql");
            let predicate = sql.and_then(|sql| {
                let upper = sql.to_ascii_uppercase();
                upper.find(" WHERE ").map(|i| predicate(&sql[i + 7..]))
            });
            table.indexes.push(Index {
                columns,
                unique: unique != 0,
                predicate,
            });
        }
        table.indexes.sort();
        let keys: Vec<(i64, String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete \
             FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .expect("foreign keys");
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, target, from, to, on_update, on_delete) in keys {
            let key = by_id.entry(id).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                table: target,
                references: Vec::new(),
                on_delete,
                on_update,
            });
            key.columns.push(from);
            // Every REFERENCES in the migrations names its column.
            key.references
                .push(to.expect("a foreign key names the column it references"));
        }
        table.foreign_keys = by_id.into_values().collect();
        table.foreign_keys.sort();
        schema.insert(name, table);
    }
    schema
}

/// PostgreSQL's name of a referential action (`pg_constraint.confdeltype`).
fn action(code: &str) -> String {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => other,
    }
    .to_owned()
}

/// An index as `pg_index` describes it.
#[derive(sqlx::FromRow)]
struct PgIndex {
    table: String,
    primary: bool,
    unique: bool,
    columns: Vec<String>,
    predicate: Option<String>,
}

/// A foreign key as `pg_constraint` describes it.
#[derive(sqlx::FromRow)]
struct PgForeignKey {
    table: String,
    target: String,
    columns: Vec<String>,
    references: Vec<String>,
    on_delete: String,
    on_update: String,
}

async fn postgres_schema(conn: &mut PgConnection) -> Schema {
    let mut schema = Schema::new();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("tables");
    for name in names {
        schema.insert(name, Table::default());
    }
    let columns: Vec<(String, String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
             column_default::text, is_identity::text \
             FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("columns");
    for (table, column, ty, nullable, dflt, identity) in columns {
        if let Some(table) = schema.get_mut(&table) {
            table.columns.insert(
                column,
                Column {
                    ty,
                    not_null: nullable == "NO",
                    default: dflt.as_deref().map(default),
                    generated: identity == "YES",
                },
            );
        }
    }
    // pg_index (what the pg_indexes view shows) with each index's columns in order.
    let indexes: Vec<PgIndex> = sqlx::query_as(
        "SELECT t.relname::text AS table, ix.indisprimary AS primary, ix.indisunique AS unique, \
         ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, i) \
               JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.i) \
               AS columns, \
         pg_get_expr(ix.indpred, ix.indrelid) AS predicate \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace WHERE ns.nspname = 'public'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("indexes");
    for index in indexes {
        let Some(table) = schema.get_mut(&index.table) else {
            continue;
        };
        if index.primary {
            table.primary_key = index.columns;
        } else {
            table.indexes.push(Index {
                columns: index.columns,
                unique: index.unique,
                predicate: index.predicate.as_deref().map(predicate),
            });
        }
    }
    let keys: Vec<PgForeignKey> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text AS table, c.confrelid::regclass::text AS target, \
         ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) \
               AS columns, \
         ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) \
               AS references, \
         c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update \
         FROM pg_constraint c JOIN pg_namespace ns ON ns.oid = c.connamespace \
         WHERE c.contype = 'f' AND ns.nspname = 'public'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("foreign keys");
    for key in keys {
        if let Some(table) = schema.get_mut(&key.table) {
            table.foreign_keys.push(ForeignKey {
                columns: key.columns,
                table: key.target,
                references: key.references,
                on_delete: action(&key.on_delete),
                on_update: action(&key.on_update),
            });
        }
    }
    for table in schema.values_mut() {
        table.indexes.sort();
        table.foreign_keys.sort();
    }
    schema
}

/// Every way `postgres` differs from `sqlite`, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for name in names {
        let (s, p) = match (sqlite.get(name), postgres.get(name)) {
            (Some(s), Some(p)) => (s, p),
            (Some(_), None) => {
                out.push(format!("table {name}: only in SQLite"));
                continue;
            }
            (None, Some(_)) => {
                out.push(format!("table {name}: only in PostgreSQL"));
                continue;
            }
            (None, None) => unreachable!("the name comes from one of them"),
        };
        let columns: BTreeSet<&String> = s.columns.keys().chain(p.columns.keys()).collect();
        for column in columns {
            match (s.columns.get(column), p.columns.get(column)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => {
                    out.push(format!("{name}.{column}: SQLite {a:?}, PostgreSQL {b:?}"));
                }
                (Some(_), None) => out.push(format!("{name}.{column}: only in SQLite")),
                (None, Some(_)) => out.push(format!("{name}.{column}: only in PostgreSQL")),
                (None, None) => unreachable!("the name comes from one of them"),
            }
        }
        if s.primary_key != p.primary_key {
            out.push(format!(
                "{name} primary key: SQLite {:?}, PostgreSQL {:?}",
                s.primary_key, p.primary_key
            ));
        }
        if s.indexes != p.indexes {
            out.push(format!(
                "{name} indexes:\n  SQLite     {:?}\n  PostgreSQL {:?}",
                s.indexes, p.indexes
            ));
        }
        if s.foreign_keys != p.foreign_keys {
            out.push(format!(
                "{name} foreign keys:\n  SQLite     {:?}\n  PostgreSQL {:?}",
                s.foreign_keys, p.foreign_keys
            ));
        }
    }
    out
}

/// `migrations/postgres` on a fresh PostgreSQL database makes the schema
/// `klaxon::store::MIGRATOR` makes on a fresh SQLite file: the same versions with the same
/// names, the same tables, and per table the same columns (type, NOT NULL, default, generated
/// id), primary key, indexes (columns, uniqueness, partial predicate) and foreign keys.
#[tokio::test]
async fn the_postgres_migrations_make_the_sqlite_schema() {
    let postgres = postgres_migrator().await;
    let sqlite = &klaxon::store::MIGRATOR;
    let versions = |m: &Migrator| -> Vec<(i64, String)> {
        m.iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    };
    assert_eq!(
        versions(&postgres),
        versions(sqlite),
        "every SQLite migration has its PostgreSQL twin, same number and name"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("schema.db"))
        .create_if_missing(true);
    let mut lite = SqliteConnection::connect_with(&options)
        .await
        .expect("open SQLite");
    sqlite.run(&mut lite).await.expect("SQLite migrations");
    let lite_schema = sqlite_schema(&mut lite).await;
    lite.close().await.expect("close");

    let pg = cluster().await;
    let url = pg
        .database("klaxon_schema")
        .await
        .expect("create a database");
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    postgres
        .run(&mut conn)
        .await
        .expect("PostgreSQL migrations");
    let pg_schema = postgres_schema(&mut conn).await;
    conn.close().await.expect("close");
    stop(pg).await;

    assert!(
        lite_schema.len() >= 22 && lite_schema.contains_key("channel_attempts"),
        "the SQLite schema was read: {:?}",
        lite_schema.keys().collect::<Vec<_>>()
    );
    let differences = differences(&lite_schema, &pg_schema);
    assert!(
        differences.is_empty(),
        "migrations/postgres differs from the SQLite schema:\n{}",
        differences.join("\n")
    );
}

/// Two replicas starting at once on an empty database: both migrate without error and each
/// migration is applied once. sqlx's migrator holds an advisory lock while it runs; this
/// test shows the two overlapping, one waiting on that lock, by holding the first one inside
/// its CREATE of `_sqlx_migrations` (an open transaction creates the same table, so the
/// migrator's waits on it) until both are seen waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_at_once_on_an_empty_database_apply_each_migration_once() {
    let pg = cluster().await;
    let url = pg.database("klaxon_race").await.expect("create a database");
    let migrator = postgres_migrator().await;
    let expected: Vec<i64> = migrator.iter().map(|m| m.version).collect();

    let mut blocker = PgConnection::connect(&url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut blocker)
        .await
        .expect("begin");
    sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY)")
        .execute(&mut blocker)
        .await
        .expect("the blocker's table");

    let replica = |url: String| {
        tokio::spawn(async move {
            let migrator = postgres_migrator().await;
            // A replica's pool, as a Klaxon process would have.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&url)
                .await?;
            migrator.run(&pool).await?;
            pool.close().await;
            anyhow::Ok(())
        })
    };
    let first = replica(url.clone());
    let second = replica(url.clone());

    // One migrator holds the advisory lock and waits for the blocker's transaction; the other
    // waits for the advisory lock.
    let mut watcher = PgConnection::connect(&url).await.expect("connect");
    let waits = async |conn: &mut PgConnection| -> Vec<String> {
        let mut waits: Vec<String> = sqlx::query_scalar(
            "SELECT wait_event::text FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_all(conn)
        .await
        .expect("pg_stat_activity");
        waits.sort();
        waits
    };
    let both = eventually(Duration::from_secs(30), async || {
        waits(&mut watcher).await == ["advisory", "transactionid"]
    })
    .await;
    assert!(
        both,
        "both migrators run at once, one waiting on the other's advisory lock: {:?}",
        waits(&mut watcher).await
    );
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("rollback");

    for (which, replica) in [("first", first), ("second", second)] {
        tokio::time::timeout(Duration::from_secs(60), replica)
            .await
            .unwrap_or_else(|_| panic!("the {which} migrator ends"))
            .expect("join")
            .unwrap_or_else(|e| panic!("the {which} migrator succeeds: {e:#}"));
    }
    let applied: Vec<(i64, i64, bool)> = sqlx::query_as(
        "SELECT version, COUNT(*), bool_and(success) FROM _sqlx_migrations \
         GROUP BY version ORDER BY version",
    )
    .fetch_all(&mut watcher)
    .await
    .expect("applied migrations");
    assert_eq!(
        applied,
        expected.iter().map(|v| (*v, 1, true)).collect::<Vec<_>>(),
        "each migration applied once, successfully"
    );
    let incidents: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'incidents'",
    )
    .fetch_one(&mut watcher)
    .await
    .expect("tables");
    assert_eq!(incidents, 1, "the schema is there, once");
    watcher.close().await.expect("close");
    blocker.close().await.expect("close");
    stop(pg).await;
}
