//! Everything the simulated account holds, advanced lazily in time, saved and loaded as JSON.

mod actions;
mod records;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use actions::{Action, ActionStatus, Effect};
pub(crate) use records::{
    Droplet, DropletStatus, Firewall, Registry, RepositoryTag, Snapshot, SshKey, Volume,
};

/// Errors saving or loading a state file.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// The file could not be read or written.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        source: std::io::Error,
    },
    /// The file does not hold a saved state.
    #[error("state file {path} is not a saved simulator state: {source}")]
    Format {
        /// The file.
        path: String,
        source: serde_json::Error,
    },
}

/// Counters handing out ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ids {
    droplet: u64,
    action: u64,
    ssh_key: u64,
    image: u64,
}

impl Default for Ids {
    fn default() -> Self {
        Self {
            droplet: 3_164_444,
            action: 36_804_636,
            ssh_key: 512_189,
            image: 6_372_321,
        }
    }
}

/// The whole simulated account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    ids: Ids,
    pub droplets: Vec<Droplet>,
    pub volumes: Vec<Volume>,
    pub snapshots: Vec<Snapshot>,
    pub firewalls: Vec<Firewall>,
    pub registry: Option<Registry>,
    pub actions: Vec<Action>,
    pub tags: Vec<String>,
    pub ssh_keys: Vec<SshKey>,
}

impl State {
    /// Next droplet id.
    pub fn next_droplet_id(&mut self) -> u64 {
        self.ids.droplet += 1;
        self.ids.droplet
    }

    /// Next SSH key id.
    pub fn next_ssh_key_id(&mut self) -> u64 {
        self.ids.ssh_key += 1;
        self.ids.ssh_key
    }

    /// Next image (droplet snapshot) id.
    fn next_image_id(&mut self) -> u64 {
        self.ids.image += 1;
        self.ids.image
    }

    /// Records a new in-progress action and returns a copy of it.
    pub fn start_action(&mut self, mut action: Action) -> Action {
        self.ids.action += 1;
        action.id = self.ids.action;
        self.actions.push(action.clone());
        action
    }

    /// Whether an in-progress action keeps the droplet busy.
    pub fn droplet_busy(&self, droplet_id: u64) -> bool {
        self.actions
            .iter()
            .any(|a| a.in_progress() && a.droplet_id == Some(droplet_id))
    }

    /// Completes every action that is due at `now`, applying its effect.
    pub fn advance(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<usize> = (0..self.actions.len())
            .filter(|&i| self.actions[i].in_progress() && self.actions[i].completes_at <= now)
            .collect();
        due.sort_by_key(|&i| self.actions[i].completes_at);
        for index in due {
            let completed_at = self.actions[index].completes_at;
            let effect = self.actions[index].effect.clone();
            let status = if !self.actions[index].fails && self.apply(effect, completed_at) {
                ActionStatus::Completed
            } else {
                ActionStatus::Errored
            };
            let action = &mut self.actions[index];
            action.status = status;
            action.completed_at = Some(completed_at);
        }
    }

    /// Applies an effect; false when its target is gone (the action errors).
    fn apply(&mut self, effect: Effect, at: DateTime<Utc>) -> bool {
        match effect {
            Effect::None => true,
            Effect::Boot { droplet_id } => {
                self.with_droplet(droplet_id, |d| d.status = DropletStatus::Active)
            }
            Effect::Power { droplet_id, status } => {
                self.with_droplet(droplet_id, |d| d.status = status)
            }
            Effect::Resize {
                droplet_id,
                size_slug,
            } => self.with_droplet(droplet_id, |d| d.size_slug = size_slug),
            Effect::Rename { droplet_id, name } => self.with_droplet(droplet_id, |d| d.name = name),
            Effect::Feature {
                droplet_id,
                feature,
                enabled,
            } => self.with_droplet(droplet_id, |d| {
                d.features.retain(|f| *f != feature);
                if enabled {
                    d.features.push(feature);
                }
            }),
            Effect::Snapshot { droplet_id, name } => {
                let Some(droplet) = self.droplets.iter().find(|d| d.id == droplet_id).cloned()
                else {
                    return false;
                };
                let image_id = self.next_image_id();
                let disk = crate::catalog::size(&droplet.size_slug).map_or(25, |s| s.disk);
                self.snapshots.push(Snapshot {
                    id: image_id.to_string(),
                    name,
                    created_at: at,
                    region: droplet.region.clone(),
                    resource_id: droplet_id.to_string(),
                    resource_type: "droplet".to_owned(),
                    min_disk_size: u64::from(disk),
                    size_gigabytes: 2.36,
                    tags: Vec::new(),
                    filesystem_type: String::new(),
                });
                self.with_droplet(droplet_id, |d| d.snapshot_ids.push(image_id))
            }
            Effect::Attach {
                volume_id,
                droplet_id,
            } => {
                let Some(volume) = self.volumes.iter_mut().find(|v| v.id == volume_id) else {
                    return false;
                };
                volume.droplet_ids = vec![droplet_id];
                self.with_droplet(droplet_id, |d| d.volume_ids.push(volume_id))
            }
            Effect::Detach {
                volume_id,
                droplet_id,
            } => {
                if let Some(volume) = self.volumes.iter_mut().find(|v| v.id == volume_id) {
                    volume.droplet_ids.retain(|id| *id != droplet_id);
                }
                self.with_droplet(droplet_id, |d| d.volume_ids.retain(|v| *v != volume_id))
            }
            Effect::ResizeVolume {
                volume_id,
                size_gigabytes,
            } => {
                let Some(volume) = self.volumes.iter_mut().find(|v| v.id == volume_id) else {
                    return false;
                };
                volume.size_gigabytes = size_gigabytes;
                true
            }
        }
    }

    fn with_droplet(&mut self, droplet_id: u64, change: impl FnOnce(&mut Droplet)) -> bool {
        self.droplets
            .iter_mut()
            .find(|d| d.id == droplet_id)
            .map(change)
            .is_some()
    }

    /// Writes the state as JSON.
    pub fn save(&self, path: &Path) -> Result<(), StateFileError> {
        let name = path.display().to_string();
        let json = serde_json::to_vec_pretty(self).map_err(|source| StateFileError::Format {
            path: name.clone(),
            source,
        })?;
        std::fs::write(path, json).map_err(|source| StateFileError::Io { path: name, source })
    }

    /// Reads a state written by [`State::save`].
    pub fn load(path: &Path) -> Result<Self, StateFileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| StateFileError::Io {
            path: name.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|source| StateFileError::Format { path: name, source })
    }
}
