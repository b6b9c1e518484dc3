//! `schwad run`: the ledger, the ingestion loop and the HTTP server, stopped together on
//! SIGTERM or Ctrl-C. Every ledger write is one transaction, so stopping at any point leaves no
//! half-written state; the shutdown only waits for the write in flight.

use std::sync::Arc;

use tokio::sync::watch;

use crate::broker::dry_run::DryRunBroker;
use crate::broker::schwab::SchwabBroker;
use crate::broker::{Broker, BrokerError};
use crate::chain::ingest::Ingestor;
use crate::config::{BrokerSettings, RunSettings};
use crate::executor::{Executor, ExecutorConfig};
use crate::http::{AppState, router};
use crate::ledger::{Ledger, LedgerError};
use crate::lock::{InstanceLock, LockError};
use crate::status::Status;

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The HTTP server could not listen or serve.
    #[error("HTTP server on {addr}: {source}")]
    Http {
        /// The listen address.
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The broker could not be set up (e.g. stored tokens that do not decrypt).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Another bot uses the database (or its lock file is unusable).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(settings: RunSettings) -> Result<(), ServiceError> {
    // Held until the service ends: two bots on one database would both hedge.
    let _lock = InstanceLock::acquire(&settings.database_url)?;
    let ledger = Ledger::open(&settings.database_url).await?;
    let status = Arc::new(Status::default());
    let max_lag = settings.ingest.confirmations;
    let ingestor = Ingestor::new(settings.ingest, ledger.clone(), Arc::clone(&status)).await?;
    let addr = settings.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Http { addr, source })?;
    let (stop, stopped) = watch::channel(false);
    let hedging = Hedging {
        ledger: ledger.clone(),
        status: Arc::clone(&status),
        config: settings.executor,
        stopped: stopped.clone(),
    };
    let (broker_kind, hedging) = match settings.broker {
        BrokerSettings::DryRun { fill_price } => {
            tracing::warn!(%fill_price, "dry-run broker: hedge orders are logged, never sent");
            hedging.spawn(DryRunBroker::new(fill_price))
        }
        BrokerSettings::Schwab(config) => {
            hedging.spawn(SchwabBroker::new(*config, ledger.clone()).await?)
        }
    };
    let ingestion = tokio::spawn(ingestor.run(stopped.clone()));
    let app = router(AppState {
        status,
        ledger: ledger.clone(),
        max_lag,
        broker_kind,
        explorer_tx_url: settings.explorer_tx_url,
    });
    let mut server_stopped = stopped.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "schwad running");
    wait_for_signal().await?;
    tracing::info!("shutting down");
    let _ = stop.send(true); // every receiver is still alive in the spawned tasks
    if tokio::time::timeout(settings.shutdown_timeout, ingestion)
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?settings.shutdown_timeout, "ingestion did not stop in time");
    }
    if tokio::time::timeout(settings.shutdown_timeout, hedging)
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?settings.shutdown_timeout, "hedging did not stop in time");
    }
    match tokio::time::timeout(settings.shutdown_timeout, server).await {
        Ok(Ok(Err(source))) => return Err(ServiceError::Http { addr, source }),
        Ok(_) => {}
        Err(_) => tracing::warn!("HTTP server did not stop in time"),
    }
    ledger.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// What a hedging task needs besides its broker.
struct Hedging {
    ledger: Ledger,
    status: Arc<Status>,
    config: ExecutorConfig,
    stopped: watch::Receiver<bool>,
}

impl Hedging {
    /// Starts hedging with `broker`; returns the broker's name and the task.
    fn spawn<B: Broker>(self, broker: B) -> (&'static str, tokio::task::JoinHandle<()>) {
        let name = broker.name();
        let executor = Executor::new(broker, self.ledger, self.status, self.config);
        (name, tokio::spawn(executor.run(self.stopped)))
    }
}

async fn wait_for_signal() -> Result<(), ServiceError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(ServiceError::Signals)?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result.map_err(ServiceError::Signals)?,
    }
    Ok(())
}
