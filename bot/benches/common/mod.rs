//! What the benches share: their size argument, a throwaway store, and reading the process's
//! memory from /proc (Linux).

/// Resident memory of this process, in MiB.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The first numeric argument (`cargo bench … -- 2000`), or `default`.
pub fn size(default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(default)
}

/// A fresh database in a temporary folder (kept alive by the returned guard).
pub async fn temp_store() -> anyhow::Result<(tempfile::TempDir, klaxon::store::Store)> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let store = klaxon::store::Store::open(db.to_str().unwrap_or("bench.db")).await?;
    Ok((dir, store))
}
