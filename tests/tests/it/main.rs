//! Klaxon's one integration-test binary.

mod cli;
mod discord;
mod engine;
mod outbox;
mod postmortem;
mod reminders;
mod runbooks;
mod slack;
