//! One process per database: `klaxon run` and `klaxon console` hold an exclusive OS file lock on
//! a sidecar file (`<database>.lock`) for as long as they run.
//!
//! Two processes on one SQLite file would both fire reminders and make platform calls, so the
//! second one refuses to start and names the first (its pid, host and start time, which the
//! holder writes into the lock file). The lock is the operating system's (`flock` through
//! `std::fs::File::try_lock`): it ends with the process however that ends, `kill -9` included,
//! so a crash never leaves a stale lock. The reading commands (`incidents`, `timeline`) take no
//! lock and work beside a running bot.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Held for the life of the process; dropping it releases the lock.
#[derive(Debug)]
pub struct ProcessLock {
    _file: File,
    path: PathBuf,
}

impl ProcessLock {
    /// Takes the lock of database `db` (a path or an `sqlite:` URL), or explains who holds
    /// it. An in-memory database needs none: `Ok(None)`.
    pub fn acquire(db: &str) -> anyhow::Result<Option<Self>> {
        let Some(database) = database_file(db) else {
            return Ok(None);
        };
        let path = lock_path(&database);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "a process that has not said who it is yet".to_owned()
                } else {
                    holder.to_owned()
                };
                anyhow::bail!(
                    "another Klaxon is already running on {}: {holder}. Stop it first: two \
                     processes on one database would both fire reminders and post them twice. \
                     (lock file: {})",
                    database.display(),
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        let who = format!(
            "pid {} on host {}, started {} (klaxon {})",
            std::process::id(),
            hostname(),
            crate::clock::long(chrono::Utc::now()),
            env!("CARGO_PKG_VERSION")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{who}"))
            .and_then(|()| file.flush())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(Self { _file: file, path }))
    }

    /// The sidecar file holding the lock.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of a database file: `klaxon.db` → `klaxon.db.lock`, beside it.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The file behind `--db`: a plain path, or the path of an `sqlite:` URL without its query;
/// `None` for an in-memory database and for a PostgreSQL URL (replicas share one: they claim
/// what they fire and make instead).
fn database_file(db: &str) -> Option<PathBuf> {
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let memory = db.contains("mode=memory");
    let server = db.starts_with("postgres://") || db.starts_with("postgresql://");
    (!path.is_empty() && path != ":memory:" && !memory && !server).then(|| PathBuf::from(path))
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "(unknown)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_locations_map_to_their_lock_files() {
        let file = |db: &str| database_file(db).map(|p| lock_path(&p));
        assert_eq!(file("klaxon.db"), Some(PathBuf::from("klaxon.db.lock")));
        assert_eq!(
            file("sqlite:///var/lib/klaxon/k.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/klaxon/k.db.lock"))
        );
        assert_eq!(file("sqlite:k.db"), Some(PathBuf::from("k.db.lock")));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("sqlite://x.db?mode=memory"), None);
        assert_eq!(file("postgres://klaxon@db/klaxon"), None);
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("k.db");
        let db = db.to_str().expect("utf-8");
        let first = ProcessLock::acquire(db).expect("first").expect("a file");
        let held = std::fs::read_to_string(first.path()).expect("lock file");
        assert!(
            held.starts_with(&format!("pid {} on host ", std::process::id())),
            "{held}"
        );
        // Another open file description of the same file cannot lock it, in this process as in
        // another one.
        let second = ProcessLock::acquire(db).expect_err("refused");
        let message = format!("{second:#}");
        assert!(
            message.starts_with(&format!(
                "another Klaxon is already running on {db}: pid {}",
                std::process::id()
            )),
            "{message}"
        );
        drop(first);
        assert!(ProcessLock::acquire(db).expect("free again").is_some());
    }
}
