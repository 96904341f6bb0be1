//! Sign-in links and sessions of the pages, stored by the SHA-256 of their tokens.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{PlatformKind, Tenant, UserRef};
use sha2::Digest as _;

use crate::clock::to_db;

/// A fresh random token for a link or a session: two version-4 UUIDs (244 random bits from
/// the operating system's generator), 64 hex digits.
pub fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The stored form of a token: its SHA-256, in hex.
pub fn hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Who a link or a session is for, and what it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub tenant: Tenant,
    pub user: UserRef,
    /// Private incidents (by id) it opens.
    pub grants: Vec<i64>,
}

/// Stores a new link for `token`, valid until `expires_at`.
pub async fn add_link(
    conn: &mut Conn,
    token: &str,
    tenant: &Tenant,
    user: &UserRef,
    incident_id: Option<i64>,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO web_links (token_hash, platform, workspace, user_id, user_name, incident_id, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hash(token))
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(&user.id)
    .bind(&user.name)
    .bind(incident_id)
    .bind(to_db(at))
    .bind(to_db(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the link used and returns who it is for, if it exists, is unused and has not expired
/// at `now`. Call inside a write transaction: a link is used once.
pub async fn use_link(
    conn: &mut Conn,
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Holder>> {
    type Row = (String, String, String, Option<String>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "UPDATE web_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         AND expires_at > $2 RETURNING platform, workspace, user_id, user_name, incident_id",
    )
    .bind(hash(token))
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(platform, workspace, id, name, incident)| {
        Ok(Holder {
            tenant: tenant(&platform, workspace)?,
            user: UserRef { id, name },
            grants: incident.into_iter().collect(),
        })
    })
    .transpose()
}

/// Whether a link for `token` exists, unused and not expired (the sign-in page asks before
/// showing its button).
pub async fn link_is_good(
    conn: &mut Conn,
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM web_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Stores a session for `token`.
pub async fn add_session(
    conn: &mut Conn,
    token: &str,
    holder: &Holder,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO web_sessions (token_hash, platform, workspace, user_id, user_name, grants, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hash(token))
    .bind(holder.tenant.platform.as_str())
    .bind(&holder.tenant.workspace)
    .bind(&holder.user.id)
    .bind(&holder.user.name)
    .bind(serde_json::to_string(&holder.grants)?)
    .bind(to_db(at))
    .bind(to_db(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The session of `token`, if it exists and has not expired at `now`.
pub async fn session(
    conn: &mut Conn,
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Holder>> {
    type Row = (String, String, String, Option<String>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT platform, workspace, user_id, user_name, grants FROM web_sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(platform, workspace, id, name, grants)| {
        Ok(Holder {
            tenant: tenant(&platform, workspace)?,
            user: UserRef { id, name },
            grants: serde_json::from_str(&grants)?,
        })
    })
    .transpose()
}

/// Ends a session (a newer one for the same person replaces it).
pub async fn end_session(conn: &mut Conn, token: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
        .bind(hash(token))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes links and sessions that expired before `now`; how many.
pub async fn purge(conn: &mut Conn, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let links = sqlx::query("DELETE FROM web_links WHERE expires_at <= $1")
        .bind(to_db(now))
        .execute(&mut *conn)
        .await?;
    let sessions = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(to_db(now))
        .execute(&mut *conn)
        .await?;
    Ok(links.rows_affected() + sessions.rows_affected())
}

fn tenant(platform: &str, workspace: String) -> anyhow::Result<Tenant> {
    let platform = PlatformKind::parse(platform)
        .ok_or_else(|| anyhow::anyhow!("unknown platform {platform:?}"))?;
    Ok(Tenant::new(platform, workspace))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_stored_as_their_sha256() {
        // FIPS 180-2's example: SHA-256("abc").
        assert_eq!(
            super::hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
