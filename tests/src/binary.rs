//! The real `klaxon` binary for tests and benches that run it as a process, built once per run.
//!
//! Cargo runs a test with its own package's `CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and similar
//! variables set. A nested `cargo build` inherits them, and build scripts that read them see a
//! changed environment, so without clearing them every test run rebuilt the binary's
//! dependencies from scratch (minutes on a small machine).

use std::path::PathBuf;
use std::sync::OnceLock;

/// Variables Cargo sets for the process it runs (a test, a bench), not for the user's build.
fn set_by_cargo_for_the_running_target(name: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_EXE_",
        "CARGO_CRATE_",
        "CARGO_CFG_",
    ];
    const NAMES: [&str; 5] = [
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
        "CARGO_BIN_NAME",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

fn build(release: bool) -> PathBuf {
    let mut build = escargot::CargoBuild::new().package("klaxon").bin("klaxon");
    if release {
        build = build.release();
    }
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(set_by_cargo_for_the_running_target)
        {
            build = build.env_remove(name);
        }
    }
    build
        .run()
        .expect("build the klaxon binary")
        .path()
        .to_path_buf()
}

/// The test-profile binary, built once for the whole test run.
pub fn klaxon() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build(false)).clone()
}

/// The variable that points the benches at another `klaxon` binary (one built from an earlier
/// commit, to compare before and after on the same machine).
pub const BENCH_BIN: &str = "KLAXON_BENCH_BIN";

/// The release binary, built once (benches measure this one), or the one [`BENCH_BIN`] names.
pub fn klaxon_release() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os(BENCH_BIN) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => build(true),
    })
    .clone()
}
