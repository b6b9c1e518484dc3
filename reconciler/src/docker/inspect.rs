//! Docker's inspect output mapped into the core's observed types: every state, health and restart policy Docker
//! names becomes the core's enum, and one the reconciler has no name for is an error naming the container.

use std::collections::BTreeMap;

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, RestartPolicyNameEnum,
};
use reconciler_core::identity::env_value_fingerprint;
use reconciler_core::manifest::RestartPolicy;
use reconciler_core::observed::{
    ContainerRuntime, ContainerState, ContainerStatus, Health, published_port,
};

use super::{DockerError, Status};

pub(super) fn container_state(c: ContainerInspectResponse) -> Result<ContainerState, DockerError> {
    let runtime = runtime(&c);
    let config = c.config.unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let id = c.id.unwrap_or_default();
    Ok(ContainerState {
        started_at: state.started_at.clone().unwrap_or_default(),
        runtime: Some(runtime),
        state: container_status(&id, state.status)?,
        health: state.health.and_then(|h| h.status).and_then(health),
        id,
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        labels: config
            .labels
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        image_id: c.image.unwrap_or_default(),
        restart_count: u32::try_from(c.restart_count.unwrap_or_default()).unwrap_or(u32::MAX),
    })
}

/// `State.Status`; Docker leaves it empty only for a container it cannot describe.
fn container_status(
    container: &str,
    status: Option<ContainerStateStatusEnum>,
) -> Result<ContainerStatus, DockerError> {
    Ok(match status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerStatus::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerStatus::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerStatus::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerStatus::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerStatus::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerStatus::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerStatus::Dead,
        Some(ContainerStateStatusEnum::STOPPING) => ContainerStatus::Stopping,
        Some(ContainerStateStatusEnum::EMPTY) | None => {
            return Err(DockerError::Unrecognised {
                container: container.to_owned(),
                field: "State.Status",
                value: String::new(),
            });
        }
    })
}

/// `State.Health.Status`: empty and `none` are Docker's words for a container without a health check.
fn health(status: HealthStatusEnum) -> Option<Health> {
    match status {
        HealthStatusEnum::STARTING => Some(Health::Starting),
        HealthStatusEnum::HEALTHY => Some(Health::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(Health::Unhealthy),
        HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
    }
}

/// `HostConfig.RestartPolicy.Name`: Docker reads an empty or absent name as `no`.
fn restart_policy(name: Option<RestartPolicyNameEnum>) -> RestartPolicy {
    match name {
        Some(RestartPolicyNameEnum::ALWAYS) => RestartPolicy::Always,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => RestartPolicy::UnlessStopped,
        Some(RestartPolicyNameEnum::ON_FAILURE) => RestartPolicy::OnFailure,
        Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY) | None => RestartPolicy::No,
    }
}

/// What the container runs with, in the manifest's terms (see [`ContainerRuntime`]); env values only as
/// fingerprints.
fn runtime(c: &ContainerInspectResponse) -> ContainerRuntime {
    let config = c.config.as_ref();
    let host = c.host_config.as_ref();
    let sorted = |v: Option<&Vec<String>>| {
        let mut v = v.cloned().unwrap_or_default();
        v.sort();
        v
    };
    let mut mounts = sorted(host.and_then(|h| h.binds.as_ref()));
    for m in host.and_then(|h| h.mounts.as_ref()).into_iter().flatten() {
        let mode = if m.read_only == Some(true) {
            "ro"
        } else {
            "rw"
        };
        mounts.push(format!(
            "{}:{}:{mode}",
            m.source.as_deref().unwrap_or_default(),
            m.target.as_deref().unwrap_or_default()
        ));
    }
    mounts.sort();
    let mut ports: Vec<String> = host
        .and_then(|h| h.port_bindings.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|(container, bindings)| {
            bindings.iter().flatten().map(move |b| {
                published_port(
                    b.host_ip.as_deref(),
                    b.host_port.as_deref().unwrap_or_default(),
                    container,
                )
            })
        })
        .collect();
    ports.sort();
    let log_config = host.and_then(|h| h.log_config.as_ref());
    let mut log: Vec<String> = log_config
        .and_then(|l| l.config.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    log.push(format!(
        "driver={}",
        log_config
            .and_then(|l| l.typ.as_deref())
            .unwrap_or_default()
    ));
    log.sort();
    let env = config
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_owned(), env_value_fingerprint(v)))
        .collect();
    ContainerRuntime {
        user: config.and_then(|c| c.user.clone()).unwrap_or_default(),
        read_only_root_fs: host.and_then(|h| h.readonly_rootfs).unwrap_or(false),
        cap_drop: sorted(host.and_then(|h| h.cap_drop.as_ref())),
        cap_add: sorted(host.and_then(|h| h.cap_add.as_ref())),
        security_opt: sorted(host.and_then(|h| h.security_opt.as_ref())),
        privileged: host.and_then(|h| h.privileged).unwrap_or(false),
        restart: restart_policy(
            host.and_then(|h| h.restart_policy.as_ref())
                .and_then(|r| r.name),
        ),
        mounts,
        ports,
        log,
        env,
    }
}

pub(super) fn status(c: ContainerInspectResponse) -> Result<Status, DockerError> {
    let health_log = c
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.log.as_ref())
        .map(|log| {
            log.iter()
                .map(|r| {
                    format!(
                        "exit {}: {}",
                        r.exit_code.unwrap_or_default(),
                        r.output.as_deref().unwrap_or_default().trim()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let exit_code = c
        .state
        .as_ref()
        .and_then(|s| s.exit_code)
        .unwrap_or_default();
    let s = container_state(c)?;
    Ok(Status {
        state: s.state,
        exit_code,
        restart_count: s.restart_count,
        health: s.health,
        health_log,
        image_id: s.image_id,
        id: s.id,
        started_at: s.started_at,
        labels: s.labels,
    })
}
