//! The Docker engine, through bollard: the few calls the reconciler makes, each mutating one recorded by a
//! [`Recorder`], and the create request built as data ([`create::create_body`]).

pub mod auth;
pub mod create;
mod inspect;
pub mod record;

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::{ClientVersion, Docker};
use futures_util::StreamExt;
use reconciler_core::identity::labels;
use reconciler_core::observed::{ContainerState, ContainerStatus, Health, ImageState, StoredImage};

pub use record::Recorder;

/// The API version spoken first: Docker Engine 20.10's.
pub const BASE_API: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Timeout of one Docker API request (steps have their own, longer, timeouts).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connected Docker engine that records its mutating calls.
#[derive(Debug)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
    recorder: Recorder,
}

/// A container's runtime status, as the health gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: ContainerStatus,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Restarts since creation.
    pub restart_count: u32,
    /// `None` when the container has no health check.
    pub health: Option<Health>,
    /// Output of the last health checks, oldest first.
    pub health_log: Vec<String>,
    /// Image id it runs.
    pub image_id: String,
    /// Container id.
    pub id: String,
    /// Docker's `State.StartedAt` of the current run.
    pub started_at: String,
    pub labels: BTreeMap<String, String>,
}

/// One line of pull progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// Layer id, when the line is about a layer.
    pub layer: Option<String>,
    /// Status text (`Downloading`, `Pull complete`...).
    pub status: String,
    /// Bytes done and total, when known.
    pub bytes: Option<(u64, u64)>,
}

