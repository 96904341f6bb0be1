//! The console's pages: served on 127.0.0.1 with access open (only this machine can connect),
//! the address said once in the console; a port already taken is said and the console goes on.

use std::sync::Arc;

use klaxon_console::Console;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::Store;

/// Where the console serves its pages: 127.0.0.1 on `KLAXON_HTTP_ADDR`'s port, or on 3000 when
/// a person is at the terminal; `None`: not at all (input piped in, no address set).
pub fn addr(http_addr: Option<&str>, interactive: bool) -> Option<std::net::SocketAddr> {
    let port = match http_addr {
        Some(addr) => addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .unwrap_or(3000),
        None if interactive => 3000,
        None => return None,
    };
    Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Serves the pages on `addr` with access open (only this machine can connect) until
/// `shutdown`, as one of `tasks` (supervised: a panic is logged and counted), and says where
/// once; a port already taken is said and the console goes on.
pub async fn serve(
    console: &Console,
    store: &Store,
    clock: Arc<dyn Clock>,
    addr: std::net::SocketAddr,
    shutdown: &CancellationToken,
    tasks: &crate::supervise::Tasks,
) -> Option<tokio::task::JoinHandle<()>> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            console.note(&format!(
                "(pages not served: {addr} is not free ({e}); set KLAXON_HTTP_ADDR to another port)"
            ));
            return None;
        }
    };
    let access = super::Access {
        open: true,
        ..super::Access::default()
    };
    let state = match super::WebState::new(store.clone(), clock, access) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            console.note(&format!("(pages not served: {e:#})"));
            return None;
        }
    };
    let addr = listener.local_addr().unwrap_or(addr);
    console.note(&format!("Pages: http://{addr}/incidents"));
    let router = super::router::<()>(Some(state));
    let stop = shutdown.clone();
    Some(tasks.spawn_once("console pages", async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the console's pages stopped");
        }
    }))
}
