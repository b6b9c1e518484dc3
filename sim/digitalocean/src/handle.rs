//! Starting an embedded simulator and steering it from Rust.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use crate::app::{App, Shared};
use crate::config::Config;
use crate::faults::Faults;
use crate::requests::RequestCounts;
use crate::routes::registry::{PushError, PushedTag};
use crate::state::{State, StateFileError};

/// Errors starting or stopping a simulator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The bound address does not form a URL.
    #[error("cannot form a base URL for {addr}: {source}")]
    BaseUrl {
        addr: SocketAddr,
        source: url::ParseError,
    },
}

/// Entry point of the embeddable simulator.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and serves the API in the background until the handle is shut down
    /// or dropped.
    pub async fn start(config: Config) -> Result<SimHandle, StartError> {
        Self::start_with_state(config, State::default()).await
    }

    /// Like [`Simulator::start`], with the account state loaded from a file written by
    /// [`SimHandle::save`] (an absent file starts empty).
    pub async fn start_from_file(
        config: Config,
        path: &Path,
    ) -> Result<SimHandle, StartFromFileError> {
        let state = if path.exists() {
            State::load(path)?
        } else {
            State::default()
        };
        Ok(Self::start_with_state(config, state).await?)
    }

    async fn start_with_state(config: Config, state: State) -> Result<SimHandle, StartError> {
        let addr = config.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|source| StartError::BaseUrl { addr, source })?;
        let app: App = Arc::new(Shared::new(config, base_url, state));
        let router = crate::routes::router(app.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped handle stops the server too.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "digitalocean simulator stopped");
            }
        });
        tracing::info!(%addr, "digitalocean simulator listening");
        Ok(SimHandle {
            app,
            addr,
            stop: Some(stop),
            task,
        })
    }
}

/// Errors starting from a state file.
#[derive(Debug, thiserror::Error)]
pub enum StartFromFileError {
    /// The state file could not be read.
    #[error(transparent)]
    State(#[from] StateFileError),
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A running simulator: its address, its token, and switches for tests.
#[derive(Debug)]
pub struct SimHandle {
    app: App,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimHandle {
    /// Base URL without trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.app.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.app.config.token
    }

    /// Request counts per route since start or the last [`SimHandle::reset_requests`].
    pub fn requests(&self) -> RequestCounts {
        self.app.requests().clone()
    }

    /// Clears the request counters.
    pub fn reset_requests(&self) {
        *self.app.requests() = RequestCounts::default();
    }

    /// The current fault switches (counters show what is left).
    pub fn faults(&self) -> Faults {
        self.app.faults().clone()
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, faults: Faults) {
        *self.app.faults() = faults;
    }

    /// The snapshot volume `volume_id` was made from, if it exists and was made from one (the API does not say).
    pub fn volume_source(&self, volume_id: &str) -> Option<String> {
        let state = self.app.state();
        let volume = state.volumes.iter().find(|v| v.id == volume_id)?;
        volume.source_snapshot.clone()
    }

    /// Pushes a tag to the account's registry, as `docker push` would.
    pub fn push_tag(&self, pushed: PushedTag) -> Result<(), PushError> {
        crate::routes::registry::push_tag(&mut self.app.state(), pushed)
    }

    /// Writes the account state to `path` as JSON.
    pub fn save(&self, path: &Path) -> Result<(), StateFileError> {
        self.app.state().save(path)
    }

    /// Replaces the account state with the one saved at `path`.
    pub fn load(&self, path: &Path) -> Result<(), StateFileError> {
        let state = State::load(path)?;
        *self.app.state() = state;
        Ok(())
    }

    /// Stops serving and waits for open connections to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(%error, "digitalocean simulator task failed");
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
