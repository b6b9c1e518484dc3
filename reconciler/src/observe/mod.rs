//! Observation of the app scope: the Docker engine (managed containers, the desired image, the repository's images), the host (data
//! directory, secrets env file) and the quarantine recorded in the state directory. The DigitalOcean half is
//! observed in [`digitalocean`].

pub mod digitalocean;

use reconciler_core::identity::{labels, repository_of};
use reconciler_core::manifest::App;
use reconciler_core::observed::{ContainerState, GateVerdict, ObservedApp};

use crate::docker::{DockerError, Engine};
use crate::execute::state::{AppRecord, StateDir, StateError};
use crate::host::{Host, HostError};

/// Reads everything the planner needs about `app`. An unreachable engine or host is an error: planning from a
/// blank observation would recreate everything.
pub async fn observe_app(
    engine: &Engine,
    host: &impl Host,
    state: &StateDir,
    app: &App,
) -> Result<ObservedApp, ObserveError> {
    let secrets_file = async {
        match &app.secrets {
            Some(secrets) => host.secrets_file(&secrets.env_file).await,
            None => Ok(None),
        }
    };
    let reference = app.image.reference();
    // Independent reads, issued together: a converged apply is only as slow as the slowest of them.
    let (containers, image, repository_images, data_dir, secrets_file) = tokio::join!(
        engine.app_containers(&app.container_name),
        engine.image(&reference),
        engine.images_of(repository_of(&reference)),
        host.data_dir(&app.volume_mount.host_path),
        secrets_file,
    );
    let (containers, image, repository_images, data_dir, secrets_file) = (
        containers?,
        image?,
        repository_images?,
        data_dir?,
        secrets_file?,
    );
    let record = state.load(&app.container_name)?;
    let quarantined =
        record.quarantined_hashes(secrets_file.as_ref().map(|s| s.fingerprint.as_str()));
    let verified = verdicts(&record, &containers);
    Ok(ObservedApp {
        containers,
        image,
        data_dir,
        secrets_file,
        quarantined,
        verified,
        repository_images,
    })
}

/// The recorded gate verdicts. A record written before verdicts were kept has none: there the last good revision
/// stands for one (the container running exactly its spec and image passed the gate that recorded it).
fn verdicts(record: &AppRecord, containers: &[ContainerState]) -> Vec<GateVerdict> {
    if !record.verified.is_empty() {
        return record.verified.clone();
    }
    let Some(good) = &record.last_good else {
        return Vec::new();
    };
    containers
        .iter()
        .filter(|c| {
            c.labels.get(labels::SPEC_HASH) == Some(&good.spec_hash) && c.image_id == good.image_id
        })
        .map(|c| GateVerdict {
            container: c.id.clone(),
            started_at: c.started_at.clone(),
        })
        .collect()
}

/// The app scope could not be observed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The Docker engine failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The host failed.
    #[error("observing the host")]
    Host(#[from] HostError),
    /// The state directory failed.
    #[error("reading the state directory")]
    State(#[from] StateError),
}
