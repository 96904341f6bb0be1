//! Fuzzes Discord's interaction parser: any body is decoded by serenity or refused, and a
//! decoded interaction is planned (an invocation, an answer or nothing) without a panic; an
//! answer Klaxon gives by itself is never empty and notifies nobody.
#![no_main]

use klaxon_discord::interaction::{Plan, plan};
use libfuzzer_sys::fuzz_target;
use serenity::all::Interaction;

fuzz_target!(|data: &[u8]| {
    let Ok(interaction) = serde_json::from_slice::<Interaction>(data) else {
        return;
    };
    if let Plan::Respond(response) = plan(&interaction) {
        let json = serde_json::to_value(&response).expect("the answer encodes");
        if let Some(content) = json["data"]["content"].as_str() {
            assert!(!content.trim().is_empty(), "an empty answer: {json}");
            let allowed = &json["data"]["allowed_mentions"];
            assert_eq!(allowed["parse"], serde_json::json!([]), "{json}");
        }
    }
});
