//! Checklist items of an incident.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::UserRef;

use crate::clock::{from_db, to_db};

/// One item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub item: i64,
    pub text: String,
    pub due_at: Option<DateTime<Utc>>,
    /// The command that ticks it by itself, if any.
    pub ticked_by: Option<String>,
    pub done: Option<(UserRef, DateTime<Utc>)>,
}

type Row = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn item((item, text, due_at, ticked_by, done_at, by_id, by_name): Row) -> anyhow::Result<Item> {
    let done = super::done_by(done_at, by_id, by_name)?;
    Ok(Item {
        item,
        text,
        due_at: due_at.as_deref().map(from_db).transpose()?,
        ticked_by,
        done,
    })
}

/// Adds `items` to the incident's checklist, each as given (done or not), in a statement per
/// [`MOST`](crate::store::batch::MOST) values. Returns them as they are stored: times to the
/// store's precision, as [`all`] would read them.
pub async fn add_each(
    conn: &mut Conn,
    incident_id: i64,
    items: Vec<Item>,
) -> anyhow::Result<Vec<Item>> {
    const WIDTH: usize = 8;
    for part in items.chunks(crate::store::batch::rows_per_statement(WIDTH)) {
        let sql = format!(
            "INSERT INTO checklist_items (incident_id, item, text, due_at, ticked_by, done_at, \
             done_by_id, done_by_name) VALUES {}",
            crate::store::batch::rows(1, WIDTH, part.len())
        );
        let mut query = sqlx::query(&sql);
        for i in part {
            let done = i.done.as_ref();
            query = query
                .bind(incident_id)
                .bind(i.item)
                .bind(i.text.clone())
                .bind(i.due_at.map(to_db))
                .bind(i.ticked_by.clone())
                .bind(done.map(|(_, at)| to_db(*at)))
                .bind(done.map(|(u, _)| u.id.clone()))
                .bind(done.and_then(|(u, _)| u.name.clone()));
        }
        query.execute(&mut *conn).await?;
    }
    let stored = |at: DateTime<Utc>| from_db(&to_db(at));
    items
        .into_iter()
        .map(|i| {
            Ok(Item {
                due_at: i.due_at.map(stored).transpose()?,
                done: i
                    .done
                    .map(|(by, at)| anyhow::Ok((by, stored(at)?)))
                    .transpose()?,
                ..i
            })
        })
        .collect()
}

/// Every item, in order.
pub async fn all(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<Item>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT item, text, due_at, ticked_by, done_at, done_by_id, done_by_name \
         FROM checklist_items WHERE incident_id = $1 ORDER BY item",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(item).collect()
}

/// Ticks (`Some`) or unticks (`None`) an item.
pub async fn set_done(
    conn: &mut Conn,
    incident_id: i64,
    item: i64,
    done: Option<(&UserRef, DateTime<Utc>)>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE checklist_items SET done_at = $1, done_by_id = $2, done_by_name = $3 \
         WHERE incident_id = $4 AND item = $5",
    )
    .bind(done.map(|(_, at)| to_db(at)))
    .bind(done.map(|(u, _)| u.id.clone()))
    .bind(done.and_then(|(u, _)| u.name.clone()))
    .bind(incident_id)
    .bind(item)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
