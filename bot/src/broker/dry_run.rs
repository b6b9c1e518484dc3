//! The dry-run broker: orders are logged and filled at once at a configured price; nothing leaves
//! the process. For a first run without Schwab credentials.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{Broker, BrokerError, Lookup, OrderId, OrderRequest, OrderState};

/// Fills every order at `fill_price`; the market is always open.
#[derive(Debug)]
pub struct DryRunBroker {
    fill_price: Decimal,
    next_id: AtomicI64,
}

impl DryRunBroker {
    /// A dry run filling at `fill_price`. Order ids start at the current time in microseconds,
    /// so they stay unique across restarts.
    pub fn new(fill_price: Decimal) -> Self {
        Self {
            fill_price,
            next_id: AtomicI64::new(Utc::now().timestamp_micros()),
        }
    }
}

impl Broker for DryRunBroker {
    fn name(&self) -> &'static str {
        "dry-run"
    }

    async fn market_open(&self) -> Result<bool, BrokerError> {
        Ok(true)
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderId, BrokerError> {
        let id = OrderId(self.next_id.fetch_add(1, Ordering::Relaxed));
        tracing::info!(
            order_id = %id,
            symbol = %order.ticker,
            side = order.side.as_str(),
            shares = order.shares,
            "dry run: order not sent"
        );
        Ok(id)
    }

    async fn order_state(&self, _id: OrderId) -> Result<OrderState, BrokerError> {
        Ok(OrderState::Filled {
            average_price: self.fill_price,
        })
    }

    async fn find_order(
        &self,
        _order: &OrderRequest,
        _since: DateTime<Utc>,
        _known: &HashSet<i64>,
    ) -> Result<Lookup, BrokerError> {
        // Nothing was ever sent anywhere: placing again cannot double a real order.
        Ok(Lookup::Absent)
    }

    async fn positions(&self) -> Result<Option<BTreeMap<String, Decimal>>, BrokerError> {
        Ok(None)
    }
}
