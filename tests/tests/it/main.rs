//! Klaxon's one integration-test binary.

mod alerts;
mod cli;
mod discord;
mod doctor;
mod engine;
mod guardrails;
mod hardening;
mod ops;
mod outbox;
mod postmortem;
mod reminders;
mod runbooks;
mod slack;
mod slack_fake;
mod slack_rules;
