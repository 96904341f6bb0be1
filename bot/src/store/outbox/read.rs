//! Reading pending calls: the whole table's next calls ([`read_pending`]), capped per incident
//! and in all, and only those queued since an earlier read ([`pending_after`]).

use std::collections::{HashMap, HashSet};

use klaxon_commands::{PlatformKind, Tenant};
use sqlx::Connection as _;

use super::op::SHARED_POST_PREFIX;
use super::{Claim, Op, Pending};
use crate::clock::from_db;
use crate::store::Conn;

/// How many of one incident's pending calls [`read_pending`] reads at most.
pub const PER_INCIDENT: i64 = 16;

/// An incident's calls, by tenant (`None`: calls of no incident): what the read caps count.
pub type Group = (Tenant, Option<i64>);

/// One read of the pending calls, and what its caps may have left out.
#[derive(Debug, Default)]
pub struct Read {
    /// In id order.
    pub calls: Vec<Pending>,
    /// The incidents (each with its tenant; `None`: calls of no incident) some of whose
    /// pending calls other than posts to fixed channels and people were left out.
    pub cut: HashSet<Group>,
    /// The incidents read, none of whose calls were left out.
    pub complete: HashSet<Group>,
    /// For each incident in `cut`, its largest call id read: what it left out lies past it
    /// ([`pending_of`] reads on from there).
    pub upto: HashMap<Group, i64>,
    /// Whether incidents with pending calls may be missing from `calls` altogether (the limit
    /// fell among the incidents' first calls).
    pub absent: bool,
    /// With `absent`, the largest id of an incident's first call read: every incident whose
    /// first pending call is at or before it was read, those past it may not have been
    /// ([`super::read_page`] reads them).
    pub first_upto: i64,
    /// Whether posts to fixed channels and to people were left out.
    pub shared_cut: bool,
    /// With `shared_cut`, the largest id of those posts read: the ones left out lie past it
    /// ([`super::pending_shared_after`] reads them).
    pub shared_upto: i64,
    /// The largest call id in the table when it was read: every call pending then is either
    /// read or left out as the fields above say, so a read of what is new reads past it.
    pub newest: i64,
}

impl Read {
    /// Whether a call queued after this read may go straight behind what it read of the
    /// call's lane: nothing of that lane pending at the read was left out.
    pub fn covers(&self, call: &Pending) -> bool {
        if call.op.is_shared_post() {
            return !self.shared_cut;
        }
        let group = (call.tenant.clone(), call.incident_id);
        // Unless some were missed altogether, an incident not read had no pending calls.
        if self.absent {
            self.complete.contains(&group)
        } else {
            !self.cut.contains(&group)
        }
    }

    /// Whether it left anything out.
    pub fn capped(&self) -> bool {
        self.absent || self.shared_cut || !self.cut.is_empty()
    }

    /// What a read of one cut incident's next calls ([`pending_of`]) brought: past them if it
    /// filled its limit, else the incident is read whole.
    pub fn topped_up(&mut self, group: &Group, calls: &[Pending], limit: i64) {
        let full = calls.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        match calls.last() {
            Some(last) if full => {
                self.upto.insert(group.clone(), last.id);
            }
            _ => {
                self.cut.remove(group);
                self.upto.remove(group);
                self.complete.insert(group.clone());
            }
        }
    }
}

pub(super) type PendingRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) const COLUMNS: &str = "id, platform, workspace, incident_id, op, attempts, not_before, \
     created_at, started_at, owner, lease_until";

/// What the caps of a read by rank (each incident's first calls, then their second …) left
/// out, from the rows it returned.
pub(super) struct Caps {
    pub cut: HashSet<Group>,
    pub complete: HashSet<Group>,
    pub upto: HashMap<Group, i64>,
    pub absent: bool,
    pub first_upto: i64,
}

