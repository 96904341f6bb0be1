//! Klaxon's HTTP endpoints, on one axum server (`KLAXON_HTTP_ADDR`, default 127.0.0.1:3000):
//! `GET /healthz` (the process is up), `GET /readyz` (the database answers, Slack's Socket
//! Mode, when configured, is connected, and so is the Discord gateway when this replica leads
//! it; the body names the replica, its role, its calls in flight and the lanes it holds),
//! `GET /metrics`, and the sub-routers of the platforms (`klaxon_slack::endpoint::router`:
//! `/slack/commands`, `/slack/interactions`, `/slack/events`; `klaxon_discord::endpoint::router`:
//! `/discord/interactions`), of alert intake, of the pages and of the on-call calendar feeds
//! (`crate::feeds`). Each platform's wire format (signatures, forms, challenges) is its
//! adapter's; this router adds the limits every request body shares.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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
    /// Slack's HTTP mode (`SLACK_SIGNING_SECRET`): `/slack/commands`, `/slack/interactions`
    /// and `/slack/events`.
    pub slack_endpoint: Option<Arc<klaxon_slack::Endpoint>>,
    /// How many Slack Socket Mode connections are up (when it is configured).
    pub slack_socket: Option<Arc<std::sync::atomic::AtomicUsize>>,
    /// The Discord gateway (when it is configured), connected while this replica leads it.
    pub discord_gateway: Option<Arc<crate::gateway::LedGateway>>,
    /// This replica's id (`crate::replica::id`), for `/readyz` and `/metrics`.
    pub replica: String,
    /// Enables `POST /discord/interactions`.
    pub discord_endpoint: Option<Arc<klaxon_discord::Endpoint>>,
    /// Alert intake's token and the platforms it may announce on.
    pub alerts: crate::alerts::http::Intake,
    /// The outbox, which says when a platform's calls are paused on a refused token.
    pub outbox: Arc<crate::outbox::Dispatcher>,
    /// The supervised background tasks, for `/healthz`.
    pub tasks: crate::supervise::Tasks,
    /// The read-only pages, when `[web] enabled`.
    pub web: Option<Arc<crate::web::WebState>>,
    /// The on-call schedules and the clock, for `/metrics`' on-call gauges.
    pub schedules: Arc<crate::oncall::Schedules>,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// The on-call calendar feeds, when `KLAXON_FEED_SECRET` is set.
    pub feeds: Option<Arc<crate::feeds::FeedState>>,
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
        .merge(klaxon_slack::endpoint::router(state.slack_endpoint.clone()))
        .merge(klaxon_discord::endpoint::router(
            state.discord_endpoint.clone(),
        ))
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
        .merge(crate::feeds::router(state.feeds.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Klaxon's own metrics, in the Prometheus text format.
async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let now = state.clock.now();
    let replica = crate::metrics::Replica {
        id: &state.replica,
        leads: state
            .discord_gateway
            .as_ref()
            .map(|g| (g.leader().name(), g.leads())),
        in_flight: state.outbox.in_flight(),
    };
    match crate::metrics::render_replica(&state.store, &state.schedules, now, &replica).await {
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
    if let Some(live) = &state.slack_socket
        && live.load(std::sync::atomic::Ordering::Relaxed) == 0
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Slack Socket Mode not connected\n",
        )
            .into_response();
    }
    if let Some(gateway) = &state.discord_gateway
        && gateway.leads()
        && !gateway.connected()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Discord gateway not connected\n",
        )
            .into_response();
    }
    let held = lanes_held(&state).await;
    (
        StatusCode::OK,
        format!("ready\n{}", replica_lines(&state, held)),
    )
        .into_response()
}

/// How many lanes this replica holds now, as the database says (`None` if it could not say,
/// and on SQLite, where the only process claims nothing: its calls in flight say it all).
async fn lanes_held(state: &HttpState) -> Option<i64> {
    if state.store.backend() != crate::store::Backend::Postgres {
        return None;
    }
    let now = state.clock.now();
    let mut conn = state.store.read().await.ok()?;
    let held = crate::store::outbox::held(&mut conn, now).await.ok()?;
    Some(
        held.iter()
            .find(|(owner, _)| *owner == state.replica)
            .map_or(0, |(_, n)| *n),
    )
}

/// What `/readyz` says of this replica after `ready`: its id, whether it leads the Discord
/// gateway (a follower is ready: it serves commands, another replica holds the gateway), how
/// many platform calls it has in flight and how many lanes it holds in the database.
fn replica_lines(state: &HttpState, held: Option<i64>) -> String {
    let mut lines = format!("replica: {}\n", state.replica);
    if let Some(gateway) = &state.discord_gateway {
        let role = if gateway.leads() {
            "leader"
        } else {
            "follower"
        };
        lines.push_str(&format!("discord-gateway: {role}\n"));
    }
    lines.push_str(&format!("calls in flight: {}\n", state.outbox.in_flight()));
    if let Some(held) = held {
        lines.push_str(&format!("lanes held: {held}\n"));
    }
    lines
}
