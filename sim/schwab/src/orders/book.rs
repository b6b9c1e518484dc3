//! The order book: placement, the time-driven state machine, fills and cancellation.
//!
//! State is a function of time: every read first calls [`OrderBook::advance`], which applies the
//! transitions that are due, stamped with the instant they were due (not the instant of the read).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::request::OrderRequest;
use super::status::OrderStatus;
use crate::time;

/// Execution prices: each symbol's list of prices splits an order into one fill per price.
#[derive(Debug, Clone)]
pub(crate) struct Pricing {
    pub(crate) prices: BTreeMap<String, Vec<f64>>,
    pub(crate) default_price: f64,
}

impl Pricing {
    fn quotes(&self, symbol: &str) -> Vec<f64> {
        match self.prices.get(symbol) {
            Some(prices) if !prices.is_empty() => prices.clone(),
            _ => vec![self.default_price],
        }
    }
}

/// How long each stage of an order lasts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) activation_delay: Duration,
    pub(crate) fill_delay: Duration,
}

/// One execution of an order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Execution {
    pub(crate) quantity: u64,
    pub(crate) price: f64,
    pub(crate) time: DateTime<Utc>,
}

/// How a new order will behave, decided by the faults armed when it was placed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fate {
    /// Reject it at once with this `statusDescription`.
    pub(crate) reject: Option<String>,
    /// Let it work without ever filling.
    pub(crate) stuck: bool,
}

/// An order and its history.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) id: i64,
    pub(crate) account_number: String,
    pub(crate) request: OrderRequest,
    pub(crate) status: OrderStatus,
    pub(crate) status_description: Option<String>,
    pub(crate) entered: DateTime<Utc>,
    pub(crate) closed: Option<DateTime<Utc>>,
    pub(crate) executions: Vec<Execution>,
    /// The order that replaced it (status `REPLACED`).
    pub(crate) replaced_by: Option<i64>,
    /// When it goes `WORKING` (None while the market is closed).
    activate_at: Option<DateTime<Utc>>,
    working_since: Option<DateTime<Utc>>,
    /// Fills still to come, as `(quantity, price)`.
    planned: Vec<(u64, f64)>,
    stuck: bool,
}

impl Order {
    /// Shares executed so far.
    pub(crate) fn filled_quantity(&self) -> u64 {
        self.executions
            .iter()
            .map(|execution| execution.quantity)
            .sum()
    }

    /// Quantity-weighted average execution price.
    pub(crate) fn average_price(&self) -> Option<f64> {
        let filled = self.filled_quantity();
        let notional: f64 = self
            .executions
            .iter()
            .map(|execution| execution.quantity as f64 * execution.price)
            .sum();
        (filled > 0).then(|| notional / filled as f64)
    }

    fn step(&mut self, now: DateTime<Utc>, timing: Timing, pricing: &Pricing) {
        if matches!(
            self.status,
            OrderStatus::PendingActivation | OrderStatus::Queued
        ) {
            match self.activate_at {
                Some(at) if at <= now => {
                    self.status = OrderStatus::Working;
                    self.working_since = Some(at);
                    if !self.stuck {
                        self.planned =
                            plan_fills(&self.request, &pricing.quotes(&self.request.symbol));
                    }
                }
                _ => return,
            }
        }
        if self.status != OrderStatus::Working || self.planned.is_empty() {
            return;
        }
        let Some(start) = self.working_since else {
            return;
        };
        let total = self.planned.len() + self.executions.len();
        while let Some(&(quantity, price)) = self.planned.first() {
            let due = time::after(
                start,
                timing.fill_delay * (self.executions.len() as u32 + 1) / total as u32,
            );
            if due > now {
                return;
            }
            self.planned.remove(0);
            self.executions.push(Execution {
                quantity,
                price,
                time: due,
            });
        }
        self.status = OrderStatus::Filled;
        self.closed = self.executions.last().map(|execution| execution.time);
    }
}

/// Splits an order across the prices that satisfy it (a limit order only takes prices at or
/// better than its limit), one fill per price, spreading the remainder over the first fills.
fn plan_fills(request: &OrderRequest, quotes: &[f64]) -> Vec<(u64, f64)> {
    let acceptable: Vec<f64> = quotes
        .iter()
        .copied()
        .filter(
            |price| match (request.limit_price, request.instruction.sign()) {
                (None, _) => true,
                (Some(limit), 1) => *price <= limit,
                (Some(limit), _) => *price >= limit,
            },
        )
        .collect();
    let legs = (acceptable.len() as u64).min(request.quantity);
    if legs == 0 {
        return Vec::new();
    }
    let (base, extra) = (request.quantity / legs, request.quantity % legs);
    acceptable
        .iter()
        .take(legs as usize)
        .zip(0..)
        .map(|(price, index)| (base + u64::from(index < extra), *price))
        .collect()
}

/// Why an order cannot be canceled or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChangeError {
    /// No such order in this account.
    #[error("order not found")]
    NotFound,
    /// The order already reached a terminal status.
    #[error("order is {0:?} and can no longer be changed")]
    Terminal(OrderStatus),
}

