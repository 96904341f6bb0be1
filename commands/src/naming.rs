//! Incident channel names: `inc-YYYY-MM-DD-<slug>`, fitted to the platform's limit.
//!
//! The slug comes from the title: ASCII-folded, lowercased, only `a-z0-9-`, dashes collapsed,
//! cut on a word boundary so the name plus a collision suffix (`-2` … `-99`) fits the limit.

use chrono::NaiveDate;

/// Room kept at the end of every name for a collision suffix such as `-99`.
const SUFFIX_ROOM: usize = 3;

/// The base channel name for an incident declared on `date` (UTC) with `title`.
pub fn channel_name(prefix: &str, date: NaiveDate, title: &str, limit: usize) -> String {
    let head = format!("{prefix}-{}", date.format("%Y-%m-%d"));
    let room = limit.saturating_sub(head.len() + 1 + SUFFIX_ROOM);
    let slug = slug(title, room);
    let slug = if slug.is_empty() { "incident" } else { &slug };
    format!("{head}-{slug}")
}

/// The `n`th candidate for a base name: `n = 1` is the name itself, then `-2`, `-3`, … The
/// result never exceeds `limit`: the base is cut back (on a dash where it can be) to make room.
pub fn with_suffix(base: &str, n: u32, limit: usize) -> String {
    if n <= 1 {
        return cut(base, limit).to_owned();
    }
    let suffix = format!("-{n}");
    let room = limit.saturating_sub(suffix.len());
    let mut head = cut(base, room);
    if head.len() < base.len() {
        head = head.trim_end_matches('-');
    }
    format!("{head}{suffix}")
}

/// Lowercase ASCII words joined by single dashes, at most `max` bytes, cut between words.
pub fn slug(title: &str, max: usize) -> String {
    let folded = deunicode::deunicode(title).to_ascii_lowercase();
    let mut out = String::new();
    for word in folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let needed = if out.is_empty() {
            word.len()
        } else {
            word.len() + 1
        };
        if out.len() + needed > max {
            if out.is_empty() {
                // A single word longer than the room: cut it rather than lose the slug.
                out.push_str(&word[..max.min(word.len())]);
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

fn cut(s: &str, max: usize) -> &str {
    // Names are ASCII by construction, so any byte index is a char boundary; be safe anyway.
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date")
    }

    #[test]
    fn simple_title() {
        assert_eq!(
            channel_name("inc", day(), "Checkout API returning 500s", 80),
            "inc-2026-11-23-checkout-api-returning-500s"
        );
    }

    #[test]
    fn folds_unicode_and_punctuation() {
        assert_eq!(
            channel_name("inc", day(), "Café / Zürich — DB down!!", 80),
            "inc-2026-11-23-cafe-zurich-db-down"
        );
        assert_eq!(
            channel_name("inc", day(), "@everyone <!channel> **x**", 80),
            "inc-2026-11-23-everyone-channel-x"
        );
    }

    #[test]
    fn empty_slug_becomes_incident() {
        assert_eq!(
            channel_name("inc", day(), "—", 80),
            "inc-2026-11-23-incident"
        );
        // Emoji are folded to their names rather than lost.
        assert_eq!(
            channel_name("inc", day(), "🔥 db", 80),
            "inc-2026-11-23-fire-db"
        );
        assert_eq!(
            channel_name("inc", day(), "!!!", 80),
            "inc-2026-11-23-incident"
        );
    }

    #[test]
    fn cut_on_word_boundary_with_room_for_suffix() {
        let title = "database primary failover stuck waiting for replication lag to recover on all shards in every region";
        for limit in [80, 100] {
            let name = channel_name("inc", day(), title, limit);
            assert!(name.len() + SUFFIX_ROOM <= limit, "{name}");
            assert!(!name.ends_with('-'), "{name}");
            assert!(title.contains(&name[15..].replace('-', " ")), "{name}");
            assert!(with_suffix(&name, 99, limit).len() <= limit);
        }
        assert_eq!(
            channel_name("inc", day(), title, 80),
            "inc-2026-11-23-database-primary-failover-stuck-waiting-for-replication-lag-to"
        );
    }

    #[test]
    fn one_huge_word_is_cut() {
        let name = channel_name("inc", day(), &"a".repeat(500), 80);
        assert_eq!(name.len(), 80 - SUFFIX_ROOM);
    }

    #[test]
    fn suffixes() {
        let base = "inc-2026-11-23-checkout";
        assert_eq!(with_suffix(base, 1, 80), base);
        assert_eq!(with_suffix(base, 2, 80), "inc-2026-11-23-checkout-2");
        assert_eq!(with_suffix(base, 10, 80), "inc-2026-11-23-checkout-10");
        assert_eq!(with_suffix(base, 100, 25), "inc-2026-11-23-checko-100");
        assert!(with_suffix(base, 1000, 25).len() <= 25);
    }
}
