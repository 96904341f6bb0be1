//! The `klaxon` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    klaxon::cli::main()
}
