//! A loopback simulator of the Charles Schwab Trader API (Individual).
//!
//! It serves, on `http://127.0.0.1:<port>` instead of `https://api.schwabapi.com`:
//! * OAuth: `GET|POST /v1/oauth/authorize` and `POST /v1/oauth/token` (codes, access and refresh tokens
//!   with Schwab's lifetimes, single use and clobbering);
//! * `/trader/v1/accounts[/accountNumbers|/{hash}]` and the order endpoints, with orders moving
//!   `PENDING_ACTIVATION`/`QUEUED` → `WORKING` → `FILLED` over configurable delays;
//! * `/marketdata/v1/markets` (equity hours, open/closed switch);
//! * the gateway's bearer authentication, rate limits (429 + `Retry-After`) and `Schwab-Client-CorrelId`;
//! * faults on demand and a ledger of every order, through [`Handle`] or `/_sim/...`.
//!
//! Control API (no auth, outside Schwab's paths): `GET /_sim/info`, `GET /_sim/oauth/code[?state=]`
//! (a fresh code and its redirect URL), `GET|PUT /_sim/market` (`{"open":bool}`),
//! `PUT /_sim/prices/{symbol}` (`[price, ...]`), `GET|POST|DELETE /_sim/faults` (a [`Fault`] as JSON,
//! e.g. `{"kind":"unauthorized","calls":2}`), `POST /_sim/tokens/expire` (`{"refresh":bool}`),
//! `GET /_sim/ledger` (a [`Ledger`]), `GET|PUT /_sim/quirks` (a [`Quirks`]: list lag, missing symbols,
//! clock offset), `POST /_sim/orders` (an order placed by hand, as a person would: `{"orderId":...}`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sim_schwab::SimError> {
//! let sim = sim_schwab::start(sim_schwab::Config::default()).await?;
//! let code = sim.authorize(None).code; // exchange at {base_url}/v1/oauth/token
//! sim.set_market_open(false);
//! println!("{} {code}", sim.base_url());
//! # Ok(()) }
//! ```

mod accounts;
mod cli;
mod config;
mod connection;
mod control;
mod errors;
mod faults;
mod gateway;
mod instrument;
mod ledger;
mod market;
mod oauth;
mod orders;
mod quirks;
mod rate_limit;
mod server;
mod state;
mod time;

pub use cli::{Args, run};
pub use config::{Config, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_CALLBACK_URL};
pub use faults::{Fault, LostResponse};
pub use ledger::{Ledger, LedgerFill, LedgerOrder};
pub use orders::{Instruction, OrderStatus};
pub use quirks::Quirks;
pub use server::{Handle, SimError, start};
pub use state::{AccountNumber, Authorization};
