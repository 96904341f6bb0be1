//! Klaxon, the incident-response bot: configuration, the incident engine, the outbox that makes
//! platform calls, all SQL, and the command-line interface.
//!
//! `main` is thin: [`cli::main`] parses arguments and calls into [`app`], which wires a
//! [`store::Store`], a [`clock::Clock`], the [`engine::Engine`] and the adapters together.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod feeds;
pub mod files;
pub mod gateway;
pub mod http;
pub mod leader;
pub mod lock;
pub mod metrics;
pub mod oncall;
pub mod outbox;
pub mod replica;
pub mod report;
pub mod retention;
pub mod runbooks;
pub mod scheduler;
pub mod slack_setup;
pub mod store;
pub mod supervise;
pub mod wakeups;
pub mod web;
