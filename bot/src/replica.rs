//! This process's replica id: who holds a claim (an outbox call's lease) in a database that
//! several Klaxon processes share.

use std::sync::OnceLock;

/// The variable that gives a replica a stable id (the pod name of a StatefulSet, a host
/// name): a process restarted under the same id takes over its predecessor's claims at once
/// instead of waiting for their leases. Two live processes must never share one.
pub const VARIABLE: &str = "KLAXON_REPLICA_ID";

/// This process's id, the same for its whole life: [`VARIABLE`] when set, otherwise
/// `host-pid-suffix` (the host name, or `klaxon` when it has none; a random suffix, so that a
/// pid reused after a restart, or the same pid in another container, is still another replica).
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        if let Some(id) = std::env::var(VARIABLE)
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
        {
            return id;
        }
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "klaxon".to_owned());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}-{}-{}", std::process::id(), &suffix[..6])
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_id_names_the_process_and_stays_the_same() {
        let id = super::id();
        if std::env::var_os(super::VARIABLE).is_none() {
            assert!(id.contains(&format!("-{}-", std::process::id())), "{id}");
        }
        assert_eq!(id, super::id());
    }
}
