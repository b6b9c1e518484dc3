//! The execution loop: turns positions into broker orders exactly once.
//!
//! Each pass, in order: open and place new executions for symbols whose unhedged net (less the
//! shares reserved by their open executions) reached one share and that have none pending, while
//! the market is open; then resolve open executions (a `pending` one is looked up at the broker,
//! since its order may have been sent before a crash or a lost response; a `submitted` one is
//! polled with jitter). A symbol may have several submitted orders working at once. Every state
//! change is committed before the next side effect. An execution's error marks only its symbol (backing off, with the reason on
//! `/health`); the others go on in the same pass. A pass runs when ingestion records trades, and
//! on every tick; broker positions are compared with the ledger periodically and after every
//! recovery.
//!
//! An order whose outcome is unknown (timeout, 5xx, dropped connection, crash) is placed again
//! only once its absence is established: lookups spaced over the settle period from the moment it
//! was sent, at least two of them, the last one after the period.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use rust_decimal::Decimal;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::broker::{Broker, BrokerError, Lookup, OrderId, OrderRequest, OrderState};
use crate::hedge;
use crate::hedge::report::{
    AmbiguousOrders, HedgingReport, PositionMismatch, SymbolTrouble, UnknownOutcome,
};
use crate::ledger::{Execution, Ledger, LedgerError};
use crate::status::{BrokerHealth, Status};
use crate::trade::Ticker;

