//! Fuzzes Slack's slash-command edge: any form body is read into an `Invocation` or refused,
//! and any signature and timestamp are checked without a panic and never accepted unsigned.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = serde_urlencoded::from_bytes::<klaxon_slack::SlashCommand>(data) {
        let _ = command.invocation();
    }
    // The first line is the timestamp, the second the signature, the rest the body.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (timestamp, signature, body) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
    let verified = klaxon_slack::verify(
        "8f742231b10e8888abcd99yyyzzz85a5",
        signature,
        timestamp,
        body,
    );
    assert!(verified.is_err(), "a forged request was accepted: {text:?}");
});
