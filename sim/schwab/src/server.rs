//! Starting and stopping a simulator, and the [`Handle`] tests drive it through.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::connection::{Connection, SeverableListener};
use crate::errors::GatewayError;
use crate::faults::Fault;
use crate::ledger::Ledger;
use crate::orders::handlers as orders;
use crate::quirks::Quirks;
use crate::state::{AccountNumber, Authorization, Sim};
use crate::{accounts, control, gateway, market, oauth};

/// Why the simulator could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// An account number is not a number (Schwab's order JSON carries it as an int64).
    #[error("account number {0:?} is not numeric")]
    AccountNumber(String),
    /// The server task failed.
    #[error("simulator server failed")]
    Serve(#[source] std::io::Error),
    /// The server task panicked or was aborted.
    #[error("simulator server task ended abnormally")]
    Join(#[source] tokio::task::JoinError),
}

/// Starts a simulator on `config.listen` and returns once it accepts connections.
pub async fn start(config: Config) -> Result<Handle, SimError> {
    if let Some(bad) = config
        .accounts
        .iter()
        .find(|number| number.parse::<i64>().is_err())
    {
        return Err(SimError::AccountNumber(bad.clone()));
    }
    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let sim = Arc::new(Sim::new(config, format!("http://{local}")));
    let app = router(Arc::clone(&sim)).into_make_service_with_connect_info::<Connection>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(SeverableListener(listener), app)
            .with_graceful_shutdown(async move {
                // Dropping the handle also stops the server.
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(base_url = %sim.base_url, "schwab simulator listening");
    Ok(Handle {
        sim,
        stop: Some(stop),
        task: Some(task),
    })
}

fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route(
            "/trader/v1/accounts/accountNumbers",
            get(accounts::account_numbers),
        )
        .route("/trader/v1/accounts", get(accounts::list))
        .route("/trader/v1/accounts/{hash}", get(accounts::get))
        .route(
            "/trader/v1/accounts/{hash}/orders",
            get(orders::list_for_account).post(orders::place),
        )
        .route(
            "/trader/v1/accounts/{hash}/orders/{id}",
            get(orders::get).put(orders::replace).delete(orders::cancel),
        )
        .route("/trader/v1/orders", get(orders::list_all))
        .route("/marketdata/v1/markets", get(market::markets))
        .route("/marketdata/v1/markets/{market}", get(market::market))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            gateway::guard,
        ));
    Router::new()
        .route(
            "/v1/oauth/authorize",
            get(oauth::authorize).post(oauth::approve),
        )
        .route("/v1/oauth/token", post(oauth::token))
        .merge(api)
        .merge(control::routes())
        .fallback(|| async { GatewayError::new(StatusCode::NOT_FOUND).into_response() })
        .layer(axum::middleware::from_fn(gateway::correlation_id))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            gateway::date,
        ))
        .with_state(sim)
}

/// A running simulator; dropping it stops the server.
#[derive(Debug)]
pub struct Handle {
    sim: Arc<Sim>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Handle {
    /// `http://127.0.0.1:<port>`, the stand-in for `https://api.schwabapi.com`.
    pub fn base_url(&self) -> &str {
        &self.sim.base_url
    }

    /// The app key (OAuth `client_id`).
    pub fn app_key(&self) -> &str {
        &self.sim.config.app_key
    }

    /// The app secret (OAuth `client_secret`).
    pub fn app_secret(&self) -> &str {
        &self.sim.config.app_secret
    }

    /// The registered callback URL.
    pub fn callback_url(&self) -> &str {
        &self.sim.config.callback_url
    }

    /// The linked accounts and their hashes.
    pub fn accounts(&self) -> &[AccountNumber] {
        &self.sim.accounts
    }

    /// A fresh authorization code, as if a user logged in and pressed "Allow".
    pub fn authorize(&self, state: Option<&str>) -> Authorization {
        self.sim.authorize(state)
    }

    /// Opens or closes the equity market; queued orders execute once it opens.
    pub fn set_market_open(&self, open: bool) {
        self.sim.set_market_open(open);
    }

    /// Sets a symbol's execution prices: each order is split into one fill per price.
    pub fn set_prices(&self, symbol: &str, prices: Vec<f64>) {
        self.sim.set_prices(symbol, prices);
    }

    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        self.sim.inject(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.sim.clear_faults();
    }

    /// The armed faults with their remaining counts.
    pub fn faults(&self) -> Vec<Fault> {
        self.sim.faults()
    }

    /// Expires every access token now; with `refresh`, the refresh token too, forcing a new login.
    pub fn expire_tokens(&self, refresh: bool) {
        self.sim.expire_tokens(refresh);
    }

    /// Switches the lasting deviations (list lag, missing symbols, clock offset).
    pub fn set_quirks(&self, quirks: Quirks) {
        self.sim.set_quirks(quirks);
    }

    /// The lasting deviations in force.
    pub fn quirks(&self) -> Quirks {
        self.sim.quirks()
    }

    /// Enters an order by hand (a person, another app), replacing `old` if given; returns its
    /// id, or why it was refused.
    pub fn enter_order(&self, body: &serde_json::Value, old: Option<i64>) -> Result<i64, String> {
        orders::enter_by_hand(&self.sim, body, old).map_err(|error| format!("{error:?}"))
    }

    /// Cancels an order by hand.
    pub fn cancel_order(&self, id: i64) -> Result<(), String> {
        orders::cancel_by_hand(&self.sim, id).map_err(|error| format!("{error:?}"))
    }

    /// Every order placed and the resulting positions.
    pub fn ledger(&self) -> Ledger {
        self.sim.ledger()
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server.
    pub async fn stop(mut self) -> Result<(), SimError> {
        if let Some(stop) = self.stop.take() {
            // An error only means the server already ended; the join below reports why.
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(SimError::Join)?.map_err(SimError::Serve),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // Nothing to do if the server already ended.
            let _ = stop.send(());
        }
    }
}
