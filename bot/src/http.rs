//! Klaxon's HTTP endpoints, on one axum server (`KLAXON_HTTP_ADDR`, default 127.0.0.1:3000):
//! `GET /healthz` (the process is up), `GET /readyz` (the database answers and Slack's Socket
//! Mode, when configured, is connected), `POST /slack/commands` (signed slash commands),
//! `POST /slack/interactions` (clicks, shortcuts, forms) and `POST /slack/events` (Events API).
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

/// At most this many requests to the platform and alert endpoints are handled at once; more
/// are refused at once with 503 (and `Retry-After: 1`). Their bodies are read before they can
/// be authenticated (Slack and Discord sign the body itself), so this bounds what unsigned
/// senders can hold.
pub const MAX_IN_FLIGHT: usize = 64;

/// A request body must have arrived this long after its headers, or the request is refused
/// (a sender dribbling a body a byte at a time holds nothing for long).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the endpoints need.
pub struct HttpState {
    pub engine: Arc<Engine>,
    pub store: Store,
    /// Enables `POST /slack/commands`.
    pub slack_signing_secret: Option<SecretString>,
    /// The Slack Web API, to open forms (`views.open`) from commands and clicks and to read
    /// messages marked for the timeline.
    pub slack_api: Option<klaxon_slack::SlackApi>,
    /// The reaction that captures a message (`[slack] capture_emoji`).
    pub slack_capture_emoji: String,
    /// Set while Slack Socket Mode is connected (when it is configured).
    pub slack_socket: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Set while the Discord gateway is connected (when it is configured).
    pub discord_gateway: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Enables `POST /discord/interactions`.
    pub discord_endpoint: Option<klaxon_discord::Endpoint>,
    /// Alert intake's token and the platforms it may announce on.
    pub alerts: crate::alerts::http::Intake,
    /// The outbox, which says when a platform's calls are paused on a refused token.
    pub outbox: Arc<crate::outbox::Dispatcher>,
    /// The supervised background tasks, for `/healthz`.
    pub tasks: crate::supervise::Tasks,
    /// The read-only pages, when `[web] enabled`.
    pub web: Option<Arc<crate::web::WebState>>,
}

pub fn router(state: Arc<HttpState>) -> Router {
    use tower::ServiceBuilder;
    // Everything that takes a body: at most MAX_IN_FLIGHT at once (more are shed with 503),
    // each body within BODY_TIMEOUT.
    let limits = ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            |_: tower::BoxError| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "1")],
                    "too many requests in flight; try again\n",
                )
            },
        ))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_IN_FLIGHT,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_TIMEOUT,
        ));
    let inbound = Router::new()
        .route("/slack/commands", post(slack_commands))
        .route("/slack/interactions", post(slack_interactions))
        .route("/discord/interactions", post(discord_interactions))
        .route("/slack/events", post(slack_events))
        .merge(crate::alerts::http::router(
            Arc::clone(&state.engine),
            state.alerts.clone(),
        ))
        .layer(limits);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(inbound)
        .merge(crate::web::router(state.web.clone()))
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

/// `ok`, or 503 naming each background task that is not running (restarting after a panic, or
/// given up on).
async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    let down = state.tasks.down();
    if down.is_empty() {
        return (StatusCode::OK, "ok\n").into_response();
    }
    let what: Vec<String> = down
        .iter()
        .map(|(task, s)| match s {
            crate::supervise::State::Failed => format!("{task} failed"),
            _ => format!("{task} restarting after a panic"),
        })
        .collect();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("background task down: {}\n", what.join(", ")),
    )
        .into_response()
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    if !state.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response();
    }
    let paused = state.outbox.paused();
    if !paused.is_empty() {
        let lines: Vec<String> = paused
            .iter()
            .map(|(platform, fix)| format!("{platform} calls paused: {fix}\n"))
            .collect();
        return (StatusCode::SERVICE_UNAVAILABLE, lines.concat()).into_response();
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
    if let Some(flag) = &state.discord_gateway
        && !flag.load(std::sync::atomic::Ordering::Relaxed)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Discord gateway not connected\n",
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// Discord's HTTP interactions: Ed25519-signed; PING answered with PONG; everything else
/// answered like the gateway's interactions.
async fn discord_interactions(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = &state.discord_endpoint else {
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
        klaxon_discord::Answer::Json(json) => axum::Json(json).into_response(),
        klaxon_discord::Answer::Unauthorized(why) => {
            tracing::warn!(why, "refused a Discord request");
            (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
        }
        klaxon_discord::Answer::BadRequest(why) => {
            (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
        }
        klaxon_discord::Answer::Nothing => StatusCode::ACCEPTED.into_response(),
    }
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
    let invocation = command.invocation();
    if let Some(api) = &state.slack_api
        && let Some(reply) = klaxon_slack::command::open_form(
            &command.text,
            &command.trigger_id,
            &invocation.channel,
            api,
        )
        .await
    {
        return axum::Json(klaxon_slack::command::response(&reply)).into_response();
    }
    let reply = state.engine.handle(invocation).await;
    axum::Json(klaxon_slack::command::response(&reply)).into_response()
}

/// Button clicks, the shortcut and form submissions. Slack wants an answer within 3 seconds: a
/// click's effect shows in the edited posts, a form gets its errors or the reply.
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
    let Some(api) = &state.slack_api else {
        return StatusCode::OK.into_response();
    };
    match klaxon_slack::interaction::handle(&payload, state.engine.as_ref(), api).await {
        Some(answer) => axum::Json(answer).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// The Events API: `url_verification` is answered with its challenge; an `event_callback` is
/// answered 200 once it is committed (a redelivery, `X-Slack-Retry-Num`, carries the same
/// `event_id` and has no effect), or 500 so that Slack delivers it again.
async fn slack_events(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verified(&state, &headers, &body) {
        Ok(b) => b,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(callback) = serde_json::from_str::<serde_json::Value>(body) else {
        return (StatusCode::BAD_REQUEST, "not an event\n").into_response();
    };
    match callback["type"].as_str() {
        Some("url_verification") => axum::Json(serde_json::json!({
            "challenge": callback["challenge"].as_str().unwrap_or_default()
        }))
        .into_response(),
        Some("event_callback") => {
            let Some(api) = &state.slack_api else {
                return StatusCode::OK.into_response();
            };
            match klaxon_slack::events::handle(
                &callback,
                &state.slack_capture_emoji,
                state.engine.as_ref(),
                api,
            )
            .await
            {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => {
                    tracing::warn!(error = %e, "event not recorded; Slack will deliver it again");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        _ => StatusCode::OK.into_response(),
    }
}
