//! The state shared by all handlers of one simulator instance.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use url::Url;

use crate::config::Config;
use crate::faults::Faults;
use crate::rate_limit::{RateLimiter, Window};
use crate::requests::RequestCounts;
use crate::state::State;

/// Handle on the shared state, cloned into every handler.
pub(crate) type App = Arc<Shared>;

/// Everything one simulator instance holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    /// Base URL clients use; links and hrefs are built from it.
    pub base_url: Url,
    state: Mutex<State>,
    faults: Mutex<Faults>,
    limiter: Mutex<RateLimiter>,
    key_list_window: Mutex<Window>,
    requests: Mutex<RequestCounts>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: Config, base_url: Url, state: State) -> Self {
        let limiter = RateLimiter::new(config.rate_limit);
        let key_list_window = Window::new(
            config.rate_limit.key_list_limit,
            config.rate_limit.key_list_window,
        );
        Self {
            config,
            base_url,
            state: Mutex::new(state),
            faults: Mutex::new(Faults::default()),
            limiter: Mutex::new(limiter),
            key_list_window: Mutex::new(key_list_window),
            requests: Mutex::new(RequestCounts::default()),
        }
    }

    /// The account state, with every action due by now completed.
    pub fn state(&self) -> MutexGuard<'_, State> {
        let mut state = lock(&self.state);
        state.advance(Utc::now());
        state
    }

    /// The fault switches.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// The rate limiter of the token.
    pub fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.limiter)
    }

    /// The special window of `GET /v2/account/keys`.
    pub fn key_list_window(&self) -> MutexGuard<'_, Window> {
        lock(&self.key_list_window)
    }

    /// The request counters.
    pub fn requests(&self) -> MutexGuard<'_, RequestCounts> {
        lock(&self.requests)
    }

    /// An absolute URL for `path` (e.g. `/v2/actions/7`).
    pub fn url(&self, path: &str) -> String {
        self.base_url
            .join(path)
            .map_or_else(|_| path.to_owned(), String::from)
    }
}