/// A Docker API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached at all.
    #[error(
        "cannot reach the Docker engine at {endpoint} (is dockerd running, and is DOCKER_HOST right?)"
    )]
    Unreachable {
        /// Where it was looked for.
        endpoint: String,
        /// Why.
        #[source]
        source: BollardError,
    },
    /// A call failed.
    #[error("docker {call}")]
    Call {
        /// The call and its target, e.g. `start schwad`.
        call: String,
        /// Why.
        #[source]
        source: BollardError,
    },
    /// Docker reported a value the reconciler has no name for.
    #[error(
        "container {container}: Docker reports {field} {value:?}, which the reconciler does not know"
    )]
    Unrecognised {
        /// The container inspected.
        container: String,
        /// Where in the inspect output, e.g. `State.Status`.
        field: &'static str,
        /// What Docker said.
        value: String,
    },
    /// Pulling an image failed.
    #[error("pulling image {image}: {message}")]
    Pull {
        /// The image reference.
        image: String,
        /// The engine's message.
        message: String,
    },
}

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST` (default: the local socket) and checks that it answers.
    ///
    /// Speaks API [`BASE_API`] (Docker 20.10's, which has every call used here) after a cheap `/_ping`; an engine
    /// that refuses that version is negotiated with through `/version`, which is slow on some engines.
    pub async fn connect() -> Result<Self, DockerError> {
        let endpoint = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
        Self::connect_at(endpoint).await
    }

    /// Connects to the engine listening on the Unix socket at `path` (e.g. one forwarded over SSH), like
    /// [`Engine::connect`].
    pub async fn connect_unix(path: &std::path::Path) -> Result<Self, DockerError> {
        Self::connect_at(format!("unix://{}", path.display())).await
    }

    async fn connect_at(endpoint: String) -> Result<Self, DockerError> {
        let unreachable = |source| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            source,
        };
        let timeout = REQUEST_TIMEOUT.as_secs();
        let docker =
            Docker::connect_with_local(&endpoint, timeout, &BASE_API).map_err(unreachable)?;
        let docker = match docker.ping().await {
            Ok(_) => docker,
            Err(e) if status_code(&e).is_some() => {
                Docker::connect_with_local(&endpoint, timeout, bollard::API_DEFAULT_VERSION)
                    .map_err(unreachable)?
                    .negotiate_version()
                    .await
                    .map_err(unreachable)?
            }
            Err(e) => return Err(unreachable(e)),
        };
        Ok(Self {
            docker,
            endpoint,
            recorder: Recorder::default(),
        })
    }

    /// Where the engine is.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The record of mutating calls made through this engine.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Containers labelled as `app`'s, plus any container named exactly `app` (managed or not).
    pub async fn app_containers(&self, app: &str) -> Result<Vec<ContainerState>, DockerError> {
        let by_label = self.list(format!("label={}={app}", labels::APP), app);
        let by_name = self.list(format!("name=^/{app}$"), app);
        let (by_label, by_name) = tokio::join!(by_label, by_name);
        let mut ids: Vec<String> = by_label?.into_iter().chain(by_name?).collect();
        ids.sort_unstable();
        ids.dedup();
        // Inspected together; a container removed between list and inspect is simply gone.
        let inspected =
            futures_util::future::try_join_all(ids.iter().map(|id| self.inspect(id))).await?;
        let mut out = Vec::with_capacity(ids.len());
        for inspect in inspected.into_iter().flatten() {
            out.push(inspect::container_state(inspect)?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Ids of all containers matching one `key=value` filter.
    async fn list(&self, filter: String, app: &str) -> Result<Vec<String>, DockerError> {
        let (key, value) = filter.split_once('=').unwrap_or((filter.as_str(), ""));
        let filters = std::collections::HashMap::from([(key.to_owned(), vec![value.to_owned()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(call(format!("list containers of {app}")))?;
        Ok(found.into_iter().filter_map(|c| c.id).collect())
    }

    /// The runtime status of a container, `None` when it does not exist.
    pub async fn status(&self, container: &str) -> Result<Option<Status>, DockerError> {
        self.inspect(container)
            .await?
            .map(inspect::status)
            .transpose()
    }

    async fn inspect(
        &self,
        container: &str,
    ) -> Result<Option<ContainerInspectResponse>, DockerError> {
        match self.docker.inspect_container(container, None).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if status_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(call(format!("inspect {container}"))(e)),
        }
    }

    /// The image `reference` in the local store, `None` when absent.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageState>, DockerError> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(Some(ImageState {
                id: image.id.unwrap_or_default(),
                repo_digests: image.repo_digests.unwrap_or_default(),
            })),
            Err(e) if status_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(call(format!("inspect image {reference}"))(e)),
        }
    }

    /// Pulls `reference`, reporting each progress line to `progress`.
    pub async fn pull(
        &self,
        reference: &str,
        credentials: Option<DockerCredentials>,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<(), DockerError> {
        self.recorder.record("pull", reference);
        let (image, tag) = split_reference(reference);
        let mut options = CreateImageOptionsBuilder::default().from_image(image);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let mut stream = self
            .docker
            .create_image(Some(options.build()), None, credentials);
        let failed = |message: String| DockerError::Pull {
            image: reference.to_owned(),
            message,
        };
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| failed(e.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
            let bytes = info.progress_detail.and_then(|d| {
                Some((
                    u64::try_from(d.current?).ok()?,
                    u64::try_from(d.total?).ok()?,
                ))
            });
            progress(PullProgress {
                layer: info.id,
                status: info.status.unwrap_or_default(),
                bytes,
            });
        }
        self.recorder.returned();
        Ok(())
    }

    /// Creates (does not start) a container; returns its id.
    pub async fn create(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, DockerError> {
        self.recorder.record("create", name);
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(call(format!("create {name}")));
        self.recorder.returned();
        Ok(created?.id)
    }

    /// Starts a container; one already running is fine.
    pub async fn start(&self, container: &str) -> Result<(), DockerError> {
        self.recorder.record("start", container);
        let result = self.docker.start_container(container, None).await;
        self.recorder.returned();
        match result {
            Err(e) if status_code(&e) != Some(304) => Err(call(format!("start {container}"))(e)),
            _ => Ok(()),
        }
    }

    /// Stops a container: SIGTERM, SIGKILL after `grace_secs`; one already stopped is fine.
    pub async fn stop(&self, container: &str, grace_secs: u64) -> Result<(), DockerError> {
        self.recorder.record("stop", container);
        let grace = i32::try_from(grace_secs).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(grace).build();
        let result = self.docker.stop_container(container, Some(options)).await;
        self.recorder.returned();
        match result {
            Err(e) if status_code(&e) != Some(304) => Err(call(format!("stop {container}"))(e)),
            _ => Ok(()),
        }
    }

    /// Renames a container.
    pub async fn rename(&self, container: &str, to: &str) -> Result<(), DockerError> {
        self.recorder
            .record("rename", &format!("{container} → {to}"));
        let options = RenameContainerOptionsBuilder::default().name(to).build();
        let result = self.docker.rename_container(container, options).await;
        self.recorder.returned();
        result.map_err(call(format!("rename {container} to {to}")))
    }

    /// Removes a container, stopping it first if needed; one already gone is fine.
    pub async fn remove(&self, container: &str) -> Result<(), DockerError> {
        self.recorder.record("remove", container);
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let result = self.docker.remove_container(container, Some(options)).await;
        self.recorder.returned();
        match result {
            Err(e) if status_code(&e) != Some(404) => Err(call(format!("remove {container}"))(e)),
            _ => Ok(()),
        }
    }

    /// The last `lines` lines of a container's stdout and stderr.
    pub async fn log_tail(
        &self,
        container: &str,
        lines: usize,
    ) -> Result<Vec<String>, DockerError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(container, Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(call(format!("logs {container}")))?;
            out.extend(chunk.to_string().lines().map(str::to_owned));
        }
        Ok(out)
    }

    /// Images of `repository` in the local store, newest first.
    pub async fn images_of(&self, repository: &str) -> Result<Vec<StoredImage>, DockerError> {
        let filters = std::collections::HashMap::from([(
            "reference".to_owned(),
            vec![repository.to_owned()],
        )]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let mut images: Vec<StoredImage> = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(call(format!("list images of {repository}")))?
            .into_iter()
            .map(|i| StoredImage {
                id: i.id,
                tags: i.repo_tags,
                created: i.created,
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images)
    }

    /// Removes an image (all its tags); one still used by a container is refused by the engine, one already gone
    /// is fine.
    pub async fn remove_image(&self, id: &str) -> Result<(), DockerError> {
        self.recorder.record("remove image", id);
        let options = RemoveImageOptionsBuilder::default().force(false).build();
        let result = self.docker.remove_image(id, Some(options), None).await;
        self.recorder.returned();
        match result {
            Err(e) if status_code(&e) != Some(404) => Err(call(format!("remove image {id}"))(e)),
            _ => Ok(()),
        }
    }
}

fn call(what: String) -> impl FnOnce(BollardError) -> DockerError {
    move |source| DockerError::Call { call: what, source }
}

fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// `repo:tag` → (`repo`, `tag`); a digest reference stays whole.
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_image_and_tag() {
        assert_eq!(split_reference("a/b:v1"), ("a/b", Some("v1")));
        assert_eq!(
            split_reference("localhost:5000/b"),
            ("localhost:5000/b", None)
        );
        assert_eq!(
            split_reference("localhost:5000/b:v2"),
            ("localhost:5000/b", Some("v2"))
        );
        assert_eq!(split_reference("a/b@sha256:00"), ("a/b@sha256:00", None));
    }
}
