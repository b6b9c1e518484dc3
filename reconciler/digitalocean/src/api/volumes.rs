//! Volumes: list by name and region, get, create (no duplicates after a lost response), delete,
//! attach, detach and resize.

use chrono::Utc;

use crate::client::{Call, Client, Reply};
use crate::error::Result;
use crate::models::{Action, CreateVolume, Volume, VolumeAction};
use crate::retry::Safety;

impl Client {
    /// Volumes, filtered by name and/or region.
    pub async fn list_volumes(
        &self,
        name: Option<&str>,
        region: Option<&str>,
    ) -> Result<Vec<Volume>> {
        let mut call = Call::get("/v2/volumes");
        if let Some(name) = name {
            call = call.query("name", name);
        }
        if let Some(region) = region {
            call = call.query("region", region);
        }
        self.list_all(call, "volumes").await
    }

    /// One volume.
    pub async fn get_volume(&self, id: &str) -> Result<Volume> {
        self.get(&format!("/v2/volumes/{id}"), "volume").await
    }

    /// The volume named `name` in `region` (names are unique per region).
    pub async fn find_volume(&self, name: &str, region: &str) -> Result<Option<Volume>> {
        let volumes = self.list_volumes(Some(name), Some(region)).await?;
        Ok(volumes
            .into_iter()
            .find(|v| v.name == name && v.region.slug == region))
    }

    /// Creates a volume. When the response is lost, the volume is looked up by name and region
    /// before any retry.
    pub async fn create_volume(&self, request: &CreateVolume) -> Result<Volume> {
        let call = Call::post("/v2/volumes", request);
        let parse = |reply: &Reply| reply.field::<Volume>(&call, "volume");
        let lookup = || self.find_volume(&request.name, &request.region);
        let volume = self.create(&call, "volume", parse, lookup).await?;
        tracing::info!(volume_id = %volume.id, name = %volume.name, "volume created");
        Ok(volume)
    }

    /// Deletes a volume (it must be detached: 409 otherwise).
    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        self.run(Call::delete(format!("/v2/volumes/{id}")), Safety::Delete)
            .await
    }

    /// Starts a volume action, waiting out pending events and looking the action up when its
    /// response is lost.
    pub async fn volume_action(&self, id: &str, action: &VolumeAction) -> Result<Action> {
        let path = format!("/v2/volumes/{id}/actions");
        let call = Call::post(&path, action);
        self.through_pending_events(|| async {
            let sent_at = Utc::now();
            let parse = |reply: &Reply| reply.field::<Action>(&call, "action");
            let lookup = || self.find_recent_action(&path, action.kind(), sent_at);
            self.create(&call, "volume action", parse, lookup).await
        })
        .await
    }

    /// Attaches a volume to a droplet in the same region.
    pub async fn attach_volume(&self, id: &str, droplet_id: u64, region: &str) -> Result<Action> {
        self.volume_action(
            id,
            &VolumeAction::Attach {
                droplet_id,
                region: region.to_owned(),
            },
        )
        .await
    }

    /// Detaches a volume from a droplet.
    pub async fn detach_volume(&self, id: &str, droplet_id: u64, region: &str) -> Result<Action> {
        self.volume_action(
            id,
            &VolumeAction::Detach {
                droplet_id,
                region: region.to_owned(),
            },
        )
        .await
    }

    /// Grows a volume.
    pub async fn resize_volume(
        &self,
        id: &str,
        size_gigabytes: u64,
        region: &str,
    ) -> Result<Action> {
        self.volume_action(
            id,
            &VolumeAction::Resize {
                size_gigabytes,
                region: region.to_owned(),
            },
        )
        .await
    }
}
