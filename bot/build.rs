//! Rebuilds the crate when a migration is added, so `sqlx::migrate!` embeds it; and, for a
//! release build on Linux, links `klaxon` with packed relative relocations.
//!
//! A position-independent binary (for address-space randomisation) carries one relocation per
//! pointer in its read-only data, about 70 000 here: 1.7 MB of `.rela.dyn` that the loader
//! reads at every start. `-z pack-relative-relocs` (GNU ld 2.38, glibc 2.36) stores them as
//! bitmaps of a few kilobytes; the binary stays position-independent. Measured: the binary
//! 1.6 MB smaller, idle about 0.25 MB less resident as the console and 1.2-2 MiB less with
//! the Slack or Discord adapter running, CPU per declare unchanged (BENCHMARKS.md). A linker
//! without the option ignores it with a warning.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let gnu_linux = std::env::var("TARGET").is_ok_and(|t| t.ends_with("-linux-gnu"));
    if release && gnu_linux {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
