//! Orders: validation, the state machine, their JSON shape and the HTTP endpoints.

mod book;
pub(crate) mod handlers;
mod request;
mod status;
mod view;

pub(crate) use book::{Fate, Order, OrderBook, Pricing, Timing};
pub use status::{Instruction, OrderStatus};
