//! Dispatch agrees with the grammar on where each command works. `commands/` declares a scope
//! per command (`Spec::scope`, and `Command::scope` for a parsed one); the engine's dispatch has
//! one arm per command, and an incident's arm looks the incident up first. For every command's
//! own example: one whose scope is `Incident` is refused outside an incident's channel, with
//! the same words, and changes nothing; inside one it reaches its action. One whose scope is
//! `Anywhere` is never refused for want of an incident.

use klaxon_commands::command::{Scope, specs};
use klaxon_commands::{PlatformKind, ReplyKind};
use klaxon_tests::TestBot;

/// What an incident's arm answers outside an incident's channel.
fn refused_for_want_of_an_incident(text: &str) -> bool {
    text.contains("works in an incident's channel")
}

/// Each command's example, and the other subcommands whose scope differs from their
/// command's (`runbook start` needs an incident; `runbook list` and `show` do not).
fn lines() -> Vec<&'static str> {
    let mut lines: Vec<&str> = specs().iter().map(|s| s.example).collect();
    lines.extend(["/inc runbook list", "/inc runbook show api-5xx"]);
    lines
}

#[test]
fn every_spec_example_parses_to_a_command_of_the_specs_scope() {
    for spec in specs() {
        let command = klaxon_commands::command::parse(spec.example, PlatformKind::Console)
            .unwrap_or_else(|e| panic!("{}: {}", spec.example, e.text()));
        // A command that works anywhere may have a subcommand that needs an incident
        // (`runbook start`); never the other way round.
        if spec.scope == Scope::Incident {
            assert_eq!(command.scope(), Scope::Incident, "{}", spec.example);
        }
    }
}

#[tokio::test]
async fn outside_an_incident_only_the_incident_commands_are_refused_and_they_change_nothing() {
    let bot = TestBot::start().await;
    for line in lines() {
        let command = klaxon_commands::command::parse(line, PlatformKind::Console)
            .unwrap_or_else(|e| panic!("{line}: {}", e.text()));
        if command.scope() != Scope::Incident {
            continue;
        }
        let before = bot.counts().await;
        let reply = bot.say("alice", "general", line).await;
        let text = reply.to_plain();
        assert_eq!(reply.kind, ReplyKind::UserError, "{line} → {text}");
        assert!(refused_for_want_of_an_incident(&text), "{line} → {text}");
        bot.settle().await;
        assert_eq!(bot.counts().await, before, "{line} changed something");
    }
    for line in lines() {
        let command = klaxon_commands::command::parse(line, PlatformKind::Console)
            .unwrap_or_else(|e| panic!("{line}: {}", e.text()));
        if command.scope() != Scope::Anywhere {
            continue;
        }
        let text = bot.say("alice", "general", line).await.to_plain();
        assert!(!refused_for_want_of_an_incident(&text), "{line} → {text}");
    }
}

#[tokio::test]
async fn inside_an_incident_every_incident_command_reaches_its_action() {
    let bot = TestBot::start().await;
    let declared = bot
        .say("alice", "general", "/inc declare sev2 Checkout errors")
        .await;
    assert_eq!(declared.kind, ReplyKind::Ok, "{}", declared.to_plain());
    bot.settle().await;
    let channel = bot.channel_of(1).await;
    for line in lines() {
        let command = klaxon_commands::command::parse(line, PlatformKind::Console)
            .unwrap_or_else(|e| panic!("{line}: {}", e.text()));
        if command.scope() != Scope::Incident {
            continue;
        }
        let text = bot.say("alice", &channel, line).await.to_plain();
        assert!(!refused_for_want_of_an_incident(&text), "{line} → {text}");
    }
}
