//! Views of a plan: human (Terraform-like) and JSON. Both render the same data; the core never prints.

mod human;
mod json;

pub use human::{describe, human};
pub use json::json;
