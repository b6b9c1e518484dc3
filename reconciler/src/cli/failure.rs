//! The report of a failed health gate and its revert, as `apply` and `reconcile` print it.

use crate::execute::Failure;

/// The failure report: cause, then the failed container's logs and health log (already redacted).
pub(super) fn failure_report(failure: &Failure) -> String {
    let restored = match &failure.restored {
        Some(id) => format!(
            "The previous container ({:.12}) was restored and passed its own health gate",
            id
        ),
        None => "NOTHING RUNS: no earlier container passed its health gate".to_owned(),
    };
    let mut out = format!(
        "Reverted: the new container failed its health gate: {}\n{restored}; this revision is quarantined until the \
         manifest changes.\n--- last log lines of {} ---\n",
        failure.cause, failure.container
    );
    for line in &failure.logs {
        out.push_str(line);
        out.push('\n');
    }
    if !failure.health_log.is_empty() {
        out.push_str("--- health check log ---\n");
        for line in &failure.health_log {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
