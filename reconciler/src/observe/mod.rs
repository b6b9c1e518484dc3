//! Observation of the app scope: the Docker engine (managed containers, the desired image), the host (data
//! directory, secrets env file) and the quarantine recorded in the state directory. The DigitalOcean half is
//! observed in [`digitalocean`].

pub mod digitalocean;

use reconciler_core::manifest::App;
use reconciler_core::observed::ObservedApp;

use crate::docker::{DockerError, Engine};
use crate::execute::state::{StateDir, StateError};
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
    let (containers, image, data_dir, secrets_file) = tokio::join!(
        engine.app_containers(&app.container_name),
        engine.image(&reference),
        host.data_dir(&app.volume_mount.host_path),
        secrets_file,
    );
    let (containers, image, data_dir, secrets_file) =
        (containers?, image?, data_dir?, secrets_file?);
    let record = state.load(&app.container_name)?;
    let quarantined =
        record.quarantined_hashes(secrets_file.as_ref().map(|s| s.fingerprint.as_str()));
    Ok(ObservedApp {
        containers,
        image,
        data_dir,
        secrets_file,
        quarantined,
    })
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
