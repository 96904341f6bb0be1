//! `Rest`: the outbox's REST calls, made as serenity's `Http::fire` makes them (serenity's
//! `Request`, `Route`, serialised builders and rate limiter), with the answer read here.
//!
//! serenity's `ErrorResponse` keeps the status and Discord's JSON error but neither the
//! `Retry-After` header nor the body's `retry_after`, so a 503 that said when to come back
//! looked like any other outage. Reading the `reqwest::Response` that serenity's limiter (or,
//! with it off, serenity's own request builder) hands back keeps them.
//!
//! Below `api` and `places`, which both use it: the sorting of refusals into transient and
//! permanent errors (`api_error`, `by_status`), JSON bodies, and channel creation.

use std::sync::Arc;
use std::time::Duration;

use klaxon_commands::ApiError;
use serenity::all::{CreateChannel, GuildChannel, GuildId, Http};
use serenity::http::{HttpError, LightMethod, Request, Route};

/// serenity's `Http`, and a client for when its limiter is off (a base URL in tests).
pub(crate) struct Rest {
    http: Arc<Http>,
    client: reqwest::Client,
}

impl Rest {
    pub(crate) fn new(http: Arc<Http>) -> Self {
        Self {
            http,
            client: reqwest::Client::new(),
        }
    }

    /// Makes the call; a failure is sorted with the wait Discord asked for.
    async fn send(&self, request: Request<'_>) -> Result<reqwest::Response, ApiError> {
        let answer = match &self.http.ratelimiter {
            Some(limiter) => limiter.perform(request).await,
            None => {
                match request.build(&self.client, self.http.token(), self.http.proxy.as_deref()) {
                    Ok(built) => built
                        .send()
                        .await
                        .map_err(|e| serenity::Error::Http(HttpError::Request(e))),
                    Err(e) => Err(e),
                }
            }
        }
        .map_err(api_error)?;
        if answer.status().is_success() {
            Ok(answer)
        } else {
            Err(failure(answer).await)
        }
    }

    /// A call whose answer is a JSON object or list.
    pub(crate) async fn fire<T: serde::de::DeserializeOwned>(
        &self,
        request: Request<'_>,
    ) -> Result<T, ApiError> {
        let bytes = self
            .send(request)
            .await?
            .bytes()
            .await
            .map_err(|e| ApiError::Transient {
                reason: format!("reading Discord's answer: {}", e.without_url()),
                retry_after: None,
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Permanent(format!("Discord's answer does not parse: {e}")))
    }

    /// A call whose answer has no body (204).
    pub(crate) async fn wind(&self, request: Request<'_>) -> Result<(), ApiError> {
        self.send(request).await.map(|_| ())
    }
}

/// Discord's JSON error (Reference > Error Messages) with a rate limit's `retry_after`.
#[derive(Default, serde::Deserialize)]
struct Refusal {
    code: Option<i64>,
    message: Option<String>,
    /// Seconds, fractional (Topics > Rate Limits).
    retry_after: Option<f64>,
}

/// A refused call as Klaxon's error, with the body's `retry_after` or the `Retry-After` header.
async fn failure(answer: reqwest::Response) -> ApiError {
    let status = answer.status().as_u16();
    let header = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| klaxon_commands::port::retry_after(v, chrono::Utc::now()));
    let refusal: Refusal = answer
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    // serenity's limiter owns 429s (its callback hands `limited` the wait). A 429 that gets
    // here came without the limiter (a base URL: tests, or a proxy) and keeps the outbox's
    // backoff, as before; a 5xx's wait is honoured. `try_from_secs_f64` refuses NaN, negative
    // and unrepresentable waits.
    let wait = if status == 429 {
        None
    } else {
        refusal
            .retry_after
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .or(header)
    };
    let reason = format!(
        "{status} {} (code {})",
        refusal.message.unwrap_or_default(),
        refusal.code.unwrap_or(-1)
    );
    by_status(status, reason, wait)
}

/// A refused call by its HTTP status: 429 and 5xx are worth retrying, after `retry_after`
/// when Discord said.
pub(crate) fn by_status(status: u16, reason: String, retry_after: Option<Duration>) -> ApiError {
    if status == 429 || status >= 500 {
        ApiError::Transient {
            reason,
            retry_after,
        }
    } else {
        ApiError::Permanent(reason)
    }
}

/// serenity's error as Klaxon's: 429 and 5xx and network trouble are worth retrying.
/// serenity's `ErrorResponse` has no wait in it; [`Rest`] reads it where it can.
pub fn api_error(e: serenity::Error) -> ApiError {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let reason = format!("{status} {} (code {})", r.error.message, r.error.code);
            by_status(status, reason, None)
        }
        serenity::Error::Http(HttpError::Request(e)) => ApiError::Transient {
            reason: format!("request failed: {}", e.without_url()),
            retry_after: None,
        },
        other => ApiError::Permanent(other.to_string()),
    }
}

/// A request with a builder's JSON as its body, as serenity sends it.
pub(crate) fn with_body<'a>(
    route: Route<'a>,
    method: LightMethod,
    body: &impl serde::Serialize,
) -> Result<Request<'a>, ApiError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| ApiError::Permanent(format!("cannot encode the request: {e}")))?;
    Ok(Request::new(route, method).body(Some(bytes)))
}

/// Makes a channel (`POST /guilds/{guild}/channels`).
pub(crate) async fn create_channel(
    rest: &Rest,
    guild: GuildId,
    builder: &CreateChannel<'_>,
) -> Result<GuildChannel, ApiError> {
    rest.fire(with_body(
        Route::GuildChannels { guild_id: guild },
        LightMethod::Post,
        builder,
    )?)
    .await
}
