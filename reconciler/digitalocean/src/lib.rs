//! A DigitalOcean API v2 client for the schwad reconciler.
//!
//! * Token from `DIGITALOCEAN_ACCESS_TOKEN` ([`Client::from_env`]); it never appears in
//!   `Debug` output, errors or logs.
//! * Every list follows `links.pages.next` to the end with `per_page=200`.
//! * The `ratelimit-*` headers are read after each response and requests are paced before the
//!   quota runs out ([`BudgetPolicy`]); a 429's `retry-after` pauses every request of the client.
//! * Idempotent requests are retried on 429, 5xx and network errors with exponential backoff and
//!   jitter ([`RetryPolicy`]); creates and actions are not blindly retried: when their outcome is
//!   unknown the result is looked up first (by name, tags, region, creation time), so a lost
//!   response never makes a duplicate droplet or volume.
//! * "Droplet already has a pending event." is waited out; actions are polled to completion.
//! * Errors show DigitalOcean's `id`, `message` and `request_id` ([`ApiError`]).

mod api;
mod budget;
mod client;
mod error;
pub mod http;
pub mod models;
mod retry;
mod token;

pub use api::CreatedDroplet;
pub use budget::{BudgetPolicy, RateLimit, pause, retry_after};
pub use client::{BASE_URL_ENV, Client, ClientConfig, DEFAULT_BASE_URL, PollPolicy};
pub use error::{ApiError, Error, Result};
pub use retry::RetryPolicy;
pub use token::{TOKEN_ENV, Token};
