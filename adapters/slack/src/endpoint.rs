//! Slack's HTTP mode, the whole edge: every request to `POST /slack/commands` (the slash-command
//! form), `POST /slack/interactions` (clicks, the shortcut, form submissions) and
//! `POST /slack/events` (the Events API) is checked against its v0 signature and a 5-minute
//! window, decoded and answered here; [`router`] mounts the three routes. The bot merges the
//! router and sees no Slack wire format.
//!
//! A slash command is answered after its effects are committed: the engine writes the platform
//! calls to the outbox and returns at once, so the answer reaches Slack well inside its 3-second
//! deadline whatever Slack's own API latency.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use crate::command::SlashCommand;
use crate::edge::Edge;

/// Which of the three endpoints a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /slack/commands`.
    Commands,
    /// `POST /slack/interactions`.
    Interactions,
    /// `POST /slack/events`.
    Events,
}

/// What a request is answered.
#[derive(Debug)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(Value),
    /// 200 with no body: acknowledged.
    Ok,
    /// 401: the signature or timestamp did not check out.
    Unauthorized(String),
    /// 400: not what the endpoint takes.
    BadRequest(String),
    /// 500: not committed; Slack delivers it again (an event).
    Retry(String),
}

/// Verifies and answers Slack's signed HTTP requests.
pub struct Endpoint {
    signing_secret: String,
    edge: Edge,
}

impl Endpoint {
    /// `signing_secret`: `SLACK_SIGNING_SECRET`.
    pub fn new(signing_secret: &str, edge: Edge) -> Self {
        Self {
            signing_secret: signing_secret.to_owned(),
            edge,
        }
    }

    /// Handles one request to `route`. `now`: Unix seconds.
    pub async fn handle(
        &self,
        route: Route,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Answer {
        let Ok(body) = std::str::from_utf8(body) else {
            return Answer::BadRequest("body is not UTF-8".to_owned());
        };
        if let Err(why) =
            crate::command::verify_at(&self.signing_secret, signature, timestamp, body, now)
        {
            tracing::warn!(%why, "refused a Slack request");
            return Answer::Unauthorized(why);
        }
        match route {
            Route::Commands => self.command(body).await,
            Route::Interactions => self.interaction(body).await,
            Route::Events => self.event(body).await,
        }
    }

    async fn command(&self, body: &str) -> Answer {
        let command: SlashCommand = match serde_urlencoded::from_str(body) {
            Ok(c) => c,
            Err(e) => return Answer::BadRequest(format!("not a slash command: {e}")),
        };
        let reply = crate::command::answer(&command, &self.edge).await;
        Answer::Json(crate::command::response(&reply))
    }

    /// Slack wants an answer within 3 seconds: a click's effect shows in the edited posts, a
    /// form gets its errors or the reply.
    async fn interaction(&self, body: &str) -> Answer {
        #[derive(serde::Deserialize)]
        struct Form {
            payload: String,
        }
        let payload: Option<Value> = serde_urlencoded::from_str::<Form>(body)
            .ok()
            .and_then(|f| serde_json::from_str(&f.payload).ok());
        let Some(payload) = payload else {
            return Answer::BadRequest("not an interaction payload".to_owned());
        };
        match crate::interaction::handle(
            &payload,
            self.edge.handler.as_ref(),
            &self.edge.api,
            &self.edge.oncall,
        )
        .await
        {
            Some(answer) => Answer::Json(answer),
            None => Answer::Ok,
        }
    }

    /// `url_verification` is answered with its challenge; an `event_callback` is answered 200
    /// once it is committed (a redelivery, `X-Slack-Retry-Num`, carries the same `event_id`
    /// and has no effect), or 500 so that Slack delivers it again.
    async fn event(&self, body: &str) -> Answer {
        let Ok(callback) = serde_json::from_str::<Value>(body) else {
            return Answer::BadRequest("not an event".to_owned());
        };
        match callback["type"].as_str() {
            Some("url_verification") => Answer::Json(serde_json::json!({
                "challenge": callback["challenge"].as_str().unwrap_or_default()
            })),
            Some("event_callback") => match crate::events::handle(
                &callback,
                &self.edge.capture_emoji,
                self.edge.handler.as_ref(),
                &self.edge.api,
            )
            .await
            {
                Ok(()) => Answer::Ok,
                Err(e) => {
                    tracing::warn!(error = %e, "event not recorded; Slack will deliver it again");
                    Answer::Retry(e)
                }
            },
            _ => Answer::Ok,
        }
    }
}

/// The three routes, answered by `endpoint`, or 404 on each when HTTP mode is off.
pub fn router<S: Clone + Send + Sync + 'static>(endpoint: Option<Arc<Endpoint>>) -> Router<S> {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(endpoint)
}

type Served = State<Option<Arc<Endpoint>>>;

async fn commands(State(endpoint): Served, headers: HeaderMap, body: Bytes) -> Response {
    serve(endpoint, Route::Commands, &headers, &body).await
}

async fn interactions(State(endpoint): Served, headers: HeaderMap, body: Bytes) -> Response {
    serve(endpoint, Route::Interactions, &headers, &body).await
}

async fn events(State(endpoint): Served, headers: HeaderMap, body: Bytes) -> Response {
    serve(endpoint, Route::Events, &headers, &body).await
}

async fn serve(
    endpoint: Option<Arc<Endpoint>>,
    route: Route,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Some(endpoint) = endpoint else {
        return (
            StatusCode::NOT_FOUND,
            "Slack HTTP mode is off (no SLACK_SIGNING_SECRET)\n",
        )
            .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let answer = endpoint
        .handle(
            route,
            header("x-slack-signature"),
            header("x-slack-request-timestamp"),
            body,
            chrono::Utc::now().timestamp(),
        )
        .await;
    match answer {
        Answer::Json(json) => axum::Json(json).into_response(),
        Answer::Ok => StatusCode::OK.into_response(),
        Answer::Unauthorized(why) => (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response(),
        Answer::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Answer::Retry(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
