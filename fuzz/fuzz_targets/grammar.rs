//! Fuzzes the command grammar: any text after `/inc`, on every platform, is a `Command` or a
//! `UserError` with something to read, never a panic.
#![no_main]

use klaxon_commands::PlatformKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for platform in [
        PlatformKind::Slack,
        PlatformKind::Discord,
        PlatformKind::Console,
    ] {
        if let Err(e) = klaxon_commands::parse(text, platform) {
            assert!(
                !e.to_string().trim().is_empty(),
                "an empty refusal for {text:?}"
            );
        }
    }
});
