//! The template language of runbook actions (MiniJinja), escaping every value for where it
//! lands: one percent-encoded component in a URL or a form body, one JSON value in a JSON body.
//!
//! The escaping is chosen by the part being rendered (its template name), not by the template,
//! so `{% autoescape false %}` cannot switch it off, and the `safe` filter does not exist here.
//! A value can therefore never climb out of its path segment, add a query parameter, change the
//! host (which must be written out), or add a key to a JSON body.

use std::collections::BTreeMap;

use minijinja::{Environment, Error, ErrorKind, Output, State, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Where a template's output goes, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A URL: every value is one percent-encoded component.
    Url,
    /// A JSON body: every value is one JSON value (`{{ reason }}` is `"…"`, quotes included).
    JsonBody,
    /// An `application/x-www-form-urlencoded` body: every value is one encoded component.
    FormBody,
    /// A header value: written as is (a line break refuses the action).
    Header,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::JsonBody => "body.json",
            Self::FormBody => "body.form",
            Self::Header => "header",
        }
    }
}

/// Everything but `A-Z a-z 0-9 - _ ~` is encoded, `/`, `.`, `?`, `#`, `%` and `\` included.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A value as one URL component.
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The environment every runbook template is checked and rendered with.
pub fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name == Part::JsonBody.name() {
            minijinja::AutoEscape::Json
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.remove_filter("safe");
    // Values are encoded where they land, so `urlencode` only keeps older files working: in a
    // URL or form body it leaves the value to the automatic encoding (encoded once, strictly).
    env.add_filter("urlencode", |state: &State, value: Value| -> Value {
        if state.name() == Part::Url.name() || state.name() == Part::FormBody.name() {
            value
        } else {
            Value::from(encode_component(&value.to_string()))
        }
    });
    env.set_formatter(format);
    env
}

fn format(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    let name = state.name();
    if name == Part::Url.name() || name == Part::FormBody.name() {
        // Safe strings too: no filter makes a value part of the URL's syntax.
        write!(
            out,
            "{}",
            utf8_percent_encode(&value.to_string(), COMPONENT)
        )
        .map_err(Error::from)
    } else if name == Part::JsonBody.name() {
        // `tojson` (and rendered blocks, whose values were escaped here) are JSON already.
        if value.is_safe() {
            return write!(out, "{value}").map_err(Error::from);
        }
        let json = serde_json::to_string(value)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, "not JSON").with_source(e))?;
        out.write_str(&json).map_err(Error::from)
    } else {
        write!(out, "{value}").map_err(Error::from)
    }
}

/// Renders one part; a template error is a sentence for the user.
pub fn render(
    env: &Environment<'_>,
    part: Part,
    template: &str,
    ctx: &BTreeMap<String, serde_json::Value>,
) -> Result<String, String> {
    env.render_named_str(part.name(), template, ctx)
        .map_err(|e| {
            format!(
                "the runbook's template failed: {}",
                e.detail().unwrap_or("render error")
            )
        })
}

/// How an action's body is written, from its literal `Content-Type` header: JSON (also when
/// there is none) or a form. Any other type is refused, since nothing would escape for it.
pub fn body_part(headers: &BTreeMap<String, String>) -> Result<Part, String> {
    let Some((_, ct)) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    else {
        return Ok(Part::JsonBody);
    };
    if ct.contains("{{") || ct.contains("{%") {
        return Err("Content-Type must be written out, not templated".to_owned());
    }
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" || media.ends_with("+json") {
        Ok(Part::JsonBody)
    } else if media == "application/x-www-form-urlencoded" {
        Ok(Part::FormBody)
    } else {
        Err(format!(
            "a body is sent as JSON or as a form (application/x-www-form-urlencoded), not `{media}`"
        ))
    }
}

