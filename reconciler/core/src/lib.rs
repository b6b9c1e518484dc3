//! Pure core of the schwad reconciler: the desired-state manifest and its validation, the identity carried on
//! managed objects, the observed-state model, the planner `(desired, observed) → Plan`, and the human and JSON
//! views of a plan. No I/O happens here.

pub mod identity;
pub mod manifest;
pub mod observed;
pub mod plan;
pub mod redact;
pub mod render;
