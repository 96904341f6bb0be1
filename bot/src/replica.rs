//! This process' name among the replicas sharing one database: the host's name, the process
//! id and a short random suffix (a restarted process in the same container, with the same pid,
//! is still another replica), fixed for the life of the process.

use std::sync::OnceLock;

/// This replica's id, e.g. `klaxon-7d9f-2:1:3fa2c1`.
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "klaxon".to_owned());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}:{}:{}", std::process::id(), &suffix[..6])
    })
}
