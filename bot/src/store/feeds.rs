//! On-call calendar feeds: the generation each feed's address is made from.

use crate::store::Conn;
use chrono::{DateTime, Utc};

use crate::clock::to_db;

/// The feed's generation, if it was ever issued.
pub async fn generation(conn: &mut Conn, feed: &str) -> anyhow::Result<Option<i64>> {
    let generation: Option<i64> =
        sqlx::query_scalar("SELECT generation FROM oncall_feeds WHERE feed = $1")
            .bind(feed)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(generation)
}

/// Issues the feed (generation 1) if it is new, or moves it to the next generation when
/// `rotate`; returns the generation now in force.
pub async fn issue(
    conn: &mut Conn,
    feed: &str,
    rotate: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let generation: i64 = sqlx::query_scalar(
        "INSERT INTO oncall_feeds (feed, generation, issued_at) VALUES ($1, 1, $2) \
         ON CONFLICT (feed) DO UPDATE SET \
           generation = oncall_feeds.generation + (CASE WHEN $3 THEN 1 ELSE 0 END), \
           rotated_at = CASE WHEN $3 THEN $2 ELSE oncall_feeds.rotated_at END \
         RETURNING generation",
    )
    .bind(feed)
    .bind(to_db(now))
    .bind(rotate)
    .fetch_one(&mut *conn)
    .await?;
    Ok(generation)
}
