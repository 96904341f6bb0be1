//! Scenario scripts: the same `/inc` lines run against every adapter.

/// The foundation scenario's command lines (comments and blank lines dropped).
pub fn foundation() -> Vec<&'static str> {
    lines(include_str!("../scenarios/foundation.txt"))
}

/// The raw text of the foundation scenario, for piping into the console.
pub const FOUNDATION: &str = include_str!("../scenarios/foundation.txt");

pub fn lines(script: &'static str) -> Vec<&'static str> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}
