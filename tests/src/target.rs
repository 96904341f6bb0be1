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
    /// Requests on these paths wait until the semaphore is closed ([`Target::release`]).
    held: HashMap<String, Arc<tokio::sync::Semaphore>>,
}

/// The running target. Dropping it does not stop the server; it ends with the test's runtime.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub port: u16,
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
            port: addr.port(),
            inner,
        }
    }

    /// An `allowed_hosts` array that lets actions reach this target (loopback, plain http,
    /// secret headers included).
    pub fn allow(&self) -> String {
        format!(
            "[{{ host = \"127.0.0.1:{}\", private = true, secrets_over_http = true }}]",
            self.port
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn received(&self) -> Vec<Received> {
        self.with(|i| i.received.clone())
    }

    /// Waits (up to 10 s) until `check` holds for what was received.
    pub async fn until(&self, check: impl Fn(&[Received]) -> bool) -> bool {
        crate::wait::until(crate::wait::LIMIT, || check(&self.received())).await
    }

    /// Answer `status` on `path` from now on.
    pub fn answer(&self, path: &str, status: u16) {
        self.with(|i| i.statuses.insert(path.to_owned(), status));
    }

    /// Hold requests on `path` (received and recorded, not answered) until [`Target::release`].
    pub fn hold(&self, path: &str) {
        self.with(|i| {
            i.held
                .insert(path.to_owned(), Arc::new(tokio::sync::Semaphore::new(0)))
        });
    }

    /// Answer the requests held on `path`, and those to come.
    pub fn release(&self, path: &str) {
        self.with(|i| i.held.get(path).map(|s| s.close()));
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
    let (status, delay, n, held) = {
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
            i.held.get(&path).cloned(),
        )
    };
    if let Some(gate) = held {
        // Closed means released.
        let _ = gate.acquire().await;
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [("x-request-id", format!("req-{n}"))],
        "{}",
    )
}
