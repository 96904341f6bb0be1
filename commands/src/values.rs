//! Validated domain values: severity, status, role, title, free text and durations.
//!
//! Raw strings stop here: each type has a `parse` that returns the value or a [`UserError`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::UserError;

/// Longest title accepted, in characters: long enough for any real headline, short enough to fit
/// a channel topic and a phone screen.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest update or note accepted, in characters: a post must fit Discord's 2000-character
/// message limit with Klaxon's own prefix.
pub const MAX_TEXT_CHARS: usize = 1800;

/// Longest duration accepted from a person (or the config file), in seconds: a year and a day.
/// Nothing Klaxon schedules is further away, and any time plus this stays far inside what
/// Klaxon can store and compute with.
pub const MAX_DURATION_SECS: u64 = 366 * 86_400;

/// Incident severity, SEV1 (worst) to SEV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Sev1, Self::Sev2, Self::Sev3, Self::Sev4];

    /// Accepts `sev1`, `SEV-1`, `sev_1`, `s1` and `1`, in any case.
    pub fn parse(word: &str) -> Result<Self, UserError> {
        Self::from_word(word).ok_or_else(|| {
            UserError::new(format!(
                "`{}` is not a severity. Use 1–4 (e.g. `sev1`, `SEV-2`, `3`).",
                shorten(word, 20)
            ))
        })
    }

    /// The severity a word names, or `None` when it names none (used to tell an optional
    /// severity from the first word of a title).
    pub fn from_word(word: &str) -> Option<Self> {
        let lower = word.to_ascii_lowercase();
        let digits = lower
            .strip_prefix("sev")
            .or_else(|| lower.strip_prefix('s'))
            .unwrap_or(&lower);
        let digits = digits.strip_prefix(['-', '_']).unwrap_or(digits);
        match digits {
            "1" => Some(Self::Sev1),
            "2" => Some(Self::Sev2),
            "3" => Some(Self::Sev3),
            "4" => Some(Self::Sev4),
            _ => None,
        }
    }

    pub fn level(self) -> u8 {
        match self {
            Self::Sev1 => 1,
            Self::Sev2 => 2,
            Self::Sev3 => 3,
            Self::Sev4 => 4,
        }
    }

    pub fn from_level(level: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| i64::from(s.level()) == level)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", self.level())
    }
}

impl From<Severity> for String {
    fn from(s: Severity) -> Self {
        s.to_string()
    }
}

impl TryFrom<String> for Severity {
    type Error = UserError;
    fn try_from(s: String) -> Result<Self, UserError> {
        Self::parse(&s)
    }
}

