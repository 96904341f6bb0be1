//! Discord against the fake Discord, one file per concern: `commands.rs` (registration, the
//! scenario as typed options, refusals, escaping), `buttons.rs`, `resilience.rs` (deferrals,
//! reconnects, rate limits, restarts), `endpoint.rs` (the signed HTTP endpoint), `capture.rs`
//! (messages to the timeline), `posts.rs` (private incidents, the postmortem attachment). Klaxon
//! is spawned with `klaxon_tests::spawn`; the steps these files share are in
//! `klaxon_tests::spawn::discord`.

mod buttons;
mod capture;
mod commands;
mod endpoint;
mod posts;
mod resilience;
