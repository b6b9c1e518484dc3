//! Snapshots: volume snapshots (create, list), all snapshots (list, delete).

use chrono::Utc;
use serde::Serialize;

use super::made_since;
use crate::client::{Call, Client, Reply};
use crate::error::{Error, Result};
use crate::models::Snapshot;
use crate::retry::Safety;

#[derive(Debug, Serialize)]
struct CreateSnapshot<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

impl Client {
    /// Snapshots a volume (synchronous). When the response is lost, the snapshot is looked up
    /// by name and creation time before any retry.
    pub async fn create_volume_snapshot(
        &self,
        volume_id: &str,
        name: &str,
        tags: &[String],
    ) -> Result<Snapshot> {
        let call = Call::post(
            format!("/v2/volumes/{volume_id}/snapshots"),
            &CreateSnapshot { name, tags },
        );
        let sent_at = Utc::now();
        let parse = |reply: &Reply| reply.field::<Snapshot>(&call, "snapshot");
        let lookup = || async move {
            let found: Vec<Snapshot> = self
                .list_volume_snapshots(volume_id)
                .await?
                .into_iter()
                .filter(|s| s.name == name && made_since(s.created_at, sent_at))
                .collect();
            match found.len() {
                0 | 1 => Ok(found.into_iter().next()),
                count => Err(Error::Ambiguous {
                    kind: "volume snapshots",
                    name: name.to_owned(),
                    count,
                }),
            }
        };
        self.create(&call, "volume snapshot", parse, lookup).await
    }

    /// Snapshots of one volume.
    pub async fn list_volume_snapshots(&self, volume_id: &str) -> Result<Vec<Snapshot>> {
        self.list_all(
            Call::get(format!("/v2/volumes/{volume_id}/snapshots")),
            "snapshots",
        )
        .await
    }

    /// All snapshots, or those of `resource_type` (`droplet` or `volume`).
    pub async fn list_snapshots(&self, resource_type: Option<&str>) -> Result<Vec<Snapshot>> {
        let mut call = Call::get("/v2/snapshots");
        if let Some(kind) = resource_type {
            call = call.query("resource_type", kind);
        }
        self.list_all(call, "snapshots").await
    }

    /// Deletes a droplet or volume snapshot.
    pub async fn delete_snapshot(&self, id: &str) -> Result<()> {
        self.run(Call::delete(format!("/v2/snapshots/{id}")), Safety::Delete)
            .await
    }
}
