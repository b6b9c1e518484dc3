//! Firewalls: list, get, create (no duplicates after a lost response), full-replacement update,
//! droplet membership, delete.

use chrono::Utc;
use serde::Serialize;

use super::made_since;
use crate::client::{Call, Client, Reply};
use crate::error::{Error, Result};
use crate::models::{Firewall, FirewallSpec};
use crate::retry::Safety;

#[derive(Debug, Serialize)]
struct DropletIds<'a> {
    droplet_ids: &'a [u64],
}

#[derive(Debug, Serialize)]
struct Tags<'a> {
    tags: &'a [String],
}

impl Client {
    /// Every firewall.
    pub async fn list_firewalls(&self) -> Result<Vec<Firewall>> {
        self.list_all(Call::get("/v2/firewalls"), "firewalls").await
    }

    /// One firewall.
    pub async fn get_firewall(&self, id: &str) -> Result<Firewall> {
        self.get(&format!("/v2/firewalls/{id}"), "firewall").await
    }

    /// Creates a firewall. When the response is lost, it is looked up by name and creation time
    /// before any retry.
    pub async fn create_firewall(&self, spec: &FirewallSpec) -> Result<Firewall> {
        let call = Call::post("/v2/firewalls", spec);
        let sent_at = Utc::now();
        let parse = |reply: &Reply| reply.field::<Firewall>(&call, "firewall");
        let lookup = || async move {
            let found: Vec<Firewall> = self
                .list_firewalls()
                .await?
                .into_iter()
                .filter(|f| f.spec.name == spec.name && made_since(f.created_at, sent_at))
                .collect();
            match found.len() {
                0 | 1 => Ok(found.into_iter().next()),
                count => Err(Error::Ambiguous {
                    kind: "firewalls",
                    name: spec.name.clone(),
                    count,
                }),
            }
        };
        let firewall = self.create(&call, "firewall", parse, lookup).await?;
        tracing::info!(firewall_id = %firewall.id, name = %firewall.spec.name, "firewall created");
        Ok(firewall)
    }

    /// Replaces a firewall whole: whatever `spec` leaves out (rules, droplets, tags) is removed.
    pub async fn update_firewall(&self, id: &str, spec: &FirewallSpec) -> Result<Firewall> {
        let call = Call::put(format!("/v2/firewalls/{id}"), spec);
        self.send(&call, Safety::Idempotent)
            .await?
            .field(&call, "firewall")
    }

    /// Adds droplets to a firewall (adding a member twice is harmless, so it is retried).
    pub async fn add_droplets_to_firewall(&self, id: &str, droplet_ids: &[u64]) -> Result<()> {
        let call = Call::post(
            format!("/v2/firewalls/{id}/droplets"),
            &DropletIds { droplet_ids },
        );
        self.run(call, Safety::Idempotent).await
    }

    /// Removes droplets from a firewall.
    pub async fn remove_droplets_from_firewall(&self, id: &str, droplet_ids: &[u64]) -> Result<()> {
        let call =
            Call::delete(format!("/v2/firewalls/{id}/droplets")).body(&DropletIds { droplet_ids });
        self.run(call, Safety::Idempotent).await
    }

    /// Applies a firewall to the droplets of more tags (adding a tag twice is harmless, so it is retried).
    pub async fn add_tags_to_firewall(&self, id: &str, tags: &[String]) -> Result<()> {
        let call = Call::post(format!("/v2/firewalls/{id}/tags"), &Tags { tags });
        self.run(call, Safety::Idempotent).await
    }

    /// Deletes a firewall.
    pub async fn delete_firewall(&self, id: &str) -> Result<()> {
        self.run(Call::delete(format!("/v2/firewalls/{id}")), Safety::Delete)
            .await
    }
}
