//! `POST /alerts/alertmanager` and `POST /alerts/webhook`: bearer token first, then the body.
//! The token is checked by [`require_token`], a middleware in front of the handlers, so a
//! request without the right token is refused before a byte of its body is read.
//!
//! With no token configured (`KLAXON_ALERTS_TOKEN`) both answer 404: intake is off, fail
//! closed. A wrong or missing token is 401. A body that is not a valid payload is 400 with the
//! reason; one over [`MAX_ALERT_BODY`] is 413.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use klaxon_commands::PlatformKind;
use secrecy::{ExposeSecret as _, SecretString};

use crate::engine::Engine;

/// Alert bodies larger than this are refused (Alertmanager groups can be large).
pub const MAX_ALERT_BODY: usize = 1024 * 1024;

/// What alert intake needs besides the engine.
#[derive(Clone, Default)]
pub struct Intake {
    /// `KLAXON_ALERTS_TOKEN`; `None`: the endpoints are off.
    pub token: Option<SecretString>,
    /// The platforms this process runs; routes to others are skipped.
    pub platforms: BTreeSet<PlatformKind>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("platforms", &self.platforms)
            .finish()
    }
}

/// What the alert endpoints need.
struct AlertsState {
    engine: Arc<Engine>,
    intake: Intake,
}

/// The alert routes, each behind [`require_token`] and [`MAX_ALERT_BODY`], for the HTTP
/// server to mount.
pub fn router<S: Clone + Send + Sync + 'static>(engine: Arc<Engine>, intake: Intake) -> Router<S> {
    let state = Arc::new(AlertsState { engine, intake });
    let token = axum::middleware::from_fn_with_state(Arc::clone(&state), require_token);
    let alert_body = DefaultBodyLimit::max(MAX_ALERT_BODY);
    Router::new()
        .route(
            "/alerts/alertmanager",
            post(alertmanager).layer(alert_body).layer(token.clone()),
        )
        .route(
            "/alerts/webhook",
            post(webhook).layer(alert_body).layer(token),
        )
        .with_state(state)
}

/// Whether `header` is `Bearer <token>`, compared in constant time (over SHA-256 digests, so
/// not even the token's length leaks).
fn authorized(token: &SecretString, header: Option<&str>) -> bool {
    use sha2::Digest as _;
    use subtle::ConstantTimeEq as _;
    let Some(given) = header.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return false;
    };
    let want = sha2::Sha256::digest(token.expose_secret().as_bytes());
    let got = sha2::Sha256::digest(given.trim().as_bytes());
    want.ct_eq(&got).into()
}

/// The refusal to send back, if the request may not deliver alerts.
fn refusal(intake: &Intake, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &intake.token else {
        return Some(
            (
                StatusCode::NOT_FOUND,
                "alert intake is off (no KLAXON_ALERTS_TOKEN)\n",
            )
                .into_response(),
        );
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !authorized(token, auth) {
        tracing::warn!("refused an alert: missing or wrong bearer token");
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response(),
        );
    }
    None
}

/// The alert routes' middleware: the bearer token is checked on the headers alone, and only
/// an authorized request goes on to the handler, which reads the body.
async fn require_token(
    State(state): State<Arc<AlertsState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match refusal(&state.intake, request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// Handles an authorized request ([`require_token`] is in front of every alert route).
async fn ingest(
    state: &AlertsState,
    body: &Bytes,
    endpoint: &'static str,
    parse: fn(&[u8]) -> Result<Vec<super::Alert>, String>,
) -> Response {
    let alerts = match parse(body) {
        Ok(a) => a,
        Err(why) => {
            tracing::info!(endpoint, %why, "refused a malformed alert payload");
            crate::metrics::alert_rejected(endpoint);
            return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response();
        }
    };
    match state
        .engine
        .ingest_alerts(endpoint, alerts, &state.intake.platforms)
        .await
    {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(e) => {
            tracing::error!(endpoint, error = %format!("{e:#}"), "alert intake failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; nothing was recorded, send again\n",
            )
                .into_response()
        }
    }
}

async fn alertmanager(State(state): State<Arc<AlertsState>>, body: Bytes) -> Response {
    ingest(&state, &body, "alertmanager", super::parse_alertmanager).await
}

async fn webhook(State(state): State<Arc<AlertsState>>, body: Bytes) -> Response {
    ingest(&state, &body, "webhook", super::parse_webhook).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_compare_exactly() {
        let token = SecretString::from("s3cret");
        assert!(authorized(&token, Some("Bearer s3cret")));
        assert!(!authorized(&token, Some("Bearer s3cre")));
        assert!(!authorized(&token, Some("Bearer s3cret2")));
        assert!(!authorized(&token, Some("s3cret")));
        assert!(!authorized(&token, None));
    }
}
