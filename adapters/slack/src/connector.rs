//! `Connector`: slack-morphism's Web API requests made with reqwest, so a failure's
//! `Retry-After` is not lost.
//!
//! slack-morphism 2.31's hyper connector reads `Retry-After` on a 429 only and keeps neither
//! the headers nor the wait of any other failure, so a 503 that says when to come back looked
//! like any other outage. This connector implements slack-morphism's own extension point
//! (`SlackClientHttpConnector`): it sends the same requests (the bearer token, JSON, raw bytes
//! or a multipart form built by slack-morphism) and reads the answers as slack-morphism does
//! (the `ok`/`error` envelope, a 429 as `RateLimitError` with its wait). It also keeps the
//! `Retry-After` of the last answer for the call running in this task ([`observed`]), where
//! [`crate::api::classify`] finds it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use slack_morphism::errors::{
    SlackClientApiError, SlackClientError, SlackClientHttpError, SlackClientSystemError,
    SlackRateLimitError, map_serde_error,
};
use slack_morphism::multipart_form::{
    FileMultipartData, create_multipart_file_content, generate_multipart_boundary,
};
use slack_morphism::prelude::*;
use url::Url;

/// slack-morphism's `BoxFuture`.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

tokio::task_local! {
    /// The `Retry-After` of the last answer the current call got.
    static LAST_WAIT: Cell<Option<Duration>>;
}

/// Runs one Klaxon call (which may make several requests) so that [`last_retry_after`]
/// answers for it.
pub(crate) async fn observed<T>(call: impl Future<Output = T>) -> T {
    LAST_WAIT.scope(Cell::new(None), call).await
}

/// The `Retry-After` of the last answer in the current call, if it had one.
pub(crate) fn last_retry_after() -> Option<Duration> {
    LAST_WAIT.try_with(Cell::get).ok().flatten()
}

/// Makes slack-morphism's requests with reqwest (http allowed, for a local fake).
#[derive(Clone, Debug)]
pub struct Connector {
    http: reqwest::Client,
    /// The Web API base, without a trailing slash.
    api_url: String,
}

impl Connector {
    pub fn new(api_url: Option<&str>) -> Self {
        Self {
            http: reqwest::Client::new(),
            api_url: api_url
                .unwrap_or(SlackClientHttpApiUri::SLACK_API_URI_STR)
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: Url,
        token: Option<&SlackApiToken>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, url)
            .header("accept-charset", "utf-8");
        if let Some(token) = token {
            request = request.bearer_auth(&token.token_value.0);
            if let Some(cookie) = &token.cookie {
                request = request.header(reqwest::header::COOKIE, &cookie.0);
            }
        }
        request
    }

    async fn send<RS>(&self, request: reqwest::RequestBuilder) -> ClientResult<RS>
    where
        RS: for<'de> serde::de::Deserialize<'de>,
    {
        let answer = request.send().await.map_err(system)?;
        let status = answer.status();
        let wait = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| klaxon_commands::port::retry_after(v, chrono::Utc::now()));
        let _ = LAST_WAIT.try_with(|last| last.set(wait));
        // As slack-morphism: an answer without a content type is read as JSON.
        let json = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        let body = answer.text().await.map_err(system)?;
        match status.as_u16() {
            200 if json => {
                let envelope: SlackEnvelopeMessage = decode(&body)?;
                match envelope.error.clone() {
                    None => decode(&body),
                    Some(code) => Err(SlackClientError::ApiError(
                        SlackClientApiError::new(code)
                            .opt_errors(envelope.errors_as_strings())
                            .opt_warnings(envelope.warnings)
                            .with_http_response_body(body),
                    )),
                }
            }
            200 | 204 => decode("{}"),
            429 => {
                let envelope: Option<SlackEnvelopeMessage> =
                    if json { Some(decode(&body)?) } else { None };
                let (code, warnings) = envelope.map_or((None, None), |e| (e.error, e.warnings));
                Err(SlackClientError::RateLimitError(
                    SlackRateLimitError::new()
                        .opt_retry_after(wait)
                        .opt_code(code)
                        .opt_warnings(warnings)
                        .with_http_response_body(body),
                ))
            }
            _ => Err(SlackClientError::HttpError(
                SlackClientHttpError::new(status).with_http_response_body(body),
            )),
        }
    }
}

/// A JSON answer, or slack-morphism's error for one that does not parse.
fn decode<T: for<'de> serde::de::Deserialize<'de>>(text: &str) -> ClientResult<T> {
    serde_json::from_str(text).map_err(|e| map_serde_error(e, Some(text)))
}

/// A failure to send or read, as slack-morphism reports one.
fn system(e: reqwest::Error) -> SlackClientError {
    SlackClientError::SystemError(
        SlackClientSystemError::new().with_cause(Box::new(e.without_url())),
    )
}

impl SlackClientHttpConnector for Connector {
    fn create_method_uri_path(&self, method_relative_uri: &str) -> ClientResult<Url> {
        Ok(format!("{}/{method_relative_uri}", self.api_url).parse()?)
    }

    fn http_get_uri<'a, RS>(
        &'a self,
        full_uri: Url,
        context: SlackClientApiCallContext<'a>,
    ) -> Boxed<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        let request = self.request(reqwest::Method::GET, full_uri, context.token);
        Box::pin(self.send(request))
    }

    fn http_get_with_client_secret<'a, RS>(
        &'a self,
        full_uri: Url,
        client_id: &'a SlackClientId,
        client_secret: &'a SlackClientSecret,
    ) -> Boxed<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        let request = self
            .request(reqwest::Method::GET, full_uri, None)
            .basic_auth(&client_id.0, Some(&client_secret.0));
        Box::pin(self.send(request))
    }

    fn http_post_uri<'a, RQ, RS>(
        &'a self,
        full_uri: Url,
        request_body: &'a RQ,
        context: SlackClientApiCallContext<'a>,
    ) -> Boxed<'a, ClientResult<RS>>
    where
        RQ: serde::ser::Serialize + Send + Sync,
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        let body = match serde_json::to_string(request_body) {
            Ok(body) => body,
            Err(e) => return Box::pin(std::future::ready(Err(map_serde_error(e, None)))),
        };
        let request = self
            .request(reqwest::Method::POST, full_uri, context.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body);
        Box::pin(self.send(request))
    }

    fn http_post_uri_multipart_form<'a, 'p, RS, PT, TS>(
        &'a self,
        full_uri: Url,
        file: Option<FileMultipartData<'p>>,
        params: &'p PT,
        context: SlackClientApiCallContext<'a>,
    ) -> Boxed<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
        PT: std::iter::IntoIterator<Item = (&'p str, Option<TS>)> + Clone,
        TS: AsRef<str> + 'p + Send,
    {
        let boundary = generate_multipart_boundary();
        let content = match create_multipart_file_content(params, &boundary, file) {
            Ok(content) => content,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let request = self
            .request(reqwest::Method::POST, full_uri, context.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(content);
        Box::pin(self.send(request))
    }

    fn http_post_uri_binary<'a, 'p, RS>(
        &'a self,
        full_uri: Url,
        content_type: String,
        data: &'a [u8],
        context: SlackClientApiCallContext<'a>,
    ) -> Boxed<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        let request = self
            .request(reqwest::Method::POST, full_uri, context.token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(data.to_vec());
        Box::pin(self.send(request))
    }
}