/// Checks at load time that a body can be sent: its Content-Type is one Klaxon escapes for,
/// and a JSON body rendered with sample values is JSON (a value in quotes, `"{{ reason }}"`,
/// is not: values are written as JSON already).
pub fn check_body(
    body: &str,
    headers: &BTreeMap<String, String>,
    samples: &BTreeMap<String, serde_json::Value>,
) -> Result<(), String> {
    let part = body_part(headers)?;
    if part != Part::JsonBody {
        return Ok(());
    }
    let mut ctx = samples.clone();
    ctx.insert(
        "incident".to_owned(),
        serde_json::json!({ "key": "INC-1", "severity": "SEV1", "channel": "inc-sample" }),
    );
    let text = render(&env(), Part::JsonBody, body, &ctx)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the body is not JSON once rendered ({e}); values are written as JSON, so write \
             {{{{ reason }}}}, not \"{{{{ reason }}}}\""
            )
        })
}

/// A URL template's scheme, host and port are written out: values go in the path and query
/// only, so a value can never choose where the request goes.
pub fn check_url_template(template: &str) -> Result<(), String> {
    let Some((scheme, rest)) = template.split_once("://") else {
        return Err("the URL must start with https:// or http://".to_owned());
    };
    if scheme != "https" && scheme != "http" {
        return Err("the URL must start with https:// or http://".to_owned());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('{') {
        return Err("the URL's host and port must be written out, not templated".to_owned());
    }
    if authority.contains('@') {
        return Err("the URL must not carry a user name or password".to_owned());
    }
    if authority.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    Ok(())
}

/// Whether a rendered URL's path has a `.` or `..` segment (also percent-encoded), which URL
/// parsers resolve by climbing up.
pub fn has_dot_segment(rendered: &str) -> bool {
    let after_scheme = rendered.split_once("://").map_or(rendered, |(_, r)| r);
    let path_and_more = after_scheme
        .find(['/', '?', '#'])
        .map_or("", |i| &after_scheme[i..]);
    let path = path_and_more.split(['?', '#']).next().unwrap_or("");
    path.split(['/', '\\']).any(|segment| {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect()
    }

    #[test]
    fn path_values_are_one_segment() {
        let env = env();
        let url = render(
            &env,
            Part::Url,
            "https://h/items/{{ id }}?q={{ q | urlencode }}",
            &ctx(&[("id", "../../admin/wipe"), ("q", "a b&c=d")]),
        )
        .expect("renders");
        assert_eq!(
            url,
            "https://h/items/%2E%2E%2F%2E%2E%2Fadmin%2Fwipe?q=a%20b%26c%3Dd"
        );
        let dots = render(
            &env,
            Part::Url,
            "https://h/items/{{ id }}",
            &ctx(&[("id", "..")]),
        )
        .expect("renders");
        assert!(has_dot_segment(&dots), "{dots}");
        assert!(!has_dot_segment("https://h/a.b/..c?x=/../"));
        assert!(has_dot_segment("https://h/a/./b"));
    }

    #[test]
    fn autoescape_blocks_do_not_switch_escaping_off() {
        let env = env();
        let body = render(
            &env,
            Part::JsonBody,
            r#"{"reason": {% autoescape false %}{{ reason }}{% endautoescape %}}"#,
            &ctx(&[("reason", r#"x", "admin": true, "y": ""#)]),
        )
        .expect("renders");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["reason"], r#"x", "admin": true, "y": ""#);
        assert!(v.get("admin").is_none());
        assert!(
            render(
                &env,
                Part::JsonBody,
                "{{ reason | safe }}",
                &ctx(&[("reason", "x")])
            )
            .is_err()
        );
    }

    #[test]
    fn hosts_are_literal() {
        assert!(check_url_template("https://api.example.com/x/{{ id }}").is_ok());
        assert!(check_url_template("https://{{ host }}/x").is_err());
        assert!(check_url_template("https://api.example.com:{{ port }}/x").is_err());
        assert!(check_url_template("https://u:p@api.example.com/").is_err());
        assert!(check_url_template("ftp://api.example.com/").is_err());
    }
}
