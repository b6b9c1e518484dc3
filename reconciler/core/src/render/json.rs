//! The versioned JSON form of a plan (`reconciler plan --json`), documented in `docs/plan-json.md`.

use serde::Serialize;

use crate::plan::{Plan, Summary};

#[derive(Serialize)]
struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    summary: Summary,
    converged: bool,
}

/// The plan as pretty JSON, with its summary counts and whether it is empty.
pub fn json(plan: &Plan) -> String {
    let doc = JsonPlan {
        plan,
        summary: plan.summary(),
        converged: plan.is_empty(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
