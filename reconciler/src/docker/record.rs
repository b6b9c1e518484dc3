//! Counting the Docker API calls that change something, so a converged `apply` can prove it changed nothing.

use std::sync::Mutex;

/// Records every mutating Docker API call (create, start, stop, rename, remove, pull) as `verb target`.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Recorder {
    /// Notes one mutating call.
    pub fn record(&self, verb: &str, target: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(format!("{verb} {target}"));
        }
    }

    /// Test hook for the kill-point walk, in debug builds only: with `RECONCILER_TEST_KILL_AFTER_CALL=k`, the process
    /// SIGKILLs itself when the `k`-th mutating call has returned.
    pub fn returned(&self) {
        #[cfg(debug_assertions)]
        if let Some(k) = std::env::var("RECONCILER_TEST_KILL_AFTER_CALL")
            .ok()
            .and_then(|k| k.parse::<usize>().ok())
            && self.count() == k
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }

    /// The mutating calls made so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// How many mutating calls were made.
    pub fn count(&self) -> usize {
        self.calls.lock().map(|c| c.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_calls_in_order() {
        let r = Recorder::default();
        assert_eq!(r.count(), 0);
        r.record("create", "schwad-next");
        r.record("start", "schwad");
        assert_eq!(r.calls(), ["create schwad-next", "start schwad"]);
        assert_eq!(r.count(), 2);
    }
}
