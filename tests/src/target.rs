//! A target API on 127.0.0.1 for runbook actions: records every request it gets and answers
//! with the status set per path (200 by default) and an `x-request-id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    statuses: HashMap<String, u16>,
    delays: HashMap<String, Duration>,
}

/// The running target. Dropping it does not stop the server; it ends with the test's runtime.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl Target {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://127.0.0.1:{}", addr.port()),
            inner,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn received(&self) -> Vec<Received> {
        self.with(|i| i.received.clone())
    }

    /// Answer `status` on `path` from now on.
    pub fn answer(&self, path: &str, status: u16) {
        self.with(|i| i.statuses.insert(path.to_owned(), status));
    }

    /// Wait this long before answering on `path`.
    pub fn delay(&self, path: &str, by: Duration) {
        self.with(|i| i.delays.insert(path.to_owned(), by));
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let path = uri.path().to_owned();
    let (status, delay, n) = {
        let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
        i.received.push(Received {
            method: method.to_string(),
            path: uri.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        (
            i.statuses.get(&path).copied().unwrap_or(200),
            i.delays.get(&path).copied(),
            i.received.len(),
        )
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [("x-request-id", format!("req-{n}"))],
        "{}",
    )
}
