//! The Discord gateway, connected only on the replica that holds the
//! [`DISCORD_GATEWAY`](crate::leader::DISCORD_GATEWAY) lease: started when this replica gains
//! it, shut down when it loses it. Discord's HTTP interactions are served on every replica
//! regardless; the gateway carries the gateway transport's interactions and the reactions that
//! capture messages, and one connection of the bot is enough (two would each receive them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use klaxon_commands::Handler;
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

use crate::leader::Leader;

/// Longest pause between two failed starts of the gateway while this replica leads.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// How to start the gateway (its arguments, kept for each start).
pub struct GatewayStart {
    pub token: secrecy::SecretString,
    pub rest: klaxon_discord::RestSettings,
    pub registration: klaxon_discord::Registration,
    pub handler: Arc<dyn Handler>,
    pub deadline: Duration,
}

impl GatewayStart {
    async fn start(&self) -> Result<klaxon_discord::Gateway, String> {
        use secrecy::ExposeSecret as _;
        klaxon_discord::Gateway::start(
            self.token.expose_secret(),
            &self.rest,
            &self.registration,
            Arc::clone(&self.handler),
            self.deadline,
        )
        .await
    }
}

/// The gateway under a lease: connected while this replica leads.
pub struct LedGateway {
    leader: Arc<Leader>,
    start: GatewayStart,
    /// The running connection, if this replica leads and it started.
    current: AsyncMutex<Option<klaxon_discord::Gateway>>,
    /// The running connection's flag (for `/readyz`, which must not wait on `current`).
    connected: Mutex<Option<Arc<AtomicBool>>>,
}

impl LedGateway {
    pub fn new(leader: Arc<Leader>, start: GatewayStart) -> Arc<Self> {
        Arc::new(Self {
            leader,
            start,
            current: AsyncMutex::new(None),
            connected: Mutex::new(None),
        })
    }

    /// The lease it runs under.
    pub fn leader(&self) -> &Arc<Leader> {
        &self.leader
    }

    /// Whether this replica leads the gateway.
    pub fn leads(&self) -> bool {
        self.leader.leads()
    }

    /// Whether this replica's gateway is connected now.
    pub fn connected(&self) -> bool {
        self.flag()
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    fn flag(&self) -> std::sync::MutexGuard<'_, Option<Arc<AtomicBool>>> {
        self.connected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the gateway now if this replica leads: at start-up, so that a token or
    /// registration Discord refuses stops the process with the reason, as it always has.
    pub async fn start_if_leading(&self) -> anyhow::Result<()> {
        if !self.leads() {
            return Ok(());
        }
        let gateway = self.start.start().await.map_err(|e| anyhow::anyhow!(e))?;
        self.hold(gateway).await;
        Ok(())
    }

    async fn hold(&self, gateway: klaxon_discord::Gateway) {
        *self.flag() = Some(gateway.connected_flag());
        *self.current.lock().await = Some(gateway);
    }

    async fn shut(&self) {
        *self.flag() = None;
        if let Some(gateway) = self.current.lock().await.take() {
            gateway.shutdown().await;
        }
    }

    /// Follows the lease until `stop`: connects when this replica gains it (trying again with
    /// backoff while a start fails), disconnects when it loses it; on `stop`, disconnects.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut leads = self.leader.watch();
        loop {
            let running = self.current.lock().await.is_some();
            if !running {
                // Wait to lead, then connect.
                tokio::select! {
                    () = stop.cancelled() => break,
                    held = leads.wait_for(|held| *held) => if held.is_err() { break },
                }
                let mut pause = Duration::from_secs(1);
                loop {
                    if !self.leader.leads() {
                        break;
                    }
                    match self.start.start().await {
                        Ok(gateway) => {
                            tracing::info!(replica = %self.leader.owner(), "leading: the Discord gateway connects from this replica");
                            self.hold(gateway).await;
                            break;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, retry_in = ?pause, "the Discord gateway did not start");
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(MAX_RETRY);
                }
                if stop.is_cancelled() {
                    break;
                }
                continue;
            }
            // Connected: until the lease is lost.
            tokio::select! {
                () = stop.cancelled() => break,
                _ = leads.wait_for(|held| !*held) => {}
            }
            tracing::warn!(replica = %self.leader.owner(), "no longer leading: the Discord gateway disconnects from this replica");
            self.shut().await;
        }
        self.shut().await;
    }
}
