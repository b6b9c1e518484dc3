//! Faults injected on demand through the Rust API or `/_sim/faults`.

use serde::{Deserialize, Serialize};

use crate::orders::Fate;

/// A misbehaviour of the real API, armed for a number of calls or orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The next `calls` API calls answer 401 as if the access token had expired.
    Unauthorized {
        /// How many calls fail.
        calls: u32,
    },
    /// The next `calls` API calls answer 429 (a throttling storm).
    RateLimited {
        /// How many calls fail.
        calls: u32,
        /// Seconds sent in `Retry-After`, if any.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// The next `calls` API calls answer this 5xx status (e.g. 500, 502, 503).
    ServerError {
        /// How many calls fail.
        calls: u32,
        /// The HTTP status to answer.
        status: u16,
    },
    /// The next `orders` placements create the order but the client never sees the 201.
    LoseOrderResponse {
        /// How many placements lose their response.
        orders: u32,
        /// What the client sees instead.
        instead: LostResponse,
    },
    /// The next `orders` placements are accepted (201) and then `REJECTED`.
    RejectOrders {
        /// How many orders are rejected.
        orders: u32,
        /// The `statusDescription` of the rejection.
        reason: String,
    },
    /// The next `orders` placements go `WORKING` and never fill.
    StickOrders {
        /// How many orders get stuck.
        orders: u32,
    },
    /// The next `orders` placements reach Schwab `before_ms` late (the order is created then, as
    /// when a POST is slow to arrive) and their answer leaves `after_ms` after Schwab acted.
    DelayOrders {
        /// How many placements are delayed.
        orders: u32,
        /// Delay before the order is created.
        #[serde(default)]
        before_ms: u64,
        /// Delay between creating the order and answering.
        #[serde(default)]
        after_ms: u64,
    },
    /// The next `calls` `GET .../orders/{id}` answer 404, as for an order Schwab cannot show yet.
    OrderNotFound {
        /// How many lookups fail.
        calls: u32,
    },
    /// The next `calls` `GET .../orders/{id}` show the order without its executions (a `FILLED`
    /// order without execution legs).
    HideExecutions {
        /// How many lookups lack executions.
        calls: u32,
    },
}

/// How the next `GET .../orders/{id}` misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupFault {
    /// Answer 404.
    NotFound,
    /// Omit `orderActivityCollection`.
    HideExecutions,
}

/// What replaces the 201 of a placed order whose response is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LostResponse {
    /// The connection is closed before any response byte.
    Drop,
    /// This status (e.g. 500, 502, 503) with a gateway error body.
    Status {
        /// The HTTP status to answer.
        status: u16,
    },
    /// Nothing for `after_ms` milliseconds, then 504 Gateway Timeout.
    Timeout {
        /// How long the response is held.
        after_ms: u64,
    },
}

impl Fault {
    fn remaining(&mut self) -> &mut u32 {
        match self {
            Self::Unauthorized { calls }
            | Self::RateLimited { calls, .. }
            | Self::ServerError { calls, .. } => calls,
            Self::LoseOrderResponse { orders, .. }
            | Self::RejectOrders { orders, .. }
            | Self::StickOrders { orders }
            | Self::DelayOrders { orders, .. } => orders,
            Self::OrderNotFound { calls } | Self::HideExecutions { calls } => calls,
        }
    }

    fn is_per_call(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. } | Self::RateLimited { .. } | Self::ServerError { .. }
        )
    }
}

/// The armed faults, consumed one call or order at a time in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<Fault>,
}

impl Faults {
    /// Arms a fault; one with a zero count is ignored.
    pub(crate) fn inject(&mut self, mut fault: Fault) {
        if *fault.remaining() > 0 {
            self.armed.push(fault);
        }
    }

    /// Disarms every fault.
    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The armed faults with their remaining counts.
    pub(crate) fn armed(&self) -> Vec<Fault> {
        self.armed.clone()
    }

    /// Consumes one use of the first armed per-call fault.
    pub(crate) fn take_call_fault(&mut self) -> Option<Fault> {
        self.take(Fault::is_per_call)
    }

