//! `[postmortem]`: when a postmortem is due and which template renders its draft.

use serde::Deserialize;

/// `[postmortem]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostmortemConfig {
    /// The postmortem is due this many business days after resolution (reminders one business
    /// day before, and every business day once overdue, until `/inc postmortem done`).
    #[serde(deserialize_with = "due_business_days")]
    pub due_business_days: u32,
    /// A MiniJinja template to render drafts with, instead of the built-in one
    /// (`bot/templates/postmortem.md.j2` shows every variable). Relative to the working directory.
    pub template: Option<std::path::PathBuf>,
}

impl Default for PostmortemConfig {
    fn default() -> Self {
        Self {
            due_business_days: 5,
            template: None,
        }
    }
}

fn due_business_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let days = u32::deserialize(d)?;
    if (1..=60).contains(&days) {
        Ok(days)
    } else {
        Err(serde::de::Error::custom(
            "postmortem.due_business_days must be 1 to 60",
        ))
    }
}

impl PostmortemConfig {
    /// What the file alone cannot say: the template exists.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if let Some(path) = &self.template {
            anyhow::ensure!(
                path.is_file(),
                "postmortem.template: no file at {}",
                path.display()
            );
        }
        Ok(())
    }
}
