//! Reading on past a read's caps without reading the table whole again: the incidents a read
//! left out altogether, a page at a time ([`read_page`]), and the posts to fixed channels and
//! people past those it read ([`pending_shared_after`]). On SQLite, whose one writer commits
//! call ids in order, these with [`super::pending_after`] and [`super::pending_of`] bring
//! every pending call once, however large the backlog.

use klaxon_commands::PlatformKind;

use super::op::SHARED_POST_PREFIX;
use super::read::{COLUMNS, Caps, PendingRow, decode, platforms_in};
use super::{Group, PER_INCIDENT, Pending, Read};
use crate::store::Conn;

/// The incidents whose first pending call (but for posts to fixed channels and people, read
/// apart) comes after call `after_first`, read like [`super::read_pending`] reads them all: each
/// one's first calls, then their second …, up to [`PER_INCIDENT`] each and `limit` in all. What
/// a read that left incidents out (`absent`, past its `first_upto`) did not bring.
pub async fn read_page(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    limit: i64,
    after_first: i64,
) -> anyhow::Result<Read> {
    if platforms.is_empty() {
        return Ok(Read::default());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE id IN (\
           SELECT id FROM (\
             SELECT id, \
               ROW_NUMBER() OVER (PARTITION BY platform, workspace, incident_id ORDER BY id) AS rank, \
               MIN(id) OVER (PARTITION BY platform, workspace, incident_id) AS first \
             FROM outbox WHERE state = 'pending' AND op NOT LIKE $3 AND platform IN ({})\
           ) AS pending WHERE rank <= $2 AND first > $4 ORDER BY rank, id LIMIT $1\
         )",
        platforms_in(platforms, 5)
    );
    let mut query = sqlx::query_as::<_, PendingRow>(&sql)
        .bind(limit)
        .bind(PER_INCIDENT)
        .bind(format!("{SHARED_POST_PREFIX}%"))
        .bind(after_first);
    for p in platforms {
        query = query.bind(p.as_str());
    }
    let mut rows = query.fetch_all(&mut *conn).await?;
    rows.sort_unstable_by_key(|row| row.0);
    let caps = Caps::of(&rows, limit);
    Ok(Read {
        calls: decode(rows)?,
        cut: caps.cut,
        complete: caps.complete,
        upto: caps.upto,
        absent: caps.absent,
        first_upto: caps.first_upto,
        shared_cut: false,
        shared_upto: 0,
        newest: 0,
    })
}

/// Posts to fixed channels and people for the given platforms queued after call `after`, in
/// id order, at most `limit`: those a read that cut them (`shared_cut`, past its
/// `shared_upto`) left out.
pub async fn pending_shared_after(
    conn: &mut Conn,
    platforms: &[PlatformKind],
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<Pending>> {
    super::read::past(conn, platforms, after, limit, true).await
}

impl Read {
    /// Whether an incident's calls were read (all of them, or up to a cut).
    pub fn knows(&self, group: &Group) -> bool {
        self.cut.contains(group) || self.complete.contains(group)
    }

    /// Takes in what a [`read_page`] brought; returns the calls of the incidents it did not
    /// know. Those it knew (read before, or topped up since) stay as they are, and so do their
    /// calls: the page's may be stale.
    pub fn merge_page(&mut self, page: Read) -> Vec<Pending> {
        let calls = page
            .calls
            .into_iter()
            .filter(|c| !self.knows(&(c.tenant.clone(), c.incident_id)))
            .collect();
        for group in page.cut {
            if !self.knows(&group)
                && let Some(last) = page.upto.get(&group)
            {
                self.upto.insert(group.clone(), *last);
                self.cut.insert(group);
            }
        }
        for group in page.complete {
            if !self.knows(&group) {
                self.complete.insert(group);
            }
        }
        self.absent = page.absent;
        self.first_upto = page.first_upto;
        calls
    }

    /// An incident not read, one of whose calls came after the read while incidents were left
    /// out: it may have earlier ones, so it is read from its first call
    /// ([`super::pending_of`] past 0).
    pub fn unknown(&mut self, group: Group) {
        self.upto.insert(group.clone(), 0);
        self.cut.insert(group);
    }

    /// What a [`pending_shared_after`] brought: past them if it filled its limit, else every
    /// such post pending is read.
    pub fn shared_topped_up(&mut self, calls: &[Pending], limit: i64) {
        let full = calls.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        match calls.last() {
            Some(last) if full => self.shared_upto = last.id,
            _ => {
                self.shared_cut = false;
                self.shared_upto = 0;
            }
        }
    }
}
