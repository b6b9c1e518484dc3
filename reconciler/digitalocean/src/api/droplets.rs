//! Droplets: list by tag or name, get, create (no duplicates after a lost response), delete,
//! actions, and waiting until active.

use chrono::Utc;
use serde::Deserialize;
use tokio::time::Instant;

use super::made_since;
use crate::client::{Call, Client};
use crate::error::{Error, Result};
use crate::models::{Action, CreateDroplet, Droplet, DropletAction, DropletStatus};
use crate::retry::Safety;

/// A droplet just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedDroplet {
    /// The droplet (status `new`).
    pub droplet: Droplet,
    /// The `create` action, when the create response arrived (a droplet recovered by lookup
    /// after a lost response has none: wait with [`Client::wait_for_droplet_active`]).
    pub action_id: Option<u64>,
}

/// The body of a droplet create response.
#[derive(Debug, Deserialize)]
struct CreateReply {
    droplet: Droplet,
    #[serde(default)]
    links: Links,
}

#[derive(Debug, Default, Deserialize)]
struct Links {
    #[serde(default)]
    actions: Vec<ActionLink>,
}

#[derive(Debug, Deserialize)]
struct ActionLink {
    id: u64,
    rel: String,
}

impl Client {
    /// Every droplet of the account.
    pub async fn list_droplets(&self) -> Result<Vec<Droplet>> {
        self.list_all(Call::get("/v2/droplets"), "droplets").await
    }

    /// Every droplet carrying `tag`.
    pub async fn list_droplets_by_tag(&self, tag: &str) -> Result<Vec<Droplet>> {
        self.list_all(Call::get("/v2/droplets").query("tag_name", tag), "droplets")
            .await
    }

    /// Every droplet named `name` (case-insensitive; names are not unique).
    pub async fn list_droplets_by_name(&self, name: &str) -> Result<Vec<Droplet>> {
        self.list_all(Call::get("/v2/droplets").query("name", name), "droplets")
            .await
    }

    /// One droplet.
    pub async fn get_droplet(&self, id: u64) -> Result<Droplet> {
        self.get(&format!("/v2/droplets/{id}"), "droplet").await
    }

    /// One droplet, `None` when it does not exist.
    pub async fn find_droplet(&self, id: u64) -> Result<Option<Droplet>> {
        self.find(&format!("/v2/droplets/{id}"), "droplet").await
    }

    /// Creates a droplet. When the response is lost (5xx, timeout, cut connection) the droplet
    /// is looked up by name, tags and creation time before any retry, so no duplicate is made.
    pub async fn create_droplet(&self, request: &CreateDroplet) -> Result<CreatedDroplet> {
        let call = Call::post("/v2/droplets", request);
        let sent_at = Utc::now();
        let parse = |reply: &crate::client::Reply| {
            let body: CreateReply = reply.decode(&call)?;
            let action_id = body
                .links
                .actions
                .iter()
                .find(|a| a.rel == "create")
                .map(|a| a.id);
            Ok(CreatedDroplet {
                droplet: body.droplet,
                action_id,
            })
        };
        let lookup = || async move {
            let found: Vec<Droplet> = self
                .list_droplets_by_name(&request.name)
                .await?
                .into_iter()
                .filter(|d| d.name == request.name && made_since(d.created_at, sent_at))
                .filter(|d| request.tags.iter().all(|t| d.tags.contains(t)))
                .collect();
            match found.len() {
                0 => Ok(None),
                1 => Ok(found.into_iter().next().map(|droplet| CreatedDroplet {
                    droplet,
                    action_id: None,
                })),
                count => Err(Error::Ambiguous {
                    kind: "droplets",
                    name: request.name.clone(),
                    count,
                }),
            }
        };
        let created = self.create(&call, "droplet", parse, lookup).await?;
        tracing::info!(droplet_id = created.droplet.id, name = %created.droplet.name, "droplet created");
        Ok(created)
    }

    /// Deletes a droplet (a droplet already gone after a retried delete counts as deleted).
    pub async fn delete_droplet(&self, id: u64) -> Result<()> {
        self.run(Call::delete(format!("/v2/droplets/{id}")), Safety::Delete)
            .await
    }

    /// Starts a droplet action, waiting out "Droplet already has a pending event." and looking
    /// the action up when its response is lost.
    pub async fn droplet_action(&self, id: u64, action: &DropletAction) -> Result<Action> {
        let path = format!("/v2/droplets/{id}/actions");
        let call = Call::post(&path, action);
        self.through_pending_events(|| async {
            let sent_at = Utc::now();
            let parse = |reply: &crate::client::Reply| reply.field::<Action>(&call, "action");
            let lookup = || self.find_recent_action(&path, action.kind(), sent_at);
            self.create(&call, "droplet action", parse, lookup).await
        })
        .await
    }

    /// Polls a droplet until it is `active` and unlocked.
    pub async fn wait_for_droplet_active(&self, id: u64) -> Result<Droplet> {
        let poll = self.poll_policy();
        let start = Instant::now();
        loop {
            let droplet = self.get_droplet(id).await?;
            if droplet.status == DropletStatus::Active && !droplet.locked {
                return Ok(droplet);
            }
            if start.elapsed() >= poll.timeout {
                return Err(Error::Timeout {
                    what: format!("droplet {id} to become active"),
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(poll.interval).await;
        }
    }
}
