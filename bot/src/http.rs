//! Klaxon's HTTP endpoints, on one axum server (`KLAXON_HTTP_ADDR`, default 127.0.0.1:3000):
//! `GET /healthz` (the process is up), `GET /readyz` (the database answers and Slack's Socket
//! Mode, when configured, is connected), and `POST /slack/commands` (signed slash commands).
//!
//! A slash command is answered after its effects are committed: the engine writes the platform
//! calls to the outbox and returns at once, so the answer reaches Slack well inside its 3-second
//! deadline whatever Slack's own API latency.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret as _, SecretString};

use crate::engine::Engine;
use crate::store::Store;

/// Request bodies larger than this are refused before anything reads them.
pub const MAX_BODY: usize = 64 * 1024;

/// What the endpoints need.
pub struct HttpState {
    pub engine: Arc<Engine>,
    pub store: Store,
    /// Enables `POST /slack/commands`.
    pub slack_signing_secret: Option<SecretString>,
    /// Set while Slack Socket Mode is connected (when it is configured).
    pub slack_socket: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Alert intake's token and the platforms it may announce on.
    pub alerts: crate::alerts::http::Intake,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/slack/commands", post(slack_commands))
        .route("/slack/interactions", post(slack_interactions))
        .route("/metrics", get(metrics))
        .route(
            "/alerts/alertmanager",
            post(crate::alerts::http::alertmanager)
                .layer(DefaultBodyLimit::max(crate::alerts::http::MAX_ALERT_BODY)),
        )
        .route(
            "/alerts/webhook",
            post(crate::alerts::http::webhook)
                .layer(DefaultBodyLimit::max(crate::alerts::http::MAX_ALERT_BODY)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Klaxon's own metrics, in the Prometheus text format.
async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    match crate::metrics::render(&state.store).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "could not render metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    if !state.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response();
    }
    if let Some(flag) = &state.slack_socket
        && !flag.load(std::sync::atomic::Ordering::Relaxed)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Slack Socket Mode not connected\n",
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// Checks a Slack request's signature; the body as text, or the refusal to send back.
fn verified<'b>(
    state: &HttpState,
    headers: &HeaderMap,
    body: &'b Bytes,
) -> Result<&'b str, (StatusCode, String)> {
    let Some(secret) = &state.slack_signing_secret else {
        return Err((
            StatusCode::NOT_FOUND,
            "Slack HTTP mode is off (no SLACK_SIGNING_SECRET)
"
            .to_owned(),
        ));
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return Err((StatusCode::BAD_REQUEST, "body is not UTF-8\n".to_owned()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(why) = klaxon_slack::verify(
        secret.expose_secret(),
        header("x-slack-signature"),
        header("x-slack-request-timestamp"),
        body,
    ) {
        tracing::warn!(%why, "refused a Slack request");
        return Err((StatusCode::UNAUTHORIZED, format!("{why}\n")));
    }
    Ok(body)
}

async fn slack_commands(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verified(&state, &headers, &body) {
        Ok(b) => b,
        Err(refusal) => return refusal.into_response(),
    };
    let command: klaxon_slack::SlashCommand = match serde_urlencoded::from_str(body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a slash command: {e}\n"),
            )
                .into_response();
        }
    };
    let reply = state.engine.handle(command.invocation()).await;
    axum::Json(klaxon_slack::command::response(&reply)).into_response()
}

/// Button clicks. Slack wants a 200 within 3 seconds; the announcement's edit shows the effect.
async fn slack_interactions(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Form {
        payload: String,
    }
    let body = match verified(&state, &headers, &body) {
        Ok(b) => b,
        Err(refusal) => return refusal.into_response(),
    };
    let payload: Option<serde_json::Value> = serde_urlencoded::from_str::<Form>(body)
        .ok()
        .and_then(|f| serde_json::from_str(&f.payload).ok());
    let Some(payload) = payload else {
        return (StatusCode::BAD_REQUEST, "not an interaction payload\n").into_response();
    };
    if let Some(invocation) = klaxon_slack::interaction::invocation(&payload) {
        let reply = state.engine.handle(invocation).await;
        if reply.kind != klaxon_commands::ReplyKind::Ok {
            tracing::info!(reply = %reply.to_plain(), "button refused");
        }
    }
    StatusCode::OK.into_response()
}
