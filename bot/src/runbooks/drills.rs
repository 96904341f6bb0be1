//! Drills for the request renderer: properties over arbitrary parameter values (proptest), and
//! the checks that keep secrets out of `Debug` and out of reach.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;
use secrecy::SecretString;

use super::allow::AllowedHost;
use super::request::{self, EnvSecrets, IncidentVars, Secrets};
use super::{Catalog, parse};

const SECRET: &str = "s3cr3t-t0ken-value";

/// Any secret name answers the same value.
struct Every;

impl Secrets for Every {
    fn get(&self, _: &str) -> Option<SecretString> {
        Some(SecretString::from(SECRET))
    }
}

fn incident() -> IncidentVars {
    IncidentVars {
        key: "INC-1".into(),
        severity: "SEV1".into(),
        channel: "inc-x".into(),
    }
}

fn hosts(list: &[&str]) -> Vec<AllowedHost> {
    list.iter()
        .map(|h| AllowedHost::parse(h).expect("entry"))
        .collect()
}

/// One action whose URL has a path and a query value and whose body has a JSON value.
const PROBE: &str = r#"
id = "probe"
title = "Probe"
triage = ["Look"]
[actions.probe]
title = "Probe"
method = "POST"
url = "https://api.example.com/items/{{ id }}?q={{ id }}"
body = '{"reason": {{ reason }}, "admin": false}'
headers = { Authorization = "Bearer {{ secret.TOKEN }}", Content-Type = "application/json" }
allowed_roles = ["ic"]
[actions.probe.params.id]
kind = "text"
[actions.probe.params.reason]
kind = "text"
"#;

fn probe() -> super::Action {
    let (_, mut actions) = parse(Path::new("probe.toml"), PROBE, &Catalog::default())
        .unwrap_or_else(|p| panic!("{p:?}"));
    actions.remove(0)
}

proptest! {
    /// Whatever the values, the renderer answers (a request or a refusal) and never panics; a
    /// request goes to the written host, with each value as exactly one path segment, one query
    /// value and one JSON string.
    #[test]
    fn values_never_leave_their_segment_string_or_host(id in any::<String>(), reason in any::<String>()) {
        let action = probe();
        let given = vec![("id".to_owned(), id.clone()), ("reason".to_owned(), reason.clone())];
        let Ok(values) = request::params(&action, &given) else { return Ok(()); };
        let allowed = hosts(&["api.example.com"]);
        match request::prepare(&action, &values, &incident(), &allowed, &Every) {
            Err(why) => {
                // Only a dot-segment, or an empty value making one, is refused here.
                prop_assert!(why.contains("path segment"), "{}", why);
                prop_assert!(id == "." || id == "..", "{:?}: {}", id, why);
            }
            Ok(prepared) => {
                let url = &prepared.request.url;
                prop_assert_eq!(url.host_str(), Some("api.example.com"));
                let segments: Vec<String> = url
                    .path_segments()
                    .map(|s| s.map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned()).collect())
                    .unwrap_or_default();
                prop_assert_eq!(segments, vec!["items".to_owned(), id.clone()]);
                let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                prop_assert_eq!(query, vec![("q".to_owned(), id.clone())]);
                prop_assert!(url.fragment().is_none());
                let body: serde_json::Value = serde_json::from_str(prepared.request.body.as_deref().unwrap_or("")).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expected = serde_json::json!({ "reason": reason, "admin": false });
                prop_assert_eq!(body, expected);
                let debug = format!("{prepared:?}");
                prop_assert!(!debug.contains(SECRET), "{}", debug);
            }
        }
    }

    /// Every example runbook's every action, given arbitrary values, answers without panicking.
    #[test]
    fn the_example_runbooks_render_any_values_without_panicking(values in proptest::collection::vec(any::<String>(), 4)) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runbooks");
        let (catalog, problems) = Catalog::load_dir(&dir);
        prop_assert!(problems.is_empty(), "{problems:?}");
        let allowed = hosts(&["api.example.com", "platform.example.com"]);
        for action in catalog.actions.values() {
            let given: Vec<(String, String)> = action
                .params
                .keys()
                .zip(values.iter().cycle())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Ok(v) = request::params(action, &given) {
                let _ = request::prepare(action, &v, &incident(), &allowed, &Every);
            }
        }
    }
}

#[test]
fn rendered_requests_never_print_their_secrets() {
    let action = probe();
    let given = vec![
        ("id".to_owned(), "7".to_owned()),
        ("reason".to_owned(), "x".to_owned()),
    ];
    let values = request::params(&action, &given).expect("params");
    let prepared = request::prepare(
        &action,
        &values,
        &incident(),
        &hosts(&["api.example.com"]),
        &Every,
    )
    .expect("prepared");
    let debug = format!("{prepared:?} {:?}", prepared.request);
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains(request::MASK), "{debug}");
    assert!(!prepared.preview().contains(SECRET));
}

#[test]
fn secrets_come_only_from_klaxon_secret_variables() {
    assert_eq!(
        EnvSecrets::variable("SLACK_BOT_TOKEN").as_deref(),
        Some("KLAXON_SECRET_SLACK_BOT_TOKEN")
    );
    // PATH is set in every environment, and still no runbook can read it.
    assert!(std::env::var("PATH").is_ok());
    assert!(EnvSecrets.get("PATH").is_none());
    for bad in ["path", "KLAXON_SECRET_X", "", "A-B", "1A"] {
        assert_eq!(EnvSecrets::variable(bad), None, "{bad}");
    }
    // A missing secret refuses, naming only the name.
    let action = probe();
    let given = vec![
        ("id".to_owned(), "7".to_owned()),
        ("reason".to_owned(), "x".to_owned()),
    ];
    let values = request::params(&action, &given).expect("params");
    let empty: HashMap<String, String> = HashMap::new();
    struct Map(HashMap<String, String>);
    impl Secrets for Map {
        fn get(&self, name: &str) -> Option<SecretString> {
            self.0.get(name).cloned().map(SecretString::from)
        }
    }
    let refused = request::prepare(
        &action,
        &values,
        &incident(),
        &hosts(&["api.example.com"]),
        &Map(empty),
    )
    .expect_err("refused");
    assert_eq!(
        refused,
        "the secret TOKEN is not set in Klaxon's environment, so nothing was sent."
    );
}

#[test]
fn the_check_refuses_bodies_and_urls_that_would_not_escape() {
    let check = |text: &str| -> Vec<String> {
        match parse(Path::new("rb.toml"), text, &Catalog::default()) {
            Ok(_) => Vec::new(),
            Err(ps) => ps.iter().map(ToString::to_string).collect(),
        }
    };
    let quoted = PROBE.replace("{{ reason }}", "\"{{ reason }}\"");
    let p = check(&quoted);
    assert!(
        p.iter()
            .any(|p| p.contains("the body is not JSON once rendered")),
        "{p:?}"
    );
    let host = PROBE.replace("api.example.com", "{{ id }}.example.com");
    let p = check(&host);
    assert!(
        p.iter()
            .any(|p| p.contains("host and port must be written out")),
        "{p:?}"
    );
    let text = PROBE.replace("application/json", "text/plain");
    let p = check(&text);
    assert!(
        p.iter()
            .any(|p| p.contains("a body is sent as JSON or as a form")),
        "{p:?}"
    );
    let env_name = PROBE.replace("secret.TOKEN", "secret.slack_bot_token");
    let p = check(&env_name);
    assert!(
        p.iter()
            .any(|p| p.contains("is read from KLAXON_SECRET_NAME")),
        "{p:?}"
    );
    assert!(check(PROBE).is_empty());
}
