//! What tests read back: every order placed and the resulting per-symbol positions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::orders::{Instruction, Order, OrderStatus};

/// Snapshot of every order and position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Every order placed, oldest first.
    pub orders: Vec<LedgerOrder>,
    /// Net whole shares per symbol over all accounts (negative = short).
    pub positions: BTreeMap<String, i64>,
}

/// One order as the simulator executed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerOrder {
    /// Schwab's order id.
    pub order_id: i64,
    /// The plain account number.
    pub account_number: String,
    /// The instrument's symbol.
    pub symbol: String,
    /// BUY, SELL, SELL_SHORT or BUY_TO_COVER.
    pub instruction: Instruction,
    /// Shares ordered.
    pub quantity: u64,
    pub status: OrderStatus,
    /// Why it was rejected, if it was.
    pub status_description: Option<String>,
    /// Executions so far.
    pub fills: Vec<LedgerFill>,
    /// Shares executed so far.
    pub filled_quantity: u64,
    /// Quantity-weighted average execution price.
    pub average_price: Option<f64>,
    /// When the order was placed.
    pub entered_time: DateTime<Utc>,
    /// When it reached a terminal status.
    pub close_time: Option<DateTime<Utc>>,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFill {
    /// Shares executed.
    pub quantity: u64,
    /// Price per share.
    pub price: f64,
    /// When it executed.
    pub time: DateTime<Utc>,
}

impl Ledger {
    /// Builds the snapshot from the order book.
    pub(crate) fn of(orders: &[Order]) -> Self {
        let mut positions = BTreeMap::new();
        for order in orders {
            let shares = i64::try_from(order.filled_quantity()).unwrap_or(i64::MAX);
            *positions.entry(order.request.symbol.clone()).or_insert(0) +=
                order.request.instruction.sign() * shares;
        }
        let orders = orders
            .iter()
            .map(|order| LedgerOrder {
                order_id: order.id,
                account_number: order.account_number.clone(),
                symbol: order.request.symbol.clone(),
                instruction: order.request.instruction,
                quantity: order.request.quantity,
                status: order.status,
                status_description: order.status_description.clone(),
                fills: order
                    .executions
                    .iter()
                    .map(|execution| LedgerFill {
                        quantity: execution.quantity,
                        price: execution.price,
                        time: execution.time,
                    })
                    .collect(),
                filled_quantity: order.filled_quantity(),
                average_price: order.average_price(),
                entered_time: order.entered,
                close_time: order.closed,
            })
            .collect();
        Self { orders, positions }
    }
}
