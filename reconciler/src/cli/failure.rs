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
    let quarantined = match &failure.quarantine_error {
        None => "this revision is quarantined until the manifest changes".to_owned(),
        Some(e) => {
            format!("QUARANTINE NOT RECORDED ({e}): the next run may deploy this revision again")
        }
    };
    let mut out = format!(
        "Reverted: the new container failed its health gate: {}\n{restored}; {quarantined}.\n--- last log lines \
         of {} ---\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(quarantine_error: Option<&str>) -> Failure {
        Failure {
            cause: "exited with code 1".to_owned(),
            container: "bot".to_owned(),
            image_id: "sha256:1".to_owned(),
            logs: vec!["boom".to_owned()],
            health_log: Vec::new(),
            restored: Some("0123456789abcdef".to_owned()),
            quarantine_error: quarantine_error.map(str::to_owned),
        }
    }

    #[test]
    fn the_report_says_whether_the_revision_is_quarantined() {
        let recorded = failure_report(&failure(None));
        assert!(
            recorded.contains("this revision is quarantined until the manifest changes."),
            "{recorded}"
        );
        let lost = failure_report(&failure(Some("/state: read-only file system")));
        assert!(
            lost.contains(
                "QUARANTINE NOT RECORDED (/state: read-only file system): the next run may deploy this revision \
                 again."
            ),
            "{lost}"
        );
        assert!(!lost.contains("quarantined until"), "{lost}");
    }
}
