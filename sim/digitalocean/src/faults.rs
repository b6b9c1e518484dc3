//! Switchable faults: latency, 429 storms, 500s and create responses that get lost.

use serde::{Deserialize, Serialize};

/// Faults applied to `/v2` requests. Counters count down as faults fire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra latency added to every `/v2` request, in milliseconds.
    pub latency_ms: u64,
    /// The next this many matching requests get 429 `too_many_requests` with `retry-after`.
    pub rate_limit_storm: u32,
    /// `retry-after` seconds sent during a 429 storm.
    pub storm_retry_after_secs: u64,
    /// The next this many matching requests get 500 `server_error` (nothing is done).
    pub server_errors: u32,
    /// The next this many successful `POST`s (creates and actions) do their work, then lose the response.
    pub lost_responses: u32,
    /// How a lost response shows to the client.
    pub lost_response_mode: LostResponse,
    /// How long a [`LostResponse::Stall`] holds the response, in milliseconds.
    pub stall_ms: u64,
    /// The next this many droplet or volume actions end `errored` (without their effect).
    pub errored_actions: u32,
    /// Restricts every fault but latency to one route, e.g. `POST /v2/droplets` (all routes when unset).
    pub route: Option<String>,
    /// Every `/v2` request after the first this many (counted since the counters were last reset) is held: never
    /// answered, never carried out. A client killed while held made exactly this many calls.
    pub hold_after: Option<u64>,
}

/// How a create whose response is lost shows to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostResponse {
    /// The gateway answers 504 after the work is done.
    #[default]
    GatewayTimeout,
    /// The server answers 500 after the work is done.
    ServerError,
    /// The connection is cut before the response body is sent.
    Disconnect,
    /// The response is held for `stall_ms` (clients time out), then answered 504.
    Stall,
    /// The success status arrives with a body that is not the API's (a proxy's HTML page).
    Garbled,
}

/// What the fault switches decide for one request before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Serve normally.
    None,
    /// Answer 429 with this `retry-after`.
    RateLimited { retry_after_secs: u64 },
    /// Answer 500.
    ServerError,
}

impl Faults {
    fn spares(&self, route: &str) -> bool {
        self.route.as_deref().is_some_and(|only| only != route)
    }

    /// Picks (and consumes) the fault for a request to `route` (`"METHOD /template"`).
    pub(crate) fn inject(&mut self, route: &str) -> Injected {
        if self.spares(route) {
            return Injected::None;
        }
        if self.rate_limit_storm > 0 {
            self.rate_limit_storm -= 1;
            return Injected::RateLimited {
                retry_after_secs: self.storm_retry_after_secs,
            };
        }
        if self.server_errors > 0 {
            self.server_errors -= 1;
            return Injected::ServerError;
        }
        Injected::None
    }

    /// Whether the next action errors (consumes one).
    pub(crate) fn take_errored_action(&mut self) -> bool {
        let fails = self.errored_actions > 0;
        self.errored_actions = self.errored_actions.saturating_sub(1);
        fails
    }

    /// Whether the response of a successful `POST` to `route` is lost (consumes one).
    pub(crate) fn take_lost_response(&mut self, route: &str) -> Option<LostResponse> {
        if self.lost_responses == 0 || self.spares(route) {
            return None;
        }
        self.lost_responses -= 1;
        Some(self.lost_response_mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_then_errors_then_nothing() {
        let mut faults = Faults {
            rate_limit_storm: 1,
            server_errors: 1,
            storm_retry_after_secs: 3,
            ..Faults::default()
        };
        assert_eq!(
            faults.inject("GET /v2/droplets"),
            Injected::RateLimited {
                retry_after_secs: 3
            }
        );
        assert_eq!(faults.inject("GET /v2/droplets"), Injected::ServerError);
        assert_eq!(faults.inject("GET /v2/droplets"), Injected::None);
    }

    #[test]
    fn route_filter_spares_other_routes() {
        let mut faults = Faults {
            server_errors: 1,
            route: Some("POST /v2/droplets".into()),
            ..Faults::default()
        };
        assert_eq!(faults.inject("GET /v2/droplets"), Injected::None);
        assert_eq!(faults.inject("POST /v2/droplets"), Injected::ServerError);
    }
}
