//! After a drill: what the database and the fake Slack must say (nothing answered lost or
//! doubled, every queued call made once, the database intact).

use super::*;

pub(super) async fn open(db: &str) -> Result<sqlx::AnyPool, String> {
    sqlx::any::install_default_drivers();
    let url = klaxon::store::database_url(db);
    let url = match klaxon::store::Backend::of(&url) {
        // Never create the file: the drill's Klaxon made it.
        klaxon::store::Backend::Sqlite => format!("{url}?mode=rw"),
        klaxon::store::Backend::Postgres => url,
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| e.to_string())
}

/// What the database and the fake say after the drill.
pub(super) async fn check(
    pool: &sqlx::AnyPool,
    answered: &[Cmd],
    calls: &[ApiCall],
    kills: usize,
) -> Result<(), String> {
    let sql = |e: sqlx::Error| e.to_string();
    if !klaxon_tests::database::on_postgres() {
        // The file survived the kills whole (PostgreSQL's own durability is not under test:
        // the drill kills Klaxon, never the server).
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(pool)
            .await
            .map_err(sql)?;
        if integrity != "ok" {
            return Err(format!("integrity_check: {integrity}"));
        }
        let broken: Vec<(String, Option<i64>)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(pool)
            .await
            .map_err(sql)?
            .into_iter()
            .map(|r: (String, Option<i64>, String, i64)| (r.0, r.1))
            .collect();
        if !broken.is_empty() {
            return Err(format!("foreign keys broken: {broken:?}"));
        }
    }

    // Every answered command is recorded exactly once, and nothing else is.
    let deliveries: Vec<(String, i64)> =
        sqlx::query_as("SELECT delivery_id, count(*) FROM deliveries GROUP BY delivery_id")
            .fetch_all(pool)
            .await
            .map_err(sql)?;
    let recorded: BTreeMap<String, i64> = deliveries.into_iter().collect();
    for cmd in answered {
        match recorded.get(cmd.trigger()) {
            Some(1) => {}
            other => return Err(format!("{cmd:?} answered but recorded {other:?} times")),
        }
    }
    let expected: HashSet<&str> = answered.iter().map(Cmd::trigger).collect();
    let extra: Vec<&String> = recorded
        .keys()
        .filter(|k| !expected.contains(k.as_str()))
        .collect();
    if !extra.is_empty() {
        return Err(format!("deliveries nobody got an answer for: {extra:?}"));
    }

    // No incident twice: one per answered declare, with one declared and one acknowledged entry.
    let incidents: Vec<(i64, i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT id, number, title, channel_id, channel_name FROM incidents ORDER BY number",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    let titles: Vec<&str> = answered
        .iter()
        .filter_map(|c| match c {
            Cmd::Declare { title, .. } => Some(title.as_str()),
            Cmd::Ack { .. } => None,
        })
        .collect();
    let mut by_title: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, title, _, _) in &incidents {
        *by_title.entry(title.as_str()).or_default() += 1;
    }
    if incidents.len() != titles.len() || titles.iter().any(|t| by_title.get(t) != Some(&1)) {
        return Err(format!(
            "{} declares answered, incidents by title: {by_title:?}",
            titles.len()
        ));
    }
    let entries: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT incident_id, kind, count(*) FROM timeline GROUP BY incident_id, kind",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    let entries: BTreeMap<(i64, String), i64> =
        entries.into_iter().map(|(i, k, n)| ((i, k), n)).collect();
    for (id, number, ..) in &incidents {
        for kind in ["declared", "acknowledged"] {
            let n = entries.get(&(*id, kind.to_owned())).copied().unwrap_or(0);
            if n != 1 {
                return Err(format!("INC-{number} has {n} `{kind}` entries"));
            }
        }
    }

    // Every queued call was made: none pending or failed, and every done call is among the
    // fake's requests (counted per incident and kind of call).
    let rows: Vec<(Option<i64>, String, String)> =
        sqlx::query_as("SELECT incident_id, op, state FROM outbox ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(sql)?;
    let posts: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT incident_id, kind, channel_id, message_ref FROM posts")
            .fetch_all(pool)
            .await
            .map_err(sql)?;
    let post_of = |incident: i64, kind: PostKind| {
        posts
            .iter()
            .find(|(i, k, ..)| *i == incident && k == kind.as_str())
            .map(|(_, _, c, m)| (c.clone(), m.clone()))
    };
    let mut made: BTreeMap<(i64, String), usize> = BTreeMap::new();
    for (incident, op, state) in &rows {
        let Some(incident) = *incident else {
            return Err(format!("a call with no incident: {op}"));
        };
        match state.as_str() {
            "done" => {}
            "superseded" => continue,
            other => return Err(format!("a call left {other}: {op}")),
        }
        let op: Op = serde_json::from_str(op).map_err(|e| format!("{e}: {op}"))?;
        let (_, _, title, channel, name) = incidents
            .iter()
            .find(|(id, ..)| *id == incident)
            .ok_or("a call for an unknown incident")?;
        let channel = channel
            .clone()
            .ok_or_else(|| format!("{title} has no channel"))?;
        let mut expect = |what: String| *made.entry((incident, what)).or_default() += 1;
        match op {
            Op::CreateChannel { invite, .. } => {
                expect(format!("conversations.create {name}"));
                expect(format!("conversations.setTopic {channel}"));
                if !invite.is_empty() {
                    expect(format!("conversations.invite {channel}"));
                }
            }
            Op::Invite { .. } => expect(format!("conversations.invite {channel}")),
            Op::SetTopic { .. } => expect(format!("conversations.setTopic {channel}")),
            Op::Post {
                to: Target::Incident,
                ..
            } => expect(format!("chat.postMessage {channel}")),
            Op::Post {
                to: Target::Channel(c),
                ..
            } => expect(format!(
                "chat.postMessage {} {title}",
                c.id.unwrap_or(c.name)
            )),
            Op::Pin { kind } => {
                let (c, ts) = post_of(incident, kind).ok_or("a pin of no post")?;
                expect(format!("pins.add {c} {ts}"));
            }
            Op::Edit { kind, .. } => {
                let (c, ts) = post_of(incident, kind).ok_or("an edit of no post")?;
                expect(format!("chat.update {c} {ts}"));
            }
            other => return Err(format!("an unexpected call: {other:?}")),
        }
    }
    let mut extra = 0;
    for ((incident, what), n) in &made {
        let title = incidents
            .iter()
            .find(|(id, ..)| id == incident)
            .map_or("", |(_, _, t, _, _)| t.as_str());
        let seen = calls.iter().filter(|c| matches(c, what, title)).count();
        if seen < *n {
            return Err(format!("{title}: {n} × {what} done, Slack received {seen}"));
        }
        // Exactly once for what people would see twice: a channel made just before a kill is
        // adopted, a post made just before one is found in the channel's history.
        let once = what.starts_with("conversations.create") || what.starts_with("chat.postMessage");
        if once && seen > *n {
            return Err(format!("{title}: {n} × {what} done, Slack received {seen}"));
        }
        extra += seen - n;
    }
    // Calls that set a state (a topic, a pin, an edit, an invite) may be made again when one
    // was in flight at a kill: the state is the same.
    if extra > kills * IN_FLIGHT {
        return Err(format!(
            "{extra} repeated calls for {kills} kills: more than the calls in flight"
        ));
    }
    // No twin: Slack made exactly one channel per incident.
    let created = calls
        .iter()
        .filter(|c| c.method == "conversations.create" && c.error.is_none())
        .count();
    if created != incidents.len() {
        return Err(format!(
            "Slack made {created} channels for {} incidents",
            incidents.len()
        ));
    }
    for (id, number, title, ..) in &incidents {
        let announced = made
            .iter()
            .any(|((i, what), _)| i == id && what.ends_with(title.as_str()));
        if !announced {
            return Err(format!("INC-{number} was never announced"));
        }
    }
    Ok(())
}

/// Whether a received call is the expected one: `method target [ts]`, or, for a post in a
/// shared channel, `chat.postMessage channel title` (the title is in the text).
fn matches(call: &ApiCall, what: &str, title: &str) -> bool {
    let mut parts = what.splitn(3, ' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return false;
    };
    let third = parts.next();
    if call.method != method {
        return false;
    }
    let body = &call.body;
    let s = |k: &str| body[k].as_str().unwrap_or("");
    match method {
        "conversations.create" => s("name") == target,
        "pins.add" => s("channel") == target && Some(s("timestamp")) == third,
        "chat.update" => s("channel") == target && Some(s("ts")) == third,
        "chat.postMessage" if third.is_some() => {
            s("channel") == target && s("text").contains(title)
        }
        _ => s("channel") == target,
    }
}