impl Caps {
    pub(super) fn of(rows: &[PendingRow], limit: i64) -> Self {
        // Read by rank, a cut at `limit` falls among the calls of the last rank read
        // (`deepest`): an incident with fewer than `deepest - 1` calls read has no more; one
        // with more may. One with `PER_INCIDENT` read may have more.
        let whole = rows.len() < usize::try_from(limit).unwrap_or(usize::MAX);
        let mut per_group: HashMap<(&str, &str, Option<i64>), (i64, i64)> = HashMap::new();
        for row in rows {
            let (n, last) = per_group
                .entry((row.1.as_str(), row.2.as_str(), row.3))
                .or_default();
            *n += 1;
            *last = (*last).max(row.0);
        }
        let deepest = per_group.values().map(|(n, _)| *n).max().unwrap_or(0);
        let mut caps = Self {
            cut: HashSet::new(),
            complete: HashSet::new(),
            upto: HashMap::new(),
            // Cut among the first calls, some incidents may not be in the read at all: those
            // whose first call comes after every first call read.
            absent: !whole && deepest <= 1,
            first_upto: 0,
        };
        if caps.absent {
            caps.first_upto = rows.iter().map(|row| row.0).max().unwrap_or(0);
        }
        for ((platform, workspace, incident), (n, last)) in per_group {
            let Some(platform) = PlatformKind::parse(platform) else {
                continue;
            };
            let group = (Tenant::new(platform, workspace.to_owned()), incident);
            if n >= PER_INCIDENT || (!whole && n + 1 >= deepest) {
                caps.upto.insert(group.clone(), last);
                caps.cut.insert(group);
            } else {
                caps.complete.insert(group);
            }
        }
        caps
    }
}

/// `$first, $first+1, …` for the platforms, as an `IN` list.
pub(super) fn platforms_in(platforms: &[PlatformKind], first: usize) -> String {
    let placeholders: Vec<String> = (first..platforms.len() + first)
        .map(|n| format!("${n}"))
        .collect();
    placeholders.join(", ")
}

/// Pending calls for the given platforms, in id order (see [`read_pending`]).
pub async fn pending(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    limit: i64,
) -> anyhow::Result<Vec<Pending>> {
    Ok(read_pending(conn, platforms, limit).await?.calls)
}

/// Pending calls for the given platforms, in id order: each incident's oldest calls (every
/// incident's first, then every incident's second …, up to `PER_INCIDENT` each, `limit` in
/// all), so a new incident's first calls are never left out behind an older backlog; and,
/// read apart, the posts to fixed channels such as the paging channel, oldest first (up to
/// `limit`). Those posts make one lane over many incidents: read by incident, an older
/// incident's post past its backlog would be left out while a newer incident's is read, and
/// the newer one would go first. Both are read in one snapshot. A row whose op does not
/// decode (written by a newer Klaxon, or damaged) is marked failed here, once, with the
/// reason.
pub async fn read_pending(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    limit: i64,
) -> anyhow::Result<Read> {
    if platforms.is_empty() {
        return Ok(Read::default());
    }
    // Only the platforms this process serves: calls for another one must not fill the batch.
    let platforms_in = platforms_in(platforms, 3);
    // The ranking reads only what it ranks by: with a large backlog, carrying every pending
    // row's op through the window and its sort cost more than all the rest of the read.
    let by_incident = format!(
        "SELECT {COLUMNS} FROM outbox WHERE id IN (\
           SELECT id FROM (\
             SELECT id, ROW_NUMBER() OVER (PARTITION BY platform, workspace, incident_id ORDER BY id) AS rank \
             FROM outbox WHERE state = 'pending' AND platform IN ({platforms_in})\
           ) AS pending WHERE rank <= $2 ORDER BY rank, id LIMIT $1\
         )"
    );
    let shared_sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND op LIKE $2 \
         AND platform IN ({platforms_in}) ORDER BY id LIMIT $1"
    );
    let (mut rows, shared, newest) = {
        // One snapshot for both (on SQLite a deferred transaction reads one; every call
        // queued after it has a larger id than any it read, which `pending_after` relies on).
        let mut tx = conn.begin().await?;
        let rows = fetch(&mut tx, &by_incident, limit, PER_INCIDENT, platforms).await?;
        let prefix = format!("{SHARED_POST_PREFIX}%");
        let shared = fetch(&mut tx, &shared_sql, limit, prefix, platforms).await?;
        let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM outbox")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        (rows, shared, newest)
    };
    let full = |n: usize| n >= usize::try_from(limit).unwrap_or(usize::MAX);
    let caps = Caps::of(&rows, limit);
    // With more shared posts pending than were read, a later one read by incident would skip
    // the older ones left out: it waits for a later read.
    let shared_cut = full(shared.len());
    let shared_upto = shared_cut.then(|| shared.last().map(|row| row.0)).flatten();
    if let Some(last) = shared_upto {
        rows.retain(|row| row.0 <= last || !row.4.starts_with(SHARED_POST_PREFIX));
    }
    rows.extend(shared);
    rows.sort_unstable_by_key(|row| row.0);
    rows.dedup_by_key(|row| row.0);
    Ok(Read {
        calls: decode(rows)?,
        cut: caps.cut,
        complete: caps.complete,
        upto: caps.upto,
        absent: caps.absent,
        first_upto: caps.first_upto,
        shared_cut,
        shared_upto: shared_upto.unwrap_or(0),
        newest,
    })
}