/// Where an incident stands: the four states of the seeds' handoff template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Triage,
    Contained,
    Recovering,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Self::Triage,
        Self::Contained,
        Self::Recovering,
        Self::Resolved,
    ];

    pub fn parse(word: &str) -> Result<Self, UserError> {
        let lower = word.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == lower)
            .ok_or_else(|| {
                UserError::new(format!(
                    "`{}` is not a status. Use one of: triage, contained, recovering, resolved.",
                    shorten(word, 20)
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::Contained => "contained",
            Self::Recovering => "recovering",
            Self::Resolved => "resolved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A responder role on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Incident commander: owns decisions and the update cadence.
    Ic,
    /// Communications lead: stakeholders and status page.
    Comms,
    /// Keeps the timeline.
    Scribe,
    /// Operations lead: hands on keyboards.
    Ops,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Ic, Self::Comms, Self::Scribe, Self::Ops];

    pub fn parse(word: &str) -> Result<Self, UserError> {
        let lower = word.to_ascii_lowercase();
        let role = match lower.as_str() {
            "ic" | "commander" | "lead" => Some(Self::Ic),
            "comms" | "comm" | "communications" => Some(Self::Comms),
            "scribe" => Some(Self::Scribe),
            "ops" | "operations" => Some(Self::Ops),
            _ => None,
        };
        role.ok_or_else(|| {
            UserError::new(format!(
                "`{}` is not a role. Use one of: ic, comms, scribe, ops.",
                shorten(word, 20)
            ))
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ic => "ic",
            Self::Comms => "comms",
            Self::Scribe => "scribe",
            Self::Ops => "ops",
        }
    }

    /// How the role reads in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ic => "IC",
            Self::Comms => "Comms",
            Self::Scribe => "Scribe",
            Self::Ops => "Ops",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An incident title: one line, 1 to [`MAX_TITLE_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let text = clean(raw, false)?;
        if text.is_empty() {
            return Err(UserError::new(
                "An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`.",
            ));
        }
        let n = text.chars().count();
        if n > MAX_TITLE_CHARS {
            return Err(UserError::new(format!(
                "That title is {n} characters; the limit is {MAX_TITLE_CHARS}. Shorten it."
            )));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text for updates, notes and summaries: 1 to [`MAX_TEXT_CHARS`] characters; line breaks
/// are kept, other control characters refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text(String);

impl Text {
    /// `what` names the missing thing in the error, e.g. "an update".
    pub fn parse(raw: &str, what: &str, example: &str) -> Result<Self, UserError> {
        let text = clean(raw, true)?;
        if text.is_empty() {
            return Err(UserError::new(format!(
                "Say what {what} is, e.g. `{example}`."
            )));
        }
        let n = text.chars().count();
        if n > MAX_TEXT_CHARS {
            return Err(UserError::new(format!(
                "That text is {n} characters; the limit is {MAX_TEXT_CHARS}. Shorten it or split it."
            )));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A length of time written like `90s`, `15m`, `1h30m` or `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration(std::time::Duration);

impl Duration {
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let bad = || {
            UserError::new(format!(
                "`{}` is not a duration. Write it like `90s`, `15m` or `1h30m`.",
                shorten(raw, 20)
            ))
        };
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with(|c: char| !c.is_ascii_digit()) {
            return Err(bad());
        }
        let d = humantime::parse_duration(raw).map_err(|_| bad())?;
        if d.is_zero() || d.subsec_nanos() != 0 {
            return Err(bad());
        }
        if d.as_secs() > MAX_DURATION_SECS {
            return Err(UserError::new(format!(
                "`{}` is too long: the longest duration is 366 days (`366d`).",
                shorten(raw, 20)
            )));
        }
        Ok(Self(d))
    }

    pub fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl fmt::Display for Duration {
    /// Short human form: `45s`, `15m`, `1h30m`, `2d3h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_secs(self.0.as_secs()))
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> Self {
        d.to_string()
    }
}

impl TryFrom<String> for Duration {
    type Error = UserError;
    fn try_from(s: String) -> Result<Self, UserError> {
        Self::parse(&s)
    }
}

/// `3725` → `1h2m`: the two largest units, which is what a tired reader wants.
pub fn human_secs(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = secs;
    let mut parts = 0;
    for (size, unit) in UNITS {
        if rest >= size && parts < 2 {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
            parts += 1;
        } else if parts > 0 {
            // Units are only ever adjacent: `1h5s` would read as noise, so stop after a gap.
            break;
        }
    }
    out
}

/// Trims, turns tabs into spaces, and refuses control characters and the invisible and
/// direction characters of [`hides_or_reorders`], which could hide or reorder what other
/// responders read. Refusing (not stripping) tells the person, who can retype the text, what
/// was wrong; silently changing their words would not. Unicode's line and paragraph separators
/// (U+2028, U+2029) mean a line break, so they are one.
fn clean(raw: &str, allow_newlines: bool) -> Result<String, UserError> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        match c {
            '\t' => out.push(' '),
            '\r' => {}
            '\n' | '\u{2028}' | '\u{2029}' if allow_newlines => out.push('\n'),
            '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() => {
                return Err(UserError::new(
                    "That text contains control characters. Retype it without them.",
                ));
            }
            c if hides_or_reorders(c) => {
                return Err(UserError::new(format!(
                    "That text contains an invisible or direction-changing character (U+{:04X}). Retype it without it.",
                    u32::from(c)
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out.trim().to_owned())
}

/// Characters that show nothing, or change the direction of the text around them, so that
/// what a responder reads is not what was written: the bidirectional marks, embeddings,
/// overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width
/// spaces and joiners that join nothing (U+200B, U+2060–U+2064, U+FEFF, U+180E), the
/// deprecated format controls (U+206A–U+206F), the Hangul fillers that make blank-looking
/// names (U+115F, U+1160, U+3164, U+FFA0), the combining grapheme joiner (U+034F), Khmer's
/// invisible vowels (U+17B4, U+17B5) and the interlinear annotation marks (U+FFF9–U+FFFB).
///
/// Kept on purpose: the zero-width joiner and non-joiner (U+200C, U+200D), variation selectors
/// and tag characters, which emoji sequences and scripts such as Persian need, and the soft
/// hyphen, which only ever shows as a hyphen.
pub fn hides_or_reorders(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Cuts user input that is echoed inside an error message, so a 5 KB word stays a short reply.
pub(crate) fn shorten(word: &str, max: usize) -> String {
    if word.chars().count() <= max {
        word.to_owned()
    } else {
        let mut s: String = word.chars().take(max).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_spellings() {
        for word in ["sev1", "SEV1", "SEV-1", "sev_1", "s1", "S1", "1"] {
            assert_eq!(Severity::parse(word), Ok(Severity::Sev1), "{word}");
        }
        for word in ["sev5", "0", "sev", "s-", "", "one", "sev11"] {
            assert!(Severity::parse(word).is_err(), "{word}");
        }
        assert_eq!(Severity::Sev3.to_string(), "SEV3");
    }

    #[test]
    fn titles() {
        assert_eq!(Title::parse("  a\tb  ").map(|t| t.0), Ok("a b".to_owned()));
        assert!(Title::parse("").is_err());
        assert!(Title::parse("bell\u{7}").is_err());
        assert!(Title::parse("rtl\u{202E}txt").is_err());
        let long = "x".repeat(5_000);
        let err = Title::parse(&long).unwrap_err();
        assert_eq!(
            err.text(),
            "That title is 5000 characters; the limit is 200. Shorten it."
        );
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            Title::parse("@everyone <!channel> **x**").map(|t| t.0),
            Ok("@everyone <!channel> **x**".to_owned())
        );
    }

    #[test]
    fn text_keeps_newlines() {
        let t = Text::parse("line one\r\nline two", "a note", "/inc note x");
        assert_eq!(t.map(|t| t.0), Ok("line one\nline two".to_owned()));
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("90s").map(Duration::as_secs), Ok(90));
        assert_eq!(Duration::parse("15m").map(Duration::as_secs), Ok(900));
        assert_eq!(Duration::parse("1h30m").map(Duration::as_secs), Ok(5_400));
        assert_eq!(Duration::parse("1.5h").map(Duration::as_secs), Ok(5_400));
        for bad in ["", "m", "-5m", "0s", "15", "0.5s", "soon", "15q"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Duration::parse("366d").map(Duration::as_secs),
            Ok(MAX_DURATION_SECS)
        );
        assert_eq!(human_secs(5_400), "1h30m");
        assert_eq!(human_secs(3_605), "1h");
        assert_eq!(human_secs(59), "59s");
        assert_eq!(human_secs(90_061), "1d1h");
    }

    #[test]
    fn an_absurd_duration_is_refused_with_a_clear_message() {
        for absurd in ["300000y", "367d", "9999999999999h", "53w"] {
            let err = Duration::parse(absurd).expect_err(absurd);
            assert_eq!(
                err.text(),
                format!("`{absurd}` is too long: the longest duration is 366 days (`366d`).")
            );
        }
        // Beyond what humantime can count at all: not a duration.
        assert!(
            Duration::parse("99999999999999999999999y")
                .expect_err("overflow")
                .text()
                .contains("is not a duration")
        );
    }

    #[test]
    fn invisible_and_direction_characters_are_refused_in_titles_and_texts() {
        for c in [
            '\u{200B}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{202E}', '\u{2066}', '\u{2060}',
            '\u{FEFF}', '\u{3164}', '\u{180E}',
        ] {
            let title = format!("Checkout{c} errors");
            let err = Title::parse(&title).expect_err("refused");
            assert_eq!(
                err.text(),
                format!(
                    "That text contains an invisible or direction-changing character (U+{:04X}). Retype it without it.",
                    u32::from(c)
                )
            );
            assert!(
                Text::parse(&title, "a note", "/inc note x").is_err(),
                "{c:?}"
            );
        }
        // Line and paragraph separators are line breaks: kept as one in texts, a space in titles.
        assert_eq!(
            Text::parse("one\u{2028}two\u{2029}three", "a note", "/inc note x").map(|t| t.0),
            Ok("one\ntwo\nthree".to_owned())
        );
        assert_eq!(
            Title::parse("one\u{2028}two").map(|t| t.0),
            Ok("one two".to_owned())
        );
        // Emoji sequences and Persian need the joiners; they stay.
        for kept in ["👩\u{200D}💻 on call", "می\u{200C}خواهم", "❤\u{FE0F} ok"] {
            assert_eq!(Title::parse(kept).map(|t| t.0), Ok(kept.to_owned()));
        }
    }
}
