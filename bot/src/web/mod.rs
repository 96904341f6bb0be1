//! The read-only pages: `/incidents`, `/incidents/{n}`, `/incidents/{n}/postmortem` and
//! `/insights`, server-rendered HTML from the record (MiniJinja templates under
//! `bot/templates/web/`, every value HTML-escaped), with their static files under `/static/`.
//!
//! Off unless configured: [`router`] with `None` mounts nothing. Every page asks
//! [`access::Viewer`] who is looking first; each response carries a strict
//! Content-Security-Policy (scripts and styles from this server only, nothing else fetched).

pub mod access;
mod charts;
pub mod console;
mod incident;
mod insights;
mod list;
mod markdown;
mod postmortem;
mod signin;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::{AutoEscape, Environment};

use crate::clock::Clock;
use crate::store::Store;

pub use access::Access;

/// What the pages need.
pub struct WebState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub access: Access,
    templates: Environment<'static>,
}

impl WebState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, access: Access) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            clock,
            access,
            templates: templates()?,
        })
    }

    /// Who is asking (see [`access`]).
    async fn viewer(&self, asking: &access::Asking) -> Result<access::Viewer, Refusal> {
        self.access
            .viewer(&self.store, self.clock.now(), asking)
            .await
    }

    /// Renders a page; a template error is logged and becomes a plain 500.
    fn page(&self, name: &str, context: impl serde::Serialize) -> Response {
        let rendered = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(context));
        match rendered {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), template = name, "could not render a page");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response()
            }
        }
    }
}

/// The templates, compiled once; HTML-escaping on for every one of them.
fn templates() -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in [
        ("base.html", include_str!("../../templates/web/base.html")),
        (
            "macros.html",
            include_str!("../../templates/web/macros.html"),
        ),
        (
            "signin.html",
            include_str!("../../templates/web/signin.html"),
        ),
        (
            "incidents.html",
            include_str!("../../templates/web/incidents.html"),
        ),
        (
            "incident.html",
            include_str!("../../templates/web/incident.html"),
        ),
        (
            "postmortem.html",
            include_str!("../../templates/web/postmortem.html"),
        ),
        (
            "insights.html",
            include_str!("../../templates/web/insights.html"),
        ),
    ] {
        env.add_template(name, source)
            .map_err(|e| anyhow::anyhow!("web template {name}: {e:#}"))?;
    }
    Ok(env)
}

/// The pages' Content-Security-Policy: nothing from anywhere but this server, no inline
/// script; the postmortem's diagram script draws its SVG with inline styles, which is the one
/// thing `style-src` allows beyond this server's stylesheet.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'none'; font-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The postmortem page's policy: [`CSP`] plus the inline styles Mermaid puts in its SVG.
pub const CSP_DIAGRAM: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; font-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The pages and their static files; `None` (the pages are off) mounts nothing.
pub fn router<S: Clone + Send + Sync + 'static>(state: Option<Arc<WebState>>) -> Router<S> {
    let Some(state) = state else {
        return Router::new();
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/incidents") }))
        .route("/incidents", get(list::page))
        .route("/incidents/{number}", get(incident::page))
        .route("/incidents/{number}/postmortem", get(postmortem::page))
        .route(
            "/incidents/{number}/postmortem.md",
            get(postmortem::download),
        )
        .route("/insights", get(insights::page))
        .route("/insights/{chart}", get(insights::chart))
        .route("/static/{file}", get(asset))
        // Browsers ask for it on every site; there is none (an empty answer, not a 404 error).
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/signin", get(signin::page).post(signin::sign_in))
        .layer(axum::middleware::from_fn(headers))
        .with_state(state)
}

/// Security headers on every response of the pages.
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The vendored Mermaid script: see `bot/static/web/README.md` for its version and licence.
pub const MERMAID: &str = "mermaid-11.17.2.min.js";

/// The static files, compiled in.
async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "style.css" => (
            include_bytes!("../../static/web/style.css"),
            "text/css; charset=utf-8",
        ),
        "local-time.js" => (
            include_bytes!("../../static/web/local-time.js"),
            "text/javascript; charset=utf-8",
        ),
        "diagram.js" => (
            include_bytes!("../../static/web/diagram.js"),
            "text/javascript; charset=utf-8",
        ),
        MERMAID => (
            include_bytes!("../../static/web/mermaid-11.17.2.min.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return message(StatusCode::NOT_FOUND, "No such file").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A short page with a status: not found, not allowed, bad input.
fn message(status: StatusCode, text: &str) -> (StatusCode, Html<String>) {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Klaxon</title>\
             <link rel=\"stylesheet\" href=\"/static/style.css\"></head><body><main>\
             <h1>{escaped}</h1><p><a href=\"/incidents\">Incidents</a></p></main></body></html>"
        )),
    )
}

/// A page's answer: the page, or a status with a short text.
type PageResult = Result<Response, Refusal>;

/// Why a page is not shown.
#[derive(Debug)]
pub enum Refusal {
    /// Nobody signed in.
    SignIn,
    NotFound,
    /// A private incident the viewer was not granted.
    Private,
    BadInput(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => message(
                StatusCode::UNAUTHORIZED,
                "Sign in first: type /inc web in chat for a link",
            )
            .into_response(),
            Self::NotFound => message(StatusCode::NOT_FOUND, "Not found").into_response(),
            Self::Private => message(
                StatusCode::FORBIDDEN,
                "This incident is private: type /inc web in its channel for a link that opens it",
            )
            .into_response(),
            Self::BadInput(why) => message(StatusCode::BAD_REQUEST, &why).into_response(),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "a page failed");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response()
            }
        }
    }
}