/// Pending calls for the given platforms queued after call `after` (a larger id), in id
/// order, at most `limit`. On SQLite, whose one writer commits ids in order, these are all
/// the calls queued since a [`read_pending`] whose largest id was `after`; on PostgreSQL
/// transactions may commit out of id order, so it may miss one.
pub async fn pending_after(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<Pending>> {
    past(conn, platforms, after, limit, false).await
}

/// Pending calls for the given platforms past call `after`, in id order, at most `limit`;
/// with `shared_only`, only the posts to fixed channels and people.
pub(super) async fn past(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    after: i64,
    limit: i64,
    shared_only: bool,
) -> anyhow::Result<Vec<Pending>> {
    if platforms.is_empty() {
        return Ok(Vec::new());
    }
    let (only, first) = if shared_only {
        ("AND op LIKE $3 ", 4)
    } else {
        ("", 3)
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE id > $2 AND state = 'pending' {only}\
         AND platform IN ({}) ORDER BY id LIMIT $1",
        platforms_in(platforms, first)
    );
    let mut query = sqlx::query_as::<_, PendingRow>(&sql)
        .bind(limit)
        .bind(after);
    if shared_only {
        query = query.bind(format!("{SHARED_POST_PREFIX}%"));
    }
    for p in platforms {
        query = query.bind(p.as_str());
    }
    decode(query.fetch_all(&mut *conn).await?)
}

/// Runs `sql` with `$1` the limit, `$2` `second` and `$3`… the platforms.
async fn fetch<'q, T>(
    conn: &mut Conn,
    sql: &'q str,
    limit: i64,
    second: T,
    platforms: &[PlatformKind],
) -> Result<Vec<PendingRow>, sqlx::Error>
where
    T: 'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    let mut query = sqlx::query_as::<_, PendingRow>(sql)
        .bind(limit)
        .bind(second);
    for p in platforms {
        query = query.bind(p.as_str());
    }
    query.fetch_all(&mut *conn).await
}

/// One incident's pending calls past call `after`, in id order, at most `limit`, but for its
/// posts to fixed channels and people (their lanes are read apart): what a [`read_pending`]
/// that cut the incident left out.
pub async fn pending_of(
    conn: &mut Conn,
    group: &Group,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<Pending>> {
    let (tenant, incident) = group;
    // `= $5` where it can, so that the index on pending calls by incident serves it.
    let of_incident = if incident.is_some() {
        "incident_id = $5"
    } else {
        "incident_id IS NULL AND $5 IS NULL"
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND {of_incident} \
         AND platform = $1 AND workspace = $2 AND id > $3 AND op NOT LIKE $4 \
         ORDER BY id LIMIT $6"
    );
    let rows = sqlx::query_as::<_, PendingRow>(&sql)
        .bind(tenant.platform.as_str())
        .bind(&tenant.workspace)
        .bind(after)
        .bind(format!("{SHARED_POST_PREFIX}%"))
        .bind(*incident)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    decode(rows)
}

/// The rows as calls, each op decoded once; a row that does not decode is an
/// [`Op::Unreadable`].
pub(super) fn decode(rows: Vec<PendingRow>) -> anyhow::Result<Vec<Pending>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (id, platform, workspace, incident_id, op, attempts, not_before, created_at) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        let (started_at, owner, lease_until) = (row.8, row.9, row.10);
        let Some(platform) = PlatformKind::parse(&platform) else {
            continue;
        };
        // Marked failed when its lane comes to it, by the writer: this is a read.
        let op = serde_json::from_str::<Op>(&op).unwrap_or_else(|e| Op::Unreadable {
            reason: format!("unreadable call: {e}"),
        });
        out.push(Pending {
            id,
            tenant: Tenant::new(platform, workspace),
            incident_id,
            op,
            attempts,
            not_before: not_before.as_deref().map(from_db).transpose()?,
            created_at: from_db(&created_at)?,
            started_at: started_at.as_deref().map(from_db).transpose()?,
            claim: Claim::read(owner, lease_until.as_deref())?,
        });
    }
    Ok(out)
}
