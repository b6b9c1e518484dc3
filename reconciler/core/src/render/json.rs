//! The versioned JSON form of a plan (`reconciler plan --json`), documented in `docs/plan-json.md`.

use serde::Serialize;

use crate::plan::{Plan, ResourceKind, Summary};

#[derive(Serialize)]
struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    summary: Summary,
    converged: bool,
    unknown_kinds: Vec<ResourceKind>,
}

/// The plan as pretty JSON, with its summary counts, whether it is converged (everything observed, nothing to
/// change) and the kinds it could not observe.
pub fn json(plan: &Plan) -> String {
    let doc = JsonPlan {
        plan,
        summary: plan.summary(),
        converged: plan.is_converged(),
        unknown_kinds: plan.unknown_kinds(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