/// Timing of the executor.
#[derive(Debug, Clone, Copy)]
pub struct ExecutorConfig {
    /// Longest wait between passes (also how soon a new login is noticed).
    pub tick: Duration,
    /// Mean interval between status polls of a submitted order (±25 % jitter).
    pub poll_interval: Duration,
    /// Most open executions of one symbol.
    pub max_open_per_symbol: u32,
    /// How long a symbol waits after a failed order before it is hedged again (and the first
    /// backoff after an error of its execution, doubling up to 16 times that).
    pub failure_cooldown: Duration,
    /// How long after an order with an unknown outcome was sent its absence can be established:
    /// longer than the request timeout plus the broker's order-list lag.
    pub settle_period: Duration,
    /// How often broker positions are compared with the ledger.
    pub reconcile_interval: Duration,
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

/// Lookups of a pending execution since its order was last sent (kept in memory: after a
/// restart the lookups start over, which only waits longer).
#[derive(Debug, Clone, Copy)]
struct Lookups {
    done: u32,
    next: Instant,
}

/// A symbol backing off after an error of its execution.
#[derive(Debug, Clone)]
struct Trouble {
    reason: String,
    errors: u32,
    until: Instant,
}

/// Drives one broker from the ledger.
#[derive(Debug)]
pub struct Executor<B> {
    broker: B,
    ledger: Ledger,
    status: Arc<Status>,
    config: ExecutorConfig,
    /// When each submitted execution is polled next.
    next_poll: HashMap<i64, Instant>,
    /// Symbols cooling down after a failed order.
    cooldown: HashMap<Ticker, Instant>,
    /// Pending executions being looked up.
    lookups: HashMap<i64, Lookups>,
    /// Executions with several candidate orders at the broker.
    ambiguous: HashMap<i64, (Ticker, Vec<OrderId>)>,
    /// Symbols whose execution errs.
    troubles: HashMap<Ticker, Trouble>,
    /// Pending executions and when their order was sent, as of the last pass.
    unsettled: Vec<(i64, Ticker, DateTime<Utc>)>,
    /// Broker positions that differ from the ledger, as of the last comparison.
    mismatches: Vec<PositionMismatch>,
    /// When positions are compared next.
    next_reconcile: Instant,
}

impl<B: Broker> Executor<B> {
    /// An executor of `broker` over `ledger`.
    pub fn new(broker: B, ledger: Ledger, status: Arc<Status>, config: ExecutorConfig) -> Self {
        Self {
            broker,
            ledger,
            status,
            config,
            next_poll: HashMap::new(),
            cooldown: HashMap::new(),
            lookups: HashMap::new(),
            ambiguous: HashMap::new(),
            troubles: HashMap::new(),
            unsettled: Vec::new(),
            mismatches: Vec::new(),
            next_reconcile: Instant::now(),
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
            self.status.set_hedging(self.report());
            // Wake for new trades, the next order poll or lookup due, or the tick.
            let tick = Instant::now() + self.config.tick;
            let wake = self
                .next_poll
                .values()
                .chain(self.lookups.values().map(|lookups| &lookups.next))
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

    /// One pass: new hedges first (the shares of open executions are reserved, so they need not
    /// wait for polls), then open executions, then (when due) the positions check.
    pub async fn pass(&mut self) -> Result<(), HedgeError> {
        // Asked every pass (answers are cached): an unusable login shows on /health at once,
        // not only when a hedge is due.
        let market_open = self.broker.market_open().await?;
        let now = Instant::now();
        self.cooldown.retain(|_, until| *until > now);
        let open = self.ledger.open_executions().await?;
        if market_open {
            self.hedge_due(&open).await?;
        }
        let mut recovered = false;
        for execution in &open {
            if self
                .troubles
                .get(&execution.ticker)
                .is_some_and(|trouble| trouble.until > now)
            {
                continue;
            }
            let result = match execution.order_id {
                None => self.recover(execution, market_open).await,
                Some(order_id) => self.poll(execution, OrderId(order_id)).await,
            };
            match result {
                Ok(found) => {
                    recovered |= found;
                    self.troubles.remove(&execution.ticker);
                }
                Err(HedgeError::Broker(error)) if !matches!(error, BrokerError::ReauthNeeded) => {
                    self.trouble(&execution.ticker, &error);
                }
                Err(error) => return Err(error),
            }
        }
        let open = self.ledger.open_executions().await?;
        self.note_unsettled(&open);
        if recovered || Instant::now() >= self.next_reconcile {
            self.reconcile().await?;
        }
        Ok(())
    }

    /// Opens and places an execution for every symbol whose unhedged net (less the shares its
    /// open executions reserved) reached one share and that has none pending and fewer than
    /// `max_open_per_symbol` open: its submitted orders may still be working. An unknown outcome leaves its execution pending, the
    /// others go on.
    async fn hedge_due(&mut self, open: &[Execution]) -> Result<(), HedgeError> {
        let now = Instant::now();
        let due: Vec<Ticker> = self
            .ledger
            .positions()
            .await?
            .iter()
            .filter_map(hedge::plan)
            .map(|intent| intent.ticker)
            .filter(|ticker| !self.cooldown.contains_key(ticker))
            .filter(|ticker| {
                self.troubles
                    .get(ticker)
                    .is_none_or(|trouble| trouble.until <= now)
            })
            .filter(|ticker| {
                let mut theirs = open.iter().filter(|execution| &execution.ticker == ticker);
                let limit = usize::try_from(self.config.max_open_per_symbol).unwrap_or(usize::MAX);
                theirs.clone().count() < limit
                    && !theirs.any(|execution| execution.order_id.is_none())
            })
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        // One commit opens them all; then their orders are sent at once.
        let opened = self.ledger.begin_executions(&due).await?;
        for execution in &opened {
            tracing::info!(
                execution = execution.id,
                symbol = %execution.ticker,
                side = execution.side.as_str(),
                shares = execution.shares,
                "hedge opened"
            );
        }
        self.place_all(&opened).await
    }

    /// A pending execution: its order may be at the broker. Looked up (spaced, at most once per
    /// spacing); placed again only when absent at a lookup made after the settle period, and
    /// after at least two lookups. Returns whether its order was found.
    async fn recover(
        &mut self,
        execution: &Execution,
        market_open: bool,
    ) -> Result<bool, HedgeError> {
        let now = Instant::now();
        let lookups = *self
            .lookups
            .entry(execution.id)
            .or_insert(Lookups { done: 0, next: now });
        if lookups.next > now {
            return Ok(false);
        }
        let started = Utc::now();
        let known = self.ledger.known_order_ids().await?;
        let found = self
            .broker
            .find_order(&request(execution), execution.created_at, &known)
            .await?;
        let done = lookups.done + 1;
        self.lookups.insert(
            execution.id,
            Lookups {
                done,
                next: Instant::now() + self.lookup_spacing(),
            },
        );
        match found {
            Lookup::Found(order_id) => {
                tracing::info!(execution = execution.id, %order_id, lookups = done, "pending hedge found at the broker");
                self.ledger.mark_submitted(execution.id, order_id.0).await?;
                Status::add(&self.status.hedges_submitted, 1);
                self.forget(execution.id);
                self.next_poll.insert(execution.id, Instant::now());
                Ok(true)
            }
            Lookup::Ambiguous(orders) => {
                tracing::error!(
                    execution = execution.id,
                    symbol = %execution.ticker,
                    orders = ?orders.iter().map(|id| id.0).collect::<Vec<_>>(),
                    "several broker orders could be this hedge's: the symbol stays blocked until a person decides"
                );
                self.ambiguous
                    .insert(execution.id, (execution.ticker.clone(), orders));
                Ok(false)
            }
            Lookup::Absent => {
                self.ambiguous.remove(&execution.id);
                let unknown_for = started - execution.sent_at;
                let settled = unknown_for
                    >= TimeDelta::from_std(self.config.settle_period).unwrap_or(TimeDelta::MAX);
                if !settled || done < 2 {
                    tracing::debug!(
                        execution = execution.id,
                        lookups = done,
                        unknown_for_ms = unknown_for.num_milliseconds(),
                        "pending hedge not at the broker yet"
                    );
                    return Ok(false);
                }
                if market_open {
                    tracing::warn!(
                        execution = execution.id,
                        lookups = done,
                        unknown_for_ms = unknown_for.num_milliseconds(),
                        "hedge order absent at the broker after the settle period: placing it again"
                    );
                    self.ledger.mark_sending(execution.id).await?;
                    self.place(execution).await?;
                }
                Ok(false)
            }
        }
    }

    /// Sends the order of a pending execution (see [`Self::place_all`]).
    async fn place(&mut self, execution: &Execution) -> Result<(), HedgeError> {
        self.place_all(std::slice::from_ref(execution)).await
    }

    /// Sends the orders of pending executions concurrently; the accepted ones are recorded
    /// submitted in one commit. A refusal, or an order proven not placed, fails its execution (its
    /// shares go back to the symbol's unhedged net); a lost login stops the pass; any other error
    /// leaves the outcome unknown and the execution pending, to be looked up before it is ever
    /// placed again.
    async fn place_all(&mut self, executions: &[Execution]) -> Result<(), HedgeError> {
        for execution in executions {
            self.forget(execution.id);
        }
        let requests: Vec<OrderRequest> = executions.iter().map(request).collect();
        let broker = &self.broker;
        let outcomes = join_all(requests.iter().map(|order| broker.place(order))).await;
        let mut submitted = Vec::new();
        let mut unplaced = Vec::new();
        for (execution, outcome) in executions.iter().zip(outcomes) {
            match outcome {
                Ok(order_id) => submitted.push((execution.id, order_id)),
                Err(error) => unplaced.push((execution, error)),
            }
        }
        let ids: Vec<(i64, i64)> = submitted.iter().map(|(id, order)| (*id, order.0)).collect();
        self.ledger.mark_submitted_all(&ids).await?;
        for (execution, order_id) in submitted {
            Status::add(&self.status.hedges_submitted, 1);
            tracing::info!(execution, %order_id, "hedge order submitted");
            self.next_poll
                .insert(execution, Instant::now() + self.jittered_poll());
        }
        let mut result = Ok(());
        for (execution, error) in unplaced {
            let handled = self.unplaced(execution, error).await;
            if result.is_ok() {
                result = handled;
            }
        }
        result
    }

    /// An order the broker did not accept, or whose outcome is unknown.
    async fn unplaced(
        &mut self,
        execution: &Execution,
        error: BrokerError,
    ) -> Result<(), HedgeError> {
        match error {
            BrokerError::Refused(reason) => {
                tracing::warn!(execution = execution.id, %reason, "hedge order refused");
                self.fail(execution, &reason, 0, self.config.failure_cooldown)
                    .await
            }
            BrokerError::NotPlaced(reason) => {
                tracing::warn!(execution = execution.id, %reason, "hedge order not placed: its shares wait for the next pass");
                // Not the order's fault: sent again after a poll interval, not the failure cooldown.
                self.fail(execution, &reason, 0, self.config.poll_interval)
                    .await
            }
            BrokerError::ReauthNeeded => Err(BrokerError::ReauthNeeded.into()),
            error => {
                tracing::warn!(execution = execution.id, %error, "hedge order outcome unknown: looked up before any new order");
                self.lookups.insert(
                    execution.id,
                    Lookups {
                        done: 0,
                        next: Instant::now(),
                    },
                );
                Ok(())
            }
        }
    }

    /// A submitted execution: polls its order when due. Returns false (nothing recovered).
    async fn poll(&mut self, execution: &Execution, order_id: OrderId) -> Result<bool, HedgeError> {
        let now = Instant::now();
        if self
            .next_poll
            .get(&execution.id)
            .is_some_and(|due| *due > now)
        {
            return Ok(false);
        }
        self.next_poll
            .insert(execution.id, now + self.jittered_poll());
        match self.broker.order_state(order_id).await? {
            OrderState::Open => {}
            OrderState::Filled { average_price } => {
                self.ledger.mark_filled(execution.id, average_price).await?;
                self.next_poll.remove(&execution.id);
                Status::add(&self.status.hedges_filled, 1);
                tracing::info!(execution = execution.id, %order_id, %average_price, "hedge filled");
            }
            OrderState::Replaced { by } => {
                tracing::warn!(execution = execution.id, replaced = %order_id, replacing = %by, "hedge order replaced at the broker: following the replacing order");
                self.ledger
                    .follow_replacement(execution.id, order_id.0, by.0)
                    .await?;
                self.next_poll.insert(execution.id, Instant::now());
            }
            OrderState::Failed {
                reason,
                filled_shares,
            } => {
                tracing::warn!(execution = execution.id, %order_id, %reason, filled_shares, "hedge order failed");
                self.fail(
                    execution,
                    &reason,
                    filled_shares,
                    self.config.failure_cooldown,
                )
                .await?;
            }
        }
        Ok(false)
    }

    async fn fail(
        &mut self,
        execution: &Execution,
        reason: &str,
        filled_shares: u64,
        cooldown: Duration,
    ) -> Result<(), HedgeError> {
        self.ledger
            .mark_failed(execution.id, reason, filled_shares)
            .await?;
        self.next_poll.remove(&execution.id);
        self.cooldown
            .insert(execution.ticker.clone(), Instant::now() + cooldown);
        Status::add(&self.status.hedges_failed, 1);
        Ok(())
    }

    /// Compares the broker's positions with the ledger's executed hedges, for every symbol
    /// without an open execution (whose fills may be in flight).
    async fn reconcile(&mut self) -> Result<(), HedgeError> {
        self.next_reconcile = Instant::now() + self.config.reconcile_interval;
        let Some(broker) = self.broker.positions().await? else {
            return Ok(());
        };
        let ledger = self.ledger.executed_hedges().await?;
        let symbols: BTreeSet<&String> = broker.keys().chain(ledger.keys()).collect();
        let mut mismatches = Vec::new();
        for symbol in symbols {
            let (hedged, open) = ledger.get(symbol).copied().unwrap_or((0, false));
            if open {
                continue;
            }
            let held = broker.get(symbol).copied().unwrap_or_default();
            let hedged = Decimal::from(hedged);
            if held != hedged {
                tracing::error!(%symbol, broker = %held, ledger = %hedged, "broker position differs from the ledger's hedges");
                mismatches.push(PositionMismatch {
                    symbol: symbol.clone(),
                    broker: held,
                    ledger: hedged,
                    difference: held - hedged,
                });
            }
        }
        self.mismatches = mismatches;
        Ok(())
    }

    /// Marks `ticker` as backing off after an error of its execution.
    fn trouble(&mut self, ticker: &Ticker, error: &BrokerError) {
        let errors = self
            .troubles
            .get(ticker)
            .map_or(1, |trouble| trouble.errors.saturating_add(1));
        let backoff = self.config.failure_cooldown * 2_u32.pow(errors.min(5) - 1);
        tracing::warn!(symbol = %ticker, %error, errors, ?backoff, "hedge execution failed on the broker: this symbol backs off, the others go on");
        self.troubles.insert(
            ticker.clone(),
            Trouble {
                reason: error.to_string(),
                errors,
                until: Instant::now() + backoff,
            },
        );
    }

    /// Drops the lookup state of an execution that is sent or resolved.
    fn forget(&mut self, execution: i64) {
        self.lookups.remove(&execution);
        self.ambiguous.remove(&execution);
    }

    /// Remembers which pending executions wait for their outcome, for the report.
    fn note_unsettled(&mut self, open: &[Execution]) {
        let pending: Vec<_> = open
            .iter()
            .filter(|execution| execution.order_id.is_none())
            .map(|execution| (execution.id, execution.ticker.clone(), execution.sent_at))
            .collect();
        self.lookups
            .retain(|id, _| pending.iter().any(|(pending, ..)| pending == id));
        self.ambiguous
            .retain(|id, _| pending.iter().any(|(pending, ..)| pending == id));
        let symbols: Vec<&Ticker> = open.iter().map(|execution| &execution.ticker).collect();
        self.troubles.retain(|ticker, _| symbols.contains(&ticker));
        self.unsettled = pending;
    }

    /// The problems `/health` shows.
    fn report(&self) -> HedgingReport {
        let settle = TimeDelta::from_std(self.config.settle_period).unwrap_or(TimeDelta::MAX);
        let now = Utc::now();
        HedgingReport {
            unknown_outcomes: self
                .unsettled
                .iter()
                .filter(|(.., sent)| now - *sent > settle)
                .map(|(id, ticker, sent)| UnknownOutcome {
                    execution: *id,
                    symbol: ticker.to_string(),
                    unknown_for_secs: (now - *sent).num_seconds(),
                })
                .collect(),
            ambiguous: self
                .ambiguous
                .iter()
                .map(|(id, (ticker, orders))| AmbiguousOrders {
                    execution: *id,
                    symbol: ticker.to_string(),
                    orders: orders.iter().map(|order| order.0).collect(),
                })
                .collect(),
            backing_off: self
                .troubles
                .iter()
                .map(|(ticker, trouble)| SymbolTrouble {
                    symbol: ticker.to_string(),
                    reason: trouble.reason.clone(),
                    errors: trouble.errors,
                })
                .collect(),
            mismatches: self.mismatches.clone(),
        }
    }

    /// Lookups of an unknown outcome are spaced so that several fall in the settle period.
    fn lookup_spacing(&self) -> Duration {
        (self.config.settle_period / 4).max(self.config.poll_interval)
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