/// Every order placed on the simulator, oldest first.
#[derive(Debug)]
pub(crate) struct OrderBook {
    orders: Vec<Order>,
    next_id: i64,
}

impl OrderBook {
    /// An empty book whose ids start at a random 13-digit number, like Schwab's.
    pub(crate) fn new() -> Self {
        Self {
            orders: Vec::new(),
            next_id: fastrand::i64(1_000_000_000_000..2_000_000_000_000),
        }
    }

    /// Accepts an order and returns its id.
    pub(crate) fn place(
        &mut self,
        account_number: &str,
        request: OrderRequest,
        fate: Fate,
        now: DateTime<Utc>,
        market_open: bool,
        timing: Timing,
    ) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let (status, activate_at) = match (&fate.reject, market_open) {
            (Some(_), _) => (OrderStatus::Rejected, None),
            (None, true) => (
                OrderStatus::PendingActivation,
                Some(time::after(now, timing.activation_delay)),
            ),
            (None, false) => (OrderStatus::Queued, None),
        };
        self.orders.push(Order {
            id,
            account_number: account_number.to_owned(),
            request,
            status,
            closed: fate.reject.is_some().then_some(now),
            status_description: fate.reject,
            entered: now,
            executions: Vec::new(),
            replaced_by: None,
            activate_at,
            working_since: None,
            planned: Vec::new(),
            stuck: fate.stuck,
        });
        id
    }

    /// Applies every transition due by `now`.
    pub(crate) fn advance(&mut self, now: DateTime<Utc>, timing: Timing, pricing: &Pricing) {
        for order in &mut self.orders {
            order.step(now, timing, pricing);
        }
    }

    /// Reacts to the market opening (queued orders start activating) or closing (orders not yet
    /// working go back to the queue; working `DAY` orders expire with the session, keeping their
    /// partial fills). Call [`Self::advance`] first.
    pub(crate) fn market_changed(&mut self, open: bool, now: DateTime<Utc>, timing: Timing) {
        for order in &mut self.orders {
            match (open, order.status) {
                (true, OrderStatus::Queued) => {
                    order.status = OrderStatus::PendingActivation;
                    order.activate_at = Some(time::after(now, timing.activation_delay));
                }
                (false, OrderStatus::PendingActivation) => {
                    order.status = OrderStatus::Queued;
                    order.activate_at = None;
                }
                (false, OrderStatus::Working) if order.request.duration == "DAY" => {
                    order.status = OrderStatus::Expired;
                    order.closed = Some(now);
                    order.planned.clear();
                }
                _ => {}
            }
        }
    }

    /// Cancels an open order of `account_number`.
    pub(crate) fn cancel(
        &mut self,
        account_number: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.close(account_number, id, OrderStatus::Canceled, now)
    }

    /// Marks an open order of `account_number` `REPLACED`; the caller places its replacement.
    pub(crate) fn replace(
        &mut self,
        account_number: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        self.close(account_number, id, OrderStatus::Replaced, now)
    }

    /// Records that `new` replaced `old` (Schwab's `replacingOrderCollection`).
    pub(crate) fn link_replacement(&mut self, old: i64, new: i64) {
        if let Some(order) = self.orders.iter_mut().find(|order| order.id == old) {
            order.replaced_by = Some(new);
        }
    }

    fn close(
        &mut self,
        account_number: &str,
        id: i64,
        status: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let order = self
            .orders
            .iter_mut()
            .find(|order| order.id == id && order.account_number == account_number)
            .ok_or(ChangeError::NotFound)?;
        if order.status.is_terminal() {
            return Err(ChangeError::Terminal(order.status));
        }
        order.status = status;
        order.closed = Some(now);
        order.planned.clear();
        Ok(())
    }

    /// Every order, oldest first.
    pub(crate) fn orders(&self) -> &[Order] {
        &self.orders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::Instruction;

    const TIMING: Timing = Timing {
        activation_delay: Duration::from_secs(1),
        fill_delay: Duration::from_secs(4),
    };

    fn request(quantity: u64, limit_price: Option<f64>, instruction: Instruction) -> OrderRequest {
        OrderRequest {
            order_type: if limit_price.is_some() {
                "LIMIT"
            } else {
                "MARKET"
            }
            .to_owned(),
            session: "NORMAL".to_owned(),
            duration: "DAY".to_owned(),
            strategy: "SINGLE".to_owned(),
            complex_strategy: "NONE".to_owned(),
            limit_price,
            instruction,
            quantity,
            symbol: "AAPL".to_owned(),
        }
    }

    fn pricing(prices: &[f64]) -> Pricing {
        Pricing {
            prices: BTreeMap::from([("AAPL".to_owned(), prices.to_vec())]),
            default_price: 1.0,
        }
    }

    fn at(seconds: u64) -> DateTime<Utc> {
        time::after(
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            Duration::from_secs(seconds),
        )
    }

    #[test]
    fn market_order_walks_to_filled_with_staggered_fills() {
        let mut book = OrderBook::new();
        let pricing = pricing(&[100.0, 101.0]);
        let id = book.place(
            "1",
            request(3, None, Instruction::Buy),
            Fate::default(),
            at(0),
            true,
            TIMING,
        );
        let status = |book: &OrderBook| book.orders()[0].status;
        assert_eq!(status(&book), OrderStatus::PendingActivation);
        book.advance(at(1), TIMING, &pricing);
        assert_eq!(status(&book), OrderStatus::Working);
        book.advance(at(3), TIMING, &pricing);
        assert_eq!(
            (status(&book), book.orders()[0].filled_quantity()),
            (OrderStatus::Working, 2)
        );
        book.advance(at(60), TIMING, &pricing);
        let order = &book.orders()[0];
        assert_eq!(
            (order.id, order.status, order.filled_quantity()),
            (id, OrderStatus::Filled, 3)
        );
        assert_eq!(order.closed, Some(at(5)));
        assert_eq!(order.executions[0].time, at(3));
        let average = order.average_price().unwrap();
        assert!((average - (2.0 * 100.0 + 101.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn closed_market_queues_until_open() {
        let mut book = OrderBook::new();
        book.place(
            "1",
            request(1, None, Instruction::Sell),
            Fate::default(),
            at(0),
            false,
            TIMING,
        );
        book.advance(at(100), TIMING, &pricing(&[5.0]));
        assert_eq!(book.orders()[0].status, OrderStatus::Queued);
        book.market_changed(true, at(100), TIMING);
        book.advance(at(105), TIMING, &pricing(&[5.0]));
        assert_eq!(book.orders()[0].status, OrderStatus::Filled);
        assert_eq!(book.orders()[0].closed, Some(at(105)));
    }

    #[test]
    fn closing_the_market_expires_working_day_orders() {
        let mut book = OrderBook::new();
        let pricing = pricing(&[5.0]);
        let mut good_till_cancel = request(1, Some(1.0), Instruction::Buy);
        good_till_cancel.duration = "GOOD_TILL_CANCEL".to_owned();
        book.place(
            "1",
            request(1, Some(1.0), Instruction::Buy),
            Fate::default(),
            at(0),
            true,
            TIMING,
        );
        book.place("1", good_till_cancel, Fate::default(), at(0), true, TIMING);
        book.advance(at(10), TIMING, &pricing);
        book.market_changed(false, at(10), TIMING);
        let statuses: Vec<_> = book.orders().iter().map(|order| order.status).collect();
        assert_eq!(statuses, vec![OrderStatus::Expired, OrderStatus::Working]);
        assert_eq!(book.orders()[0].closed, Some(at(10)));
    }

    #[test]
    fn limit_orders_only_take_acceptable_prices() {
        assert_eq!(
            plan_fills(
                &request(4, Some(100.5), Instruction::Buy),
                &[100.0, 101.0, 100.5]
            ),
            vec![(2, 100.0), (2, 100.5)]
        );
        assert_eq!(
            plan_fills(&request(1, Some(100.5), Instruction::Sell), &[100.0]),
            vec![]
        );
        assert_eq!(
            plan_fills(&request(1, None, Instruction::Buy), &[1.0, 2.0]),
            vec![(1, 1.0)]
        );
    }

    #[test]
    fn rejected_stuck_and_canceled_orders() {
        let mut book = OrderBook::new();
        let reject = Fate {
            reject: Some("no".to_owned()),
            stuck: false,
        };
        let rejected = book.place(
            "1",
            request(1, None, Instruction::Buy),
            reject,
            at(0),
            true,
            TIMING,
        );
        let stuck = book.place(
            "1",
            request(1, None, Instruction::Buy),
            Fate {
                reject: None,
                stuck: true,
            },
            at(0),
            true,
            TIMING,
        );
        book.advance(at(100), TIMING, &pricing(&[1.0]));
        assert_eq!(book.orders()[0].status, OrderStatus::Rejected);
        assert_eq!(book.orders()[1].status, OrderStatus::Working);
        assert_eq!(
            book.cancel("1", rejected, at(100)),
            Err(ChangeError::Terminal(OrderStatus::Rejected))
        );
        assert_eq!(book.cancel("2", stuck, at(100)), Err(ChangeError::NotFound));
        assert_eq!(book.cancel("1", stuck, at(100)), Ok(()));
        assert_eq!(book.orders()[1].status, OrderStatus::Canceled);
    }

    #[test]
    fn replaced_orders_are_closed_for_good() {
        let mut book = OrderBook::new();
        let old = book.place(
            "1",
            request(1, Some(1.0), Instruction::Buy),
            Fate::default(),
            at(0),
            true,
            TIMING,
        );
        assert_eq!(book.replace("2", old, at(1)), Err(ChangeError::NotFound));
        assert_eq!(book.replace("1", old, at(1)), Ok(()));
        assert_eq!(
            (book.orders()[0].status, book.orders()[0].closed),
            (OrderStatus::Replaced, Some(at(1)))
        );
        assert_eq!(
            book.replace("1", old, at(2)),
            Err(ChangeError::Terminal(OrderStatus::Replaced))
        );
    }
}
