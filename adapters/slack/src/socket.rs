//! Socket Mode: Slack pushes slash commands over a WebSocket that Klaxon opens (no public URL
//! needed). The command's reply goes back in the envelope's acknowledgement, which
//! slack-morphism sends when the callback returns: the engine commits and answers at once, and
//! the platform calls follow from the outbox, so the acknowledgement is never slow.
//!
//! Klaxon holds [`CONNECTIONS`] connections at once, or as many as `slack.socket_connections`
//! says. slack-morphism reads one envelope at a time per connection, waiting for its callback
//! (whose acknowledgement carries the reply) before reading the next, and Slack hands each envelope to one of an app's connections (up to
//! 10, docs.slack.dev/apis/events-api/using-socket-mode), so several connections answer several
//! commands at once; one also carries on while another is being refreshed.
//!
//! A connection counts as up from Slack's `hello` until its socket fails (slack-morphism
//! reports a broken socket to the listener's error handler before it reconnects, and the new
//! connection says hello again); Socket Mode is up while one connection is.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use slack_morphism::prelude::*;

use crate::edge::Edge;

/// What the callbacks need, held in slack-morphism's user state: the same [`Edge`] as HTTP
/// mode's.
struct State {
    edge: Edge,
    live: Arc<AtomicUsize>,
    /// How many connections are held: the most that can be up.
    connections: usize,
}

/// How many Socket Mode connections Klaxon holds at once unless told otherwise
/// (`slack.socket_connections`).
pub const CONNECTIONS: u32 = 4;

/// How many Socket Mode connections Slack allows an app, across all its processes.
pub const MOST_CONNECTIONS: u32 = 10;

/// Running Socket Mode connections.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
    live: Arc<AtomicUsize>,
}

impl SocketMode {
    /// Opens `connections` connections (1 to [`MOST_CONNECTIONS`]) with the app-level token
    /// (`xapp-…`), against `api_url` or Slack.
    /// The socket's own HTTP client (`apps.connections.open`) is slack-morphism's hyper
    /// connector, built here once; every Web API call goes through `edge.api`.
    pub async fn start(
        app_token: &str,
        api_url: Option<&str>,
        edge: Edge,
        connections: u32,
    ) -> Result<Self, String> {
        let connections = connections.clamp(1, MOST_CONNECTIONS);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let mut connector = SlackClientHyperConnector::with_connector(https);
        if let Some(url) = api_url {
            connector = connector.with_slack_api_url(url.trim_end_matches('/'));
        }
        let client = Arc::new(SlackClient::new(connector));
        let live = Arc::new(AtomicUsize::new(0));
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(State {
                    edge,
                    live: Arc::clone(&live),
                    connections: usize::try_from(connections).unwrap_or(1),
                }),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_event);
        // Every connection opens at once (slack-morphism's default staggers them 5 s apart).
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(connections)
            .with_initial_backoff_in_seconds(0);
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.to_owned()));
        listener
            .listen_for(&token)
            .await
            .map_err(|e| format!("opening Slack Socket Mode: {e}"))?;
        listener.start().await;
        Ok(Self { listener, live })
    }

    /// Whether Slack has said hello on one of the connections, and it is still up.
    pub fn connected(&self) -> bool {
        self.live.load(Ordering::Relaxed) > 0
    }

    /// A shared count of the connections up, for readiness checks: up while above zero.
    pub fn live_count(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.live)
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

/// Generic over the hello event, whose type slack-morphism does not export by name.
async fn on_hello<E>(_: E, _: Arc<SlackHyperClient>, states: SlackClientEventsUserState) {
    let mut live = 0;
    if let Some(state) = states.read().await.get_user_state::<State>() {
        // A connection whose end went unreported (a close frame) is not counted twice.
        let most = state.connections;
        let up = |n: usize| (n + 1).min(most);
        let before = state
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(up(n)))
            .unwrap_or(most);
        live = up(before);
    }
    tracing::info!(connections = live, "Slack Socket Mode connected");
}

/// A broken socket (a WebSocket error) counts one connection down until the next `hello`; other
/// errors (a callback's, which makes Slack deliver the envelope again) leave it as it is.
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> HttpStatusCode {
    use slack_morphism::errors::SlackClientError;
    if let Some(SlackClientError::SocketModeProtocolError(e)) =
        error.downcast_ref::<SlackClientError>()
    {
        tracing::warn!(error = %e, "Slack Socket Mode connection lost; reconnecting");
        if let Ok(guard) = states.try_read()
            && let Some(state) = guard.get_user_state::<State>()
        {
            let _ = state
                .live
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    } else {
        tracing::warn!(error = %error, "Slack Socket Mode callback failed; Slack delivers it again");
    }
    HttpStatusCode::BAD_REQUEST
}

/// A slash command: answered, as over HTTP, in the envelope's acknowledgement.
async fn on_command(
    event: SlackCommandEvent,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let edge = edge(&states).await?;
    let reply = crate::command::answer(&event.into(), &edge).await;
    Ok(SlackCommandEventResponse::new(
        SlackMessageContent::new().with_text(crate::command::text(&reply)),
    )
    .with_response_type(SlackMessageResponseType::Ephemeral))
}

/// The engine, the Web API and the capture emoji, from the listener's user state.
async fn edge(states: &SlackClientEventsUserState) -> Result<Edge, &'static str> {
    let guard = states.read().await;
    guard
        .get_user_state::<State>()
        .map(|s| s.edge.clone())
        .ok_or("Klaxon's state is missing from the Socket Mode listener")
}

/// A button click, the shortcut or a form submission, handled as over HTTP. The envelope is
/// acknowledged when this returns, with a form's answer (its errors, or the reply) as payload.
async fn on_interaction(
    event: SlackInteractionEvent,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let payload = serde_json::to_value(&event)?;
    let edge = edge(&states).await?;
    Ok(
        match crate::interaction::handle(&payload, edge.handler.as_ref(), &edge.api, &edge.oncall)
            .await
        {
            Some(answer) => {
                SlackInteractionResponse::ViewSubmission(serde_json::from_value(answer)?)
            }
            None => SlackInteractionResponse::Empty,
        },
    )
}

/// An `events_api` envelope: acknowledged once the event is committed. An error leaves it
/// unacknowledged, so Slack delivers it again (Socket Mode gives no retry count: redeliveries
/// are told apart by `event_id`).
async fn on_event(
    event: SlackPushEventCallback,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let callback = serde_json::to_value(&event)?;
    let edge = edge(&states).await?;
    crate::events::handle(
        &callback,
        &edge.capture_emoji,
        edge.handler.as_ref(),
        &edge.api,
    )
    .await
    .map_err(Into::into)
}
