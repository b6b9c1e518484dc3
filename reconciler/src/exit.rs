//! Exit codes, documented in the README. Scripts and the systemd unit branch on them.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `plan`, nothing to change.
    Ok = 0,
    /// An error: bad input, an unreachable API, a failed step.
    Error = 1,
    /// `plan` only: there are changes to apply.
    Changes = 2,
    /// A safety guard blocked the change (data loss not allowed, a conflict to resolve by hand).
    Blocked = 3,
    /// The new container failed its health gate and the previous one was restored.
    Reverted = 4,
    /// Another reconcile holds the lock.
    Locked = 5,
    /// Part of the world could not be observed; nothing was changed for it.
    Incomplete = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}
