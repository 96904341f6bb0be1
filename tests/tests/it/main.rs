//! Klaxon's one integration-test binary.

mod alerts;
mod archive;
mod cli;
mod discord;
mod discord_doctor;
mod discord_guilds;
mod discord_limits;
mod doctor;
mod drills;
mod engine;
mod fake_discord;
mod floors;
mod guardrails;
mod hardening;
mod lanes;
mod oncall;
mod ops;
mod outbox;
mod postmortem;
mod reminders;
mod runbooks;
mod slack;
mod slack_fake;
mod slack_manifest;
mod slack_rules;
mod web;
