//! Actions: polling until done, waiting out pending events, finding a lost action.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::made_since;
use crate::client::{Call, Client};
use crate::error::{Error, Result};
use crate::models::{Action, ActionStatus};

/// 404s tolerated right after an action was created ("DO API strangeness").
const NOT_FOUND_TOLERANCE: u32 = 3;

impl Client {
    /// One action.
    pub async fn get_action(&self, id: u64) -> Result<Action> {
        self.get(&format!("/v2/actions/{id}"), "action").await
    }

    /// Polls an action until it completes; `errored` and the poll timeout are errors.
    pub async fn wait_for_action(&self, id: u64) -> Result<Action> {
        let poll = self.poll_policy();
        let start = Instant::now();
        let mut not_found = 0;
        loop {
            match self.get_action(id).await {
                Ok(action) => match action.status {
                    ActionStatus::Completed => return Ok(action),
                    ActionStatus::Errored => {
                        return Err(Error::ActionErrored {
                            id,
                            kind: action.kind,
                        });
                    }
                    ActionStatus::InProgress => {}
                },
                Err(error) if error.is_not_found() && not_found < NOT_FOUND_TOLERANCE => {
                    not_found += 1
                }
                Err(error) => return Err(error),
            }
            if start.elapsed() >= poll.timeout {
                return Err(Error::Timeout {
                    what: format!("action {id}"),
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(poll.interval).await;
        }
    }

    /// Runs `request` again while it fails with "Droplet already has a pending event.".
    pub(crate) async fn through_pending_events<T, F, Fut>(&self, request: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let poll = self.poll_policy();
        let start = Instant::now();
        loop {
            match request().await {
                Err(error)
                    if error.is_pending_event() && start.elapsed() < poll.pending_event_timeout =>
                {
                    tracing::info!(%error, "waiting for the pending event to finish");
                    tokio::time::sleep(poll.interval).await;
                }
                result => return result,
            }
        }
    }

    /// The newest action of `kind` listed at `path` that started after `sent_at`.
    pub(crate) async fn find_recent_action(
        &self,
        path: &str,
        kind: &str,
        sent_at: DateTime<Utc>,
    ) -> Result<Option<Action>> {
        let actions: Vec<Action> = self.list_all(Call::get(path), "actions").await?;
        Ok(actions
            .into_iter()
            .filter(|a| a.kind == kind && made_since(a.started_at, sent_at))
            .max_by_key(|a| a.id))
    }
}
