//! Fuzzes Slack's JSON payloads (interactions, form submissions, Events API callbacks, the same
//! over HTTP and Socket Mode): each is read or ignored, never a panic.
#![no_main]

use klaxon_slack::{events, interaction, modal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = interaction::invocation(&payload);
    let _ = modal::submission(&payload);
    let _ = events::parse(&payload, "pushpin");
    let _ = events::parse(&payload, "");
});
