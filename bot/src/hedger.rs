//! The hedge executor: turns positions into broker orders exactly once.
//!
//! Each pass, in order: resolve open executions (a `pending` one is first looked up at the broker,
//! since its order may have been sent before a crash or a lost response; a `submitted` one is
//! polled with jitter), then open and place new executions for symbols whose |net| reached one
//! share, while the market is open. Every state change is committed before the next side effect.
//! A pass runs when ingestion records trades, and on every tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::broker::{Broker, BrokerError, OrderId, OrderRequest, OrderState};
use crate::hedge;
use crate::ledger::{Execution, Ledger, LedgerError};
use crate::status::{BrokerHealth, Status};
use crate::trade::Ticker;

/// Timing of the executor.
#[derive(Debug, Clone, Copy)]
pub struct HedgerConfig {
    /// Longest wait between passes (also how soon a new login is noticed).
    pub tick: Duration,
    /// Mean interval between status polls of a submitted order (±25 % jitter).
    pub poll_interval: Duration,
    /// How long a symbol waits after a failed order before it is hedged again.
    pub failure_cooldown: Duration,
}

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum HedgeError {
    /// The database failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// Drives one broker from the ledger.
#[derive(Debug)]
pub struct Hedger<B> {
    broker: B,
    ledger: Ledger,
    status: Arc<Status>,
    config: HedgerConfig,
    /// When each submitted execution is polled next.
    next_poll: HashMap<i64, Instant>,
    /// Symbols cooling down after a failed order.
    cooldown: HashMap<Ticker, Instant>,
}

impl<B: Broker> Hedger<B> {
    /// An executor of `broker` over `ledger`.
    pub fn new(broker: B, ledger: Ledger, status: Arc<Status>, config: HedgerConfig) -> Self {
        Self {
            broker,
            ledger,
            status,
            config,
            next_poll: HashMap::new(),
            cooldown: HashMap::new(),
        }
    }

    /// Runs passes until `stop` turns true; a pass in flight completes first.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(broker = self.broker.name(), "hedging started");
        loop {
            let health = match self.pass().await {
                Ok(()) => BrokerHealth::Ready,
                Err(HedgeError::Broker(BrokerError::ReauthNeeded)) => BrokerHealth::ReauthNeeded,
                Err(error) => {
                    tracing::warn!(error = %error, "hedging pass failed; retrying");
                    BrokerHealth::Unreachable
                }
            };
            self.status.set_broker(health);
            // Wake for new trades, the next order poll due, or the tick, whichever comes first.
            let tick = Instant::now() + self.config.tick;
            let wake = self
                .next_poll
                .values()
                .min()
                .map_or(tick, |due| tick.min(*due));
            tokio::select! {
                () = self.status.trades_changed.notified() => {}
                () = tokio::time::sleep_until(wake) => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        tracing::info!("hedging stopped");
    }

    /// One pass over open executions, then new hedges.
    pub async fn pass(&mut self) -> Result<(), HedgeError> {
        // Asked every pass (answers are cached): an unusable login shows on /health at once,
        // not only when a hedge is due.
        let market_open = self.broker.market_open().await?;
        let open = self.ledger.open_executions().await?;
        for execution in &open {
            match execution.order_id {
                None => self.recover(execution).await?,
                Some(order_id) => self.poll(execution, OrderId(order_id)).await?,
            }
        }
        // Executions that ended just now release their symbols in this same pass.
        let open = if open.is_empty() {
            open
        } else {
            self.ledger.open_executions().await?
        };
        let now = Instant::now();
        self.cooldown.retain(|_, until| *until > now);
        let due: Vec<Ticker> = self
            .ledger
            .positions()
            .await?
            .iter()
            .filter_map(hedge::plan)
            .map(|intent| intent.ticker)
            .filter(|ticker| !self.cooldown.contains_key(ticker))
            .filter(|ticker| !open.iter().any(|execution| &execution.ticker == ticker))
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        if !market_open {
            tracing::debug!(symbols = due.len(), "market closed: hedges wait");
            return Ok(());
        }
        for ticker in due {
            if let Some(execution) = self.ledger.begin_execution(&ticker).await? {
                tracing::info!(
                    execution = execution.id,
                    symbol = %execution.ticker,
                    side = execution.side.as_str(),
                    shares = execution.shares,
                    "hedge opened"
                );
                self.place(&execution).await?;
            }
        }
        Ok(())
    }

    /// A pending execution: its order may already be at the broker; place it only if not.
    async fn recover(&mut self, execution: &Execution) -> Result<(), HedgeError> {
        let known = self.ledger.known_order_ids().await?;
        let request = request(execution);
        if let Some(order_id) = self
            .broker
            .find_order(&request, execution.created_at, &known)
            .await?
        {
            tracing::info!(execution = execution.id, %order_id, "pending hedge found at the broker");
            self.ledger.mark_submitted(execution.id, order_id.0).await?;
            Status::add(&self.status.hedges_submitted, 1);
            return Ok(());
        }
        if self.broker.market_open().await? {
            self.place(execution).await?;
        }
        Ok(())
    }

    /// Sends the order once. A refusal fails the execution; any other error leaves it pending,
    /// to be looked up before it is ever placed again.
    async fn place(&mut self, execution: &Execution) -> Result<(), HedgeError> {
        match self.broker.place(&request(execution)).await {
            Ok(order_id) => {
                self.ledger.mark_submitted(execution.id, order_id.0).await?;
                Status::add(&self.status.hedges_submitted, 1);
                tracing::info!(execution = execution.id, %order_id, "hedge order submitted");
                self.next_poll
                    .insert(execution.id, Instant::now() + self.jittered_poll());
                Ok(())
            }
            Err(BrokerError::Refused(reason)) => {
                tracing::warn!(execution = execution.id, %reason, "hedge order refused");
                self.fail(execution, &reason, 0).await
            }
            Err(error) => {
                tracing::warn!(execution = execution.id, %error, "hedge order outcome unknown: looked up before any new order");
                Err(error.into())
            }
        }
    }

    /// A submitted execution: polls its order when due.
    async fn poll(&mut self, execution: &Execution, order_id: OrderId) -> Result<(), HedgeError> {
        let now = Instant::now();
        if self
            .next_poll
            .get(&execution.id)
            .is_some_and(|due| *due > now)
        {
            return Ok(());
        }
        self.next_poll
            .insert(execution.id, now + self.jittered_poll());
        match self.broker.order_state(order_id).await? {
            OrderState::Open => Ok(()),
            OrderState::Filled { average_price } => {
                self.ledger.mark_filled(execution.id, average_price).await?;
                self.next_poll.remove(&execution.id);
                Status::add(&self.status.hedges_filled, 1);
                tracing::info!(execution = execution.id, %order_id, %average_price, "hedge filled");
                Ok(())
            }
            OrderState::Failed {
                reason,
                filled_shares,
            } => {
                tracing::warn!(execution = execution.id, %order_id, %reason, filled_shares, "hedge order failed");
                self.fail(execution, &reason, filled_shares).await
            }
        }
    }

    async fn fail(
        &mut self,
        execution: &Execution,
        reason: &str,
        filled_shares: u64,
    ) -> Result<(), HedgeError> {
        self.ledger
            .mark_failed(execution.id, reason, filled_shares)
            .await?;
        self.next_poll.remove(&execution.id);
        self.cooldown.insert(
            execution.ticker.clone(),
            Instant::now() + self.config.failure_cooldown,
        );
        Status::add(&self.status.hedges_failed, 1);
        Ok(())
    }

    fn jittered_poll(&self) -> Duration {
        self.config
            .poll_interval
            .mul_f64(0.75 + fastrand::f64() / 2.0)
    }
}

fn request(execution: &Execution) -> OrderRequest {
    OrderRequest {
        ticker: execution.ticker.clone(),
        side: execution.side,
        shares: execution.shares,
    }
}
