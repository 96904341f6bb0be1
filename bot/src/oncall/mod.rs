//! On-call schedules as files (`oncall/*.toml`): layers of rotations in their own time zones,
//! checked with file:line errors, and the rota they give (who is on call when, and the gaps).
//!
//! The schema is documented in README.md ("On-call schedules"); `oncall/*.toml` are examples.

pub mod calendar;
pub mod file;
pub mod rotation;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use klaxon_commands::ScheduleRef;

pub use crate::config::{TIER_PREFIX, Tier};
pub use crate::files::Problem;
pub use rotation::{Cover, Layer, Length, Shift};

/// How far ahead `klaxon oncall check` and the run-time checks look for gaps.
pub const GAP_HORIZON: Duration = Duration::days(90);

/// One schedule: its layers (primary, secondary…), each an independent rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The file's stem: `payments` for `oncall/payments.toml`.
    pub name: String,
    pub file: PathBuf,
    /// Times with nobody on call are expected, so they are not problems.
    pub allow_gaps: bool,
    pub layers: Vec<Layer>,
}

impl Schedule {
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The spans of `[from, to)` in which no layer has anyone, covers included.
    pub fn gaps(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        covers: &BTreeMap<String, Vec<Cover>>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let layers: Vec<Vec<Shift>> = self
            .layers
            .iter()
            .map(|l| l.shifts(from, to, covers.get(&l.name).map_or(&[], Vec::as_slice)))
            .collect();
        rotation::gaps(from, to, &layers)
    }
}

/// Every loaded schedule, by name.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    pub by_name: BTreeMap<String, Schedule>,
}

impl Schedules {
    /// Every schedule's layers as `schedule/layer`, in name order and each schedule's layer
    /// order (its first layer, the one a bare schedule name means, first): the choices a
    /// declare form offers.
    pub fn choices(&self) -> Vec<String> {
        self.by_name
            .values()
            .flat_map(|s| s.layers.iter().map(|l| format!("{}/{}", s.name, l.name)))
            .collect()
    }

    /// Loads every `*.toml` in `dir`, in name order. Files with problems are skipped and their
    /// problems returned; a missing folder holds no schedules.
    pub fn load_dir(dir: &Path) -> (Self, Vec<Problem>) {
        let mut schedules = Self::default();
        let mut problems = Vec::new();
        for (path, text) in crate::files::toml_files(dir) {
            match text.map(|t| file::parse(&path, &t)) {
                Ok(Ok(schedule)) => {
                    schedules.by_name.insert(schedule.name.clone(), schedule);
                }
                Ok(Err(mut p)) => problems.append(&mut p),
                Err(p) => problems.push(p),
            }
        }
        (schedules, problems)
    }

    /// Gaps in the next `GAP_HORIZON` after `now` in every schedule that does not allow them,
    /// as problems at the top of the schedule's file.
    pub fn gap_problems(&self, now: DateTime<Utc>) -> Vec<Problem> {
        let to = now.checked_add_signed(GAP_HORIZON).unwrap_or(now);
        self.by_name
            .values()
            .filter(|s| !s.allow_gaps)
            .flat_map(|s| {
                s.gaps(now, to, &BTreeMap::new())
                    .into_iter()
                    .map(move |(a, b)| {
                        Problem::at_top(
                            &s.file,
                            format!(
                                "nobody is on call from {} to {} (set allow_gaps = true if that is intended)",
                                utc(a),
                                utc(b)
                            ),
                        )
                    })
            })
            .collect()
    }
}

