//! The optional HTTP interactions endpoint (`POST /discord/interactions`): Discord signs each
//! request with Ed25519; Klaxon checks the signature (serenity's verifier) and that the
//! timestamp is at most five minutes from now, answers PING with PONG, and hands everything
//! else to the same [`Responder`] as the gateway. [`router`] mounts the route; the bot merges it
//! and sees no Discord wire format.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::FutureExt as _;
use serenity::all::{CreateInteractionResponse, Interaction};
use serenity::interactions_endpoint::Verifier;
use tokio::sync::oneshot;

use crate::interaction::{Responder, SendFirst};

/// How far a request's timestamp may be from now.
pub const WINDOW_SECS: i64 = 300;

/// What the HTTP handler answers.
#[derive(Debug)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(serde_json::Value),
    /// 401: the signature or timestamp did not check out.
    Unauthorized(&'static str),
    /// 400: not an interaction.
    BadRequest(String),
    /// 202: nothing to say (an interaction that is not Klaxon's).
    Nothing,
}

/// Verifies and answers interactions posted to Klaxon.
pub struct Endpoint {
    verifier: Verifier,
    responder: Responder,
}

impl Endpoint {
    /// `public_key`: `DISCORD_PUBLIC_KEY`, 64 hex digits.
    pub fn new(public_key: &str, responder: Responder) -> Result<Self, String> {
        let bytes = decode_key(public_key).ok_or("DISCORD_PUBLIC_KEY must be 64 hex digits")?;
        let verifier = Verifier::try_new(bytes)
            .map_err(|_| "DISCORD_PUBLIC_KEY is not a valid Ed25519 key")?;
        Ok(Self {
            verifier,
            responder,
        })
    }

    /// Handles one request. `now`: Unix seconds.
    pub async fn handle(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Answer {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Answer::Unauthorized("unsigned request");
        };
        if !fresh(timestamp, now) {
            return Answer::Unauthorized("stale or malformed timestamp");
        }
        if self.verifier.verify(signature, timestamp, body).is_err() {
            return Answer::Unauthorized("bad signature");
        }
        let interaction: Interaction = match serde_json::from_slice(body) {
            Ok(i) => i,
            Err(e) => return Answer::BadRequest(format!("not an interaction: {e}")),
        };
        let (tx, rx) = oneshot::channel::<CreateInteractionResponse>();
        let send_first: SendFirst = Box::new(move |response| {
            async move {
                tx.send(response)
                    .map_err(|_| "the HTTP request went away".to_owned())
            }
            .boxed()
        });
        let responder = self.responder.clone();
        // The work goes on after the first answer when it was deferred.
        tokio::spawn(async move { responder.respond(interaction, send_first).await });
        match rx.await {
            Ok(response) => match serde_json::to_value(&response) {
                Ok(json) => Answer::Json(json),
                Err(e) => Answer::BadRequest(format!("could not encode the response: {e}")),
            },
            Err(_) => Answer::Nothing,
        }
    }
}

/// `POST /discord/interactions`, answered by `endpoint`, or 404 when it is off.
pub fn router<S: Clone + Send + Sync + 'static>(endpoint: Option<Arc<Endpoint>>) -> Router<S> {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(endpoint)
}

/// Discord's HTTP interactions: Ed25519-signed; PING answered with PONG; everything else
/// answered like the gateway's interactions.
async fn interactions(
    State(endpoint): State<Option<Arc<Endpoint>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = endpoint else {
        return (
            StatusCode::NOT_FOUND,
            "Discord HTTP interactions are off (no DISCORD_PUBLIC_KEY)\n",
        )
            .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    match endpoint
        .handle(
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
            &body,
            now,
        )
        .await
    {
        Answer::Json(json) => axum::Json(json).into_response(),
        Answer::Unauthorized(why) => {
            tracing::warn!(why, "refused a Discord request");
            (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
        }
        Answer::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Answer::Nothing => StatusCode::ACCEPTED.into_response(),
    }
}

/// Whether `timestamp` (Unix seconds) is within [`WINDOW_SECS`] of `now`. `abs_diff` cannot
/// wrap: a timestamp of now − 2⁶³ is as stale as it looks, not a panic.
fn fresh(timestamp: &str, now: i64) -> bool {
    timestamp
        .parse::<i64>()
        .is_ok_and(|t| now.abs_diff(t) <= WINDOW_SECS.unsigned_abs())
}

fn decode_key(key: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(key.trim(), &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_of_now_minus_two_to_the_63_is_stale_not_a_panic() {
        let now = 1_795_000_000_i64;
        assert!(fresh(&now.to_string(), now));
        assert!(fresh(&(now + 300).to_string(), now));
        assert!(!fresh(&(now - 301).to_string(), now));
        let wrapped = now.wrapping_sub(i64::MIN);
        for hostile in [i64::MIN, now.wrapping_add(i64::MIN), wrapped, i64::MAX] {
            assert!(!fresh(&hostile.to_string(), now), "{hostile}");
        }
    }
}
