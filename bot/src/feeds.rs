//! On-call calendar feeds over HTTP: `GET /oncall/<schedule>.ics` and
//! `GET /oncall/person/<id>.ics`, each behind a secret token in its address.
//!
//! A feed's token is an HMAC-SHA256 of the feed's name and generation under
//! `KLAXON_FEED_SECRET`; `klaxon oncall feed` issues one and `--rotate` moves the generation
//! on, so the old address stops working. A wrong token, an unknown feed and one never issued
//! all get the same bare 404. Without the secret, no feed is served. Tokens are never logged.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

use crate::clock::Clock;
use crate::oncall::Schedules;
use crate::oncall::calendar::{self, Covers};
use crate::store::Store;

/// How far back a feed reaches.
pub const BACK: Duration = Duration::weeks(8);
/// How far ahead a feed reaches.
pub const AHEAD: Duration = Duration::weeks(26);

/// A feed: one schedule, or one person over every schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    Schedule(String),
    Person(String),
}

impl Feed {
    /// The name stored with its generation: `schedule:payments`, `person:U0ALICE`.
    pub fn key(&self) -> String {
        match self {
            Self::Schedule(s) => format!("schedule:{s}"),
            Self::Person(p) => format!("person:{p}"),
        }
    }

    /// Its path, without the token.
    pub fn path(&self) -> String {
        let encode = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        match self {
            Self::Schedule(s) => format!("/oncall/{}.ics", encode(s)),
            Self::Person(p) => format!("/oncall/person/{}.ics", encode(p)),
        }
    }
}

/// The token of `feed` at `generation`, as lowercase hex.
pub fn token(secret: &SecretString, feed: &Feed, generation: i64) -> anyhow::Result<String> {
    let mac =
        mac(secret, feed, generation).ok_or_else(|| anyhow::anyhow!("HMAC refused the key"))?;
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// HMAC-SHA256 over the feed's name and generation. HMAC takes a key of any length, so this is
/// `None` only in theory.
fn mac(secret: &SecretString, feed: &Feed, generation: i64) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.expose_secret().as_bytes()).ok()?;
    mac.update(format!("klaxon oncall feed v1\n{}\n{generation}", feed.key()).as_bytes());
    Some(mac)
}

/// Whether `given` is the token of `feed` at `generation` (compared in constant time).
fn verify(secret: &SecretString, feed: &Feed, generation: i64, given: &str) -> bool {
    let (Ok(bytes), Some(mac)) = (hex::decode(given), mac(secret, feed, generation)) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

/// Issues `feed` (or moves it to a new token when `rotate`) and returns its path and query,
/// `/oncall/payments.ics?token=…`.
pub async fn issue(
    store: &Store,
    secret: &SecretString,
    feed: &Feed,
    rotate: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let mut tx = store.begin().await?;
    let generation = crate::store::feeds::issue(&mut tx, &feed.key(), rotate, now).await?;
    tx.commit().await?;
    Ok(format!(
        "{}?token={}",
        feed.path(),
        token(secret, feed, generation)?
    ))
}

/// What the feeds need.
pub struct FeedState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub schedules: Arc<Schedules>,
    /// `KLAXON_FEED_SECRET`.
    pub secret: SecretString,
}

/// The feeds' routes; `None` (no `KLAXON_FEED_SECRET`) mounts none.
pub fn router<S: Clone + Send + Sync + 'static>(state: Option<Arc<FeedState>>) -> Router<S> {
    let Some(state) = state else {
        return Router::new();
    };
    Router::new()
        .route("/oncall/{file}", get(schedule_feed))
        .route("/oncall/person/{file}", get(person_feed))
        .with_state(state)
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn schedule_feed(
    State(state): State<Arc<FeedState>>,
    Path(file): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let Some(name) = file.strip_suffix(".ics") else {
        return not_found();
    };
    serve(&state, Feed::Schedule(name.to_owned()), query.token).await
}

async fn person_feed(
    State(state): State<Arc<FeedState>>,
    Path(file): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let Some(id) = file.strip_suffix(".ics") else {
        return not_found();
    };
    serve(&state, Feed::Person(id.to_owned()), query.token).await
}

/// The same answer for every refusal, so that nothing tells a guess from a revoked address.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn serve(state: &FeedState, feed: Feed, token: Option<String>) -> Response {
    match render(state, &feed, token.as_deref()).await {
        Ok(Some(text)) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            text,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(feed = feed.key(), error = %format!("{e:#}"), "could not render a calendar feed");
            (StatusCode::INTERNAL_SERVER_ERROR, "feed unavailable\n").into_response()
        }
    }
}

/// The feed's calendar, or `None` when the token is wrong or the feed unknown.
async fn render(
    state: &FeedState,
    feed: &Feed,
    token: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let mut conn = state.store.read().await?;
    let Some(generation) = crate::store::feeds::generation(&mut conn, &feed.key()).await? else {
        return Ok(None);
    };
    if !verify(&state.secret, feed, generation, token) {
        tracing::debug!(feed = feed.key(), "calendar feed asked with a wrong token");
        return Ok(None);
    }
    let now = state.clock.now();
    let from = now.checked_sub_signed(BACK).unwrap_or(now);
    let to = now.checked_add_signed(AHEAD).unwrap_or(now);
    let text = match feed {
        Feed::Schedule(name) => {
            let Some(schedule) = state.schedules.by_name.get(name) else {
                return Ok(None);
            };
            let covers = crate::store::oncall::by_layer(&mut conn, name, from).await?;
            calendar::schedule_feed(schedule, from, to, &covers, now)
        }
        Feed::Person(id) => {
            let mut covers: Covers = BTreeMap::new();
            for name in state.schedules.by_name.keys() {
                covers.insert(
                    name.clone(),
                    crate::store::oncall::by_layer(&mut conn, name, from).await?,
                );
            }
            calendar::person_feed(&state.schedules, id, from, to, &covers, now)
        }
    };
    tracing::debug!(feed = feed.key(), "calendar feed served");
    Ok(Some(text))
}