impl Schedules {
    /// The schedule and layer a reference names (the schedule's first layer without one), or
    /// why not.
    pub fn find(&self, r: &ScheduleRef) -> Result<(&Schedule, &Layer), String> {
        let Some(schedule) = self.by_name.get(&r.schedule) else {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            return Err(format!(
                "no schedule `{}` is loaded (loaded: {}; `klaxon oncall check` shows why a file is not)",
                r.schedule,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        };
        let layer = match &r.layer {
            None => schedule.layers.first(),
            Some(name) => schedule.layer(name),
        };
        layer.map(|l| (schedule, l)).ok_or_else(|| {
            let layers: Vec<&str> = schedule.layers.iter().map(|l| l.name.as_str()).collect();
            format!(
                "`{}` has no layer `{}` (layers: {})",
                schedule.name,
                r.layer.as_deref().unwrap_or_default(),
                layers.join(", ")
            )
        })
    }

    /// Every escalation tier of `config` that names a schedule layer not loaded here, as a
    /// line naming the table, the severity and the tier.
    pub fn tier_problems(&self, config: &crate::config::Config) -> Vec<String> {
        let mut out = Vec::new();
        for (table, escalation) in config.escalation_tables() {
            for (severity, tiers) in escalation.lists() {
                for (n, raw) in (1..).zip(tiers) {
                    let problem = match Tier::parse(raw) {
                        Ok(Tier::Mention(_)) => continue,
                        Ok(Tier::Layer(r)) => match self.find(&r) {
                            Ok(_) => continue,
                            Err(why) => why,
                        },
                        Err(why) => why,
                    };
                    out.push(format!("{table} {severity}, tier {n} ({raw:?}): {problem}"));
                }
            }
        }
        out
    }
}

/// A UTC instant as shown to people: `2026-12-07 09:00 UTC`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The rota of `schedule` over `[from, to)`: per layer, each shift with its UTC span, the local
/// time of its handoff in the layer's zone, and who holds it; covers are marked; gaps last.
pub fn rota(
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    covers: &BTreeMap<String, Vec<Cover>>,
) -> String {
    let mut out = String::new();
    for layer in &schedule.layers {
        let zone = layer.rotation.zone;
        let _ = writeln!(out, "{}/{} ({zone})", schedule.name, layer.name);
        let shifts = layer.shifts(from, to, covers.get(&layer.name).map_or(&[], Vec::as_slice));
        if shifts.is_empty() {
            let _ = writeln!(out, "  nobody");
        }
        for s in shifts {
            let local = s.start.with_timezone(&zone).format("%a %H:%M");
            let _ = writeln!(
                out,
                "  {} → {}  ({local} local)  {}{}",
                utc(s.start),
                utc(s.end),
                s.person,
                if s.covering { "  (cover)" } else { "" }
            );
        }
    }
    let gaps = schedule.gaps(from, to, covers);
    if !gaps.is_empty() {
        let _ = writeln!(out, "gaps (nobody on call)");
        for (a, b) in gaps {
            let _ = writeln!(out, "  {} → {}", utc(a), utc(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn schedule(text: &str) -> Schedule {
        file::parse(Path::new("oncall/web.toml"), text).unwrap_or_else(|p| panic!("{p:?}"))
    }

    const BUSINESS_ONLY: &str = r#"
[[layers]]
name = "primary"
participants = ["alice", "bob"]
rotation = "weekly"
start = "2027-01-04"
time_zone = "Europe/Paris"
[layers.restrict]
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-18:00"
"#;

    #[test]
    fn a_business_hours_only_schedule_has_gaps_and_the_check_reports_the_first() {
        let s = schedule(BUSINESS_ONLY);
        let gaps = s.gaps(
            at("2027-01-04T00:00:00Z"),
            at("2027-01-05T00:00:00Z"),
            &BTreeMap::new(),
        );
        assert_eq!(
            gaps,
            [
                (at("2027-01-04T00:00:00Z"), at("2027-01-04T08:00:00Z")),
                (at("2027-01-04T17:00:00Z"), at("2027-01-05T00:00:00Z")),
            ]
        );
        let schedules = Schedules {
            by_name: BTreeMap::from([(s.name.clone(), s)]),
        };
        let problems = schedules.gap_problems(at("2027-01-04T12:00:00Z"));
        assert_eq!(
            problems[0].to_string(),
            "oncall/web.toml:1:1: nobody is on call from 2027-01-04 17:00 UTC to 2027-01-05 08:00 UTC (set allow_gaps = true if that is intended)"
        );
    }

    #[test]
    fn allowed_gaps_are_not_problems() {
        let s = schedule(&format!("allow_gaps = true\n{BUSINESS_ONLY}"));
        let schedules = Schedules {
            by_name: BTreeMap::from([(s.name.clone(), s)]),
        };
        assert!(
            schedules
                .gap_problems(at("2027-01-04T12:00:00Z"))
                .is_empty()
        );
    }

    #[test]
    fn a_second_layer_fills_the_first_ones_gaps() {
        let s = schedule(&format!(
            "{BUSINESS_ONLY}\n[[layers]]\nname = \"secondary\"\nparticipants = [\"carol\"]\nrotation = \"daily\"\nstart = \"2027-01-01\"\n"
        ));
        assert!(
            s.gaps(
                at("2027-01-04T00:00:00Z"),
                at("2027-02-04T00:00:00Z"),
                &BTreeMap::new()
            )
            .is_empty()
        );
    }

    #[test]
    fn the_rota_lists_shifts_in_utc_with_the_local_handoff_and_marks_covers() {
        let s = schedule(BUSINESS_ONLY);
        let covers = BTreeMap::from([(
            "primary".to_owned(),
            vec![Cover {
                person: "carol".into(),
                start: at("2027-01-04T10:00:00Z"),
                end: at("2027-01-04T12:00:00Z"),
            }],
        )]);
        let text = rota(
            &s,
            at("2027-01-04T00:00:00Z"),
            at("2027-01-05T00:00:00Z"),
            &covers,
        );
        assert_eq!(
            text,
            "web/primary (Europe/Paris)\n\
             \x20 2027-01-04 08:00 UTC → 2027-01-04 10:00 UTC  (Mon 09:00 local)  alice\n\
             \x20 2027-01-04 10:00 UTC → 2027-01-04 12:00 UTC  (Mon 11:00 local)  carol  (cover)\n\
             \x20 2027-01-04 12:00 UTC → 2027-01-04 17:00 UTC  (Mon 13:00 local)  alice\n\
             gaps (nobody on call)\n\
             \x20 2027-01-04 00:00 UTC → 2027-01-04 08:00 UTC\n\
             \x20 2027-01-04 17:00 UTC → 2027-01-05 00:00 UTC\n"
        );
    }

    #[test]
    fn escalation_tiers_that_name_schedules_are_checked_against_the_loaded_ones() {
        let s = schedule(BUSINESS_ONLY);
        let schedules = Schedules {
            by_name: BTreeMap::from([(s.name.clone(), s)]),
        };
        let config = crate::config::Config::parse(
            "[escalation]\ndefault = [\"schedule:web\", \"@ops\"]\nsev1 = [\"schedule:web/primary\", \"schedule:payments/primary\", \"schedule:web/night\"]",
        )
        .expect("config");
        assert_eq!(
            schedules.tier_problems(&config),
            [
                "[escalation] sev1, tier 2 (\"schedule:payments/primary\"): no schedule `payments` is loaded (loaded: web; `klaxon oncall check` shows why a file is not)",
                "[escalation] sev1, tier 3 (\"schedule:web/night\"): `web` has no layer `night` (layers: primary)",
            ]
        );
        let bad = crate::config::Config::parse("[escalation]\nsev2 = [\"schedule:Pay ments\"]")
            .unwrap_err();
        assert!(
            format!("{bad:#}").contains(
                "escalation: \"schedule:Pay ments\" must name a schedule layer like \"schedule:payments/primary\""
            ),
            "{bad:#}"
        );
    }

    #[test]
    fn the_example_schedules_are_valid_and_leave_no_gap() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../oncall");
        let (schedules, problems) = Schedules::load_dir(&dir);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!schedules.by_name.is_empty());
        assert!(
            schedules
                .gap_problems(at("2027-01-04T00:00:00Z"))
                .is_empty()
        );
    }
}