    /// Consumes one use of each kind of per-order fault: how the next order behaves, and what
    /// replaces its 201 if its response is lost.
    pub(crate) fn take_order_faults(&mut self) -> (Fate, Option<LostResponse>) {
        let reject = match self.take(|fault| matches!(fault, Fault::RejectOrders { .. })) {
            Some(Fault::RejectOrders { reason, .. }) => Some(reason),
            _ => None,
        };
        let stuck = self
            .take(|fault| matches!(fault, Fault::StickOrders { .. }))
            .is_some();
        let lost = match self.take(|fault| matches!(fault, Fault::LoseOrderResponse { .. })) {
            Some(Fault::LoseOrderResponse { instead, .. }) => Some(instead),
            _ => None,
        };
        (Fate { reject, stuck }, lost)
    }

    /// Consumes one use of an armed order delay: `(before, after)` in milliseconds.
    pub(crate) fn take_order_delay(&mut self) -> (u64, u64) {
        match self.take(|fault| matches!(fault, Fault::DelayOrders { .. })) {
            Some(Fault::DelayOrders {
                before_ms,
                after_ms,
                ..
            }) => (before_ms, after_ms),
            _ => (0, 0),
        }
    }

    /// Consumes one use of the first armed order-lookup fault.
    pub(crate) fn take_lookup_fault(&mut self) -> Option<LookupFault> {
        match self.take(|fault| {
            matches!(
                fault,
                Fault::OrderNotFound { .. } | Fault::HideExecutions { .. }
            )
        })? {
            Fault::OrderNotFound { .. } => Some(LookupFault::NotFound),
            _ => Some(LookupFault::HideExecutions),
        }
    }

    /// Consumes one use of the first armed fault that `matches`.
    fn take(&mut self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.armed.iter().position(matches)?;
        let taken = self.armed[index].clone();
        let remaining = self.armed[index].remaining();
        *remaining -= 1;
        if *remaining == 0 {
            self.armed.remove(index);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_disarm_at_zero() {
        let mut faults = Faults::default();
        faults.inject(Fault::Unauthorized { calls: 2 });
        faults.inject(Fault::StickOrders { orders: 1 });
        faults.inject(Fault::ServerError {
            calls: 1,
            status: 503,
        });
        assert!(matches!(
            faults.take_call_fault(),
            Some(Fault::Unauthorized { .. })
        ));
        assert!(matches!(
            faults.take_call_fault(),
            Some(Fault::Unauthorized { .. })
        ));
        assert!(matches!(
            faults.take_call_fault(),
            Some(Fault::ServerError { status: 503, .. })
        ));
        assert_eq!(faults.take_call_fault(), None);
        assert_eq!(faults.armed(), vec![Fault::StickOrders { orders: 1 }]);
    }

    #[test]
    fn a_zero_count_fault_never_fires() {
        let mut faults = Faults::default();
        faults.inject(Fault::Unauthorized { calls: 0 });
        assert_eq!(faults.take_call_fault(), None);
        assert!(faults.armed().is_empty());
    }

    #[test]
    fn one_order_consumes_one_use_of_each_order_fault() {
        let mut faults = Faults::default();
        faults.inject(Fault::RejectOrders {
            orders: 1,
            reason: "no".to_owned(),
        });
        faults.inject(Fault::LoseOrderResponse {
            orders: 2,
            instead: LostResponse::Drop,
        });
        faults.inject(Fault::Unauthorized { calls: 1 });
        let (fate, lost) = faults.take_order_faults();
        assert_eq!(
            (fate.reject.as_deref(), fate.stuck, lost),
            (Some("no"), false, Some(LostResponse::Drop))
        );
        let (fate, lost) = faults.take_order_faults();
        assert_eq!((fate.reject, lost), (None, Some(LostResponse::Drop)));
        assert_eq!(faults.take_order_faults().1, None);
        assert_eq!(faults.armed(), vec![Fault::Unauthorized { calls: 1 }]);
    }
}
