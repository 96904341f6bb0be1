//! `[[checklist]]`: the first-15-minutes checklist posted at declare, and its default.

use klaxon_commands::Duration;
use serde::Deserialize;

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    #[serde(deserialize_with = "item_text")]
    pub text: String,
    /// How long after declaration it should be done; an open item gets one nudge then.
    pub due: Option<Duration>,
    /// A command that ticks it by itself: `declare`, `ack`, `lead` or `update`.
    pub ticked_by: Option<Trigger>,
}

fn item_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() || text.chars().count() > 200 {
        return Err(serde::de::Error::custom(
            "checklist: item text must be 1-200 characters",
        ));
    }
    Ok(text)
}

/// `[[checklist]]`: at most 30 items.
pub(super) fn at_most_30<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<ChecklistItem>>, D::Error> {
    let items = Vec::<ChecklistItem>::deserialize(d)?;
    if items.len() > 30 {
        return Err(serde::de::Error::custom("checklist: at most 30 items"));
    }
    Ok(Some(items))
}

/// Events that tick checklist items by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Declare,
    Ack,
    Lead,
    Update,
}

/// The default checklist, after the seeds' first-15-minutes list.
pub fn default_checklist() -> Vec<ChecklistItem> {
    let item = |text: &str, mins: u64, ticked_by: Option<Trigger>| ChecklistItem {
        text: text.to_owned(),
        due: Some(Duration::from_secs(mins * 60)),
        ticked_by,
    };
    vec![
        item("Acknowledge the page", 2, Some(Trigger::Ack)),
        item("Open the incident channel", 2, Some(Trigger::Declare)),
        item(
            "Classify severity; for SEV1/SEV2 name an incident commander",
            5,
            Some(Trigger::Lead),
        ),
        item(
            "Capture the alert payload, the last deploy and the top failing endpoints",
            8,
            None,
        ),
        item(
            "Choose a mitigation: roll back, fail over, or disable the broken dependency",
            12,
            None,
        ),
        item(
            "Post the chosen mitigation with /inc update",
            15,
            Some(Trigger::Update),
        ),
    ]
}
