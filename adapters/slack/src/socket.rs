//! Socket Mode: Slack pushes slash commands over a WebSocket that Klaxon opens (no public URL
//! needed). The command's reply goes back in the envelope's acknowledgement, which
//! slack-morphism sends when the callback returns: the engine commits and answers at once, and
//! the platform calls follow from the outbox, so the acknowledgement is never slow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use klaxon_commands::{
    ChannelRef, Handler, Input, Invocation, PlatformKind, ReplyKind, Tenant, UserRef,
};
use slack_morphism::prelude::*;

/// What the callbacks need, held in slack-morphism's user state.
struct State {
    handler: Arc<dyn Handler>,
    connected: Arc<AtomicBool>,
}

/// A running Socket Mode connection.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
    connected: Arc<AtomicBool>,
}

impl SocketMode {
    /// Opens the connection with the app-level token (`xapp-…`), against `api_url` or Slack.
    pub async fn start(
        app_token: &str,
        api_url: Option<&str>,
        handler: Arc<dyn Handler>,
    ) -> Result<Self, String> {
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
        let connected = Arc::new(AtomicBool::new(false));
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client).with_user_state(State {
                handler,
                connected: Arc::clone(&connected),
            }),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_command_events(on_command)
            .with_interaction_events(on_interaction);
        let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.to_owned()));
        listener
            .listen_for(&token)
            .await
            .map_err(|e| format!("opening Slack Socket Mode: {e}"))?;
        listener.start().await;
        Ok(Self {
            listener,
            connected,
        })
    }

    /// Whether Slack has said hello on the socket.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// A shared flag that follows `connected`, for readiness checks.
    pub fn connected_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.connected)
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

/// Generic over the hello event, whose type slack-morphism does not export by name.
async fn on_hello<E>(_: E, _: Arc<SlackHyperClient>, states: SlackClientEventsUserState) {
    if let Some(state) = states.read().await.get_user_state::<State>() {
        state.connected.store(true, Ordering::Relaxed);
    }
    tracing::info!("Slack Socket Mode connected");
}

async fn on_command(
    event: SlackCommandEvent,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let handler = {
        let guard = states.read().await;
        guard
            .get_user_state::<State>()
            .map(|s| Arc::clone(&s.handler))
            .ok_or("Klaxon's state is missing from the Socket Mode listener")?
    };
    let invocation = Invocation {
        tenant: Tenant::new(PlatformKind::Slack, event.team_id.0),
        channel: ChannelRef::new(
            event.channel_id.0.clone(),
            event.channel_name.unwrap_or(event.channel_id.0),
        ),
        user: UserRef::id(event.user_id.0),
        input: Input::Text(event.text.unwrap_or_default()),
        // Socket Mode redelivers an unacknowledged envelope with the same trigger.
        incident: None,
        delivery_id: Some(event.trigger_id.0),
    };
    let reply = handler.handle(invocation).await;
    let text = crate::mrkdwn::text(&reply.message);
    let text = match reply.kind {
        ReplyKind::Ok => text,
        ReplyKind::UserError | ReplyKind::InternalError => format!(":warning: {text}"),
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

/// A button click: the same command as typed, on the button's incident. The click is
/// acknowledged when this returns; the announcement's edit shows what changed.
async fn on_interaction(
    event: SlackInteractionEvent,
    _: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let payload = serde_json::to_value(&event)?;
    let Some(invocation) = crate::interaction::invocation(&payload) else {
        return Ok(());
    };
    let handler = {
        let guard = states.read().await;
        guard
            .get_user_state::<State>()
            .map(|s| Arc::clone(&s.handler))
            .ok_or("Klaxon's state is missing from the Socket Mode listener")?
    };
    let reply = handler.handle(invocation).await;
    if reply.kind != ReplyKind::Ok {
        tracing::info!(reply = %reply.to_plain(), "button refused");
    }
    Ok(())
}
