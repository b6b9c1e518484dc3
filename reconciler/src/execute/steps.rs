//! One plan operation → one backend call.

use reconciler_core::plan::Operation;

use super::health;
use super::progress::{Event, Progress};
use super::{ExecuteError, Executor, StepResult};
use crate::docker::create::create_body;
use crate::docker::{DockerError, auth};
use crate::host::{Host, HostError};

/// Why a step failed, before it is tied to its index.
pub(super) enum StepError {
    Docker(DockerError),
    Host(HostError),
    Unsupported,
    Failed(String),
}

impl StepError {
    pub(super) fn at(self, index: usize, description: &str) -> ExecuteError {
        let step = description.to_owned();
        match self {
            Self::Docker(source) => ExecuteError::Docker {
                index,
                step,
                source,
            },
            Self::Host(source) => ExecuteError::Host {
                index,
                step,
                source,
            },
            Self::Unsupported => ExecuteError::Unsupported { index, step },
            Self::Failed(message) => ExecuteError::Failed {
                index,
                step,
                message,
            },
        }
    }
}

impl From<DockerError> for StepError {
    fn from(e: DockerError) -> Self {
        Self::Docker(e)
    }
}

impl From<HostError> for StepError {
    fn from(e: HostError) -> Self {
        Self::Host(e)
    }
}

impl<H: Host + Sync> Executor<'_, H> {
    pub(super) async fn perform(
        &self,
        op: &Operation,
        progress: &dyn Progress,
    ) -> Result<StepResult, StepError> {
        let engine = self.engine;
        match op {
            Operation::EnsureDataDir {
                path,
                uid,
                gid,
                mode,
            } => self.host.ensure_data_dir(path, *uid, *gid, *mode).await?,
            Operation::PullImage { reference } => {
                let credentials = match &self.docker_config {
                    Some(path) => auth::credentials_for(path, reference)
                        .map_err(|e| StepError::Failed(e.to_string()))?,
                    None => None,
                };
                engine
                    .pull(reference, credentials, |p| {
                        progress.event(&Event::Pull {
                            image: reference.clone(),
                            layer: p.layer,
                            status: p.status,
                            current: p.bytes.map(|b| b.0),
                            total: p.bytes.map(|b| b.1),
                        });
                    })
                    .await?;
            }
            Operation::CreateContainer { name, spec, labels } => {
                // Pin what runs: the container is created from the image id the reference resolves to now.
                let image = engine.image(&spec.image).await?.ok_or_else(|| {
                    StepError::Failed(format!("image {} is not in the local store", spec.image))
                })?;
                let secrets = match &spec.secrets_env_file {
                    Some(path) => self.host.secret_env(path).await?,
                    None => Default::default(),
                };
                let missing: Vec<&String> = spec
                    .secret_names
                    .iter()
                    .filter(|n| !secrets.names().contains(n))
                    .collect();
                if !missing.is_empty() {
                    return Err(StepError::Failed(format!(
                        "the secrets env file no longer defines {missing:?}"
                    )));
                }
                let body = create_body(
                    spec,
                    &image.id,
                    labels,
                    &secrets.declared(&spec.secret_names),
                );
                engine.create(name, body).await?;
            }
            Operation::StartContainer { container } => engine.start(container).await?,
            Operation::StopContainer {
                container,
                grace_secs,
            } => engine.stop(container, *grace_secs).await?,
            Operation::RenameContainer { container, to } => engine.rename(container, to).await?,
            Operation::RemoveContainer { container } => engine.remove(container).await?,
            Operation::RemoveImage { image_id } => engine.remove_image(image_id).await?,
            Operation::WaitHealthy { container, gate } => {
                if let Err(failure) =
                    health::wait_healthy(engine, container, gate, progress).await?
                {
                    return Ok(StepResult::GateFailed(failure));
                }
            }
            Operation::CreateRegistry { .. }
            | Operation::SetRegistryTier { .. }
            | Operation::CreateVolume { .. }
            | Operation::ResizeVolume { .. }
            | Operation::DeleteVolume { .. }
            | Operation::CreateDroplet { .. }
            | Operation::ShutdownDroplet { .. }
            | Operation::ResizeDroplet { .. }
            | Operation::PowerOnDroplet { .. }
            | Operation::DeleteDroplet { .. }
            | Operation::Tag { .. }
            | Operation::Untag { .. }
            | Operation::AttachVolume { .. }
            | Operation::DetachVolume { .. }
            | Operation::StopAppOnDroplet { .. }
            | Operation::UnmountVolume { .. }
            | Operation::MountVolume { .. }
            | Operation::CreateFirewall { .. }
            | Operation::UpdateFirewall { .. }
            | Operation::DeleteFirewall { .. }
            | Operation::SnapshotVolume { .. }
            | Operation::DeleteSnapshot { .. }
            | Operation::MarkLastGood { .. }
            | Operation::DeleteSnapshotAfterGate { .. } => return Err(StepError::Unsupported),
        }
        Ok(StepResult::Done)
    }
}
