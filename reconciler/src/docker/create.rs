//! The create request as data: a [`ContainerSpec`] and its labels become bollard's create body, with no daemon.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use reconciler_core::identity::ContainerSpec;
use reconciler_core::manifest::{self, Protocol};

/// Options of the writable `/tmp` on a read-only root filesystem (world-writable like a normal `/tmp`).
pub const TMPFS_OPTIONS: &str = "rw,noexec,nosuid,nodev,size=64m,mode=1777";

/// The create body for `spec`: `image` is what to run (the pinned image id), `secret_env` the secrets file's
/// `NAME=value` pairs (passed as env, never as labels).
pub fn create_body(
    spec: &ContainerSpec,
    image: &str,
    labels: &std::collections::BTreeMap<String, String>,
    secret_env: &[(String, String)],
) -> ContainerCreateBody {
    let env = spec
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(secret_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &spec.ports {
        port_bindings
            .entry(format!("{}/{}", port.container, protocol(port.protocol)))
            .or_default()
            .get_or_insert_default()
            .push(PortBinding {
                host_ip: port.host_ip.clone(),
                host_port: Some(port.host.to_string()),
            });
    }
    let h = &spec.hardening;
    let nanos = |ms: u64| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
    ContainerCreateBody {
        image: Some(image.to_owned()),
        user: Some(spec.user.clone()),
        env: Some(env),
        labels: Some(labels.clone().into_iter().collect()),
        exposed_ports: Some(port_bindings.keys().cloned().collect()),
        stop_timeout: Some(i64::try_from(spec.stop_grace_secs).unwrap_or(i64::MAX)),
        healthcheck: spec.health_command.as_ref().map(|command| HealthConfig {
            test: Some(
                std::iter::once("CMD".to_owned())
                    .chain(command.iter().cloned())
                    .collect(),
            ),
            interval: Some(nanos(spec.health_timing.interval_ms)),
            timeout: Some(nanos(spec.health_timing.timeout_ms)),
            start_period: Some(nanos(spec.health_timing.start_period_ms)),
            retries: Some(i64::from(spec.health_timing.retries)),
            start_interval: None,
        }),
        host_config: Some(HostConfig {
            binds: Some(vec![format!(
                "{}:{}:rw",
                spec.mount_host_path, spec.mount_container_path
            )]),
            port_bindings: Some(port_bindings),
            restart_policy: Some(RestartPolicy {
                name: Some(restart_policy(spec.restart)),
                maximum_retry_count: None,
            }),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_owned()),
                config: Some(HashMap::from([
                    ("max-size".to_owned(), spec.log_max_size.clone()),
                    ("max-file".to_owned(), spec.log_max_files.to_string()),
                ])),
            }),
            readonly_rootfs: Some(h.read_only_root_fs),
            tmpfs: h
                .read_only_root_fs
                .then(|| HashMap::from([("/tmp".to_owned(), TMPFS_OPTIONS.to_owned())])),
            cap_drop: Some(h.cap_drop.clone()),
            security_opt: h
                .no_new_privileges
                .then(|| vec!["no-new-privileges:true".to_owned()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
}

fn restart_policy(policy: manifest::RestartPolicy) -> RestartPolicyNameEnum {
    match policy {
        manifest::RestartPolicy::No => RestartPolicyNameEnum::NO,
        manifest::RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
        manifest::RestartPolicy::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
        manifest::RestartPolicy::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use reconciler_core::identity::HealthTiming;
    use reconciler_core::manifest::{Hardening, Port};

    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            image: "registry.example/schwad:v1".to_owned(),
            env: BTreeMap::from([("RUST_LOG".to_owned(), "info".to_owned())]),
            secrets_env_file: Some("/etc/schwad/schwad.env".to_owned()),
            secret_names: vec!["API_KEY".to_owned()],
            mount_host_path: "/mnt/data/bot".to_owned(),
            mount_container_path: "/data".to_owned(),
            user: "1001:1001".to_owned(),
            restart: manifest::RestartPolicy::UnlessStopped,
            ports: vec![Port {
                host: 8080,
                container: 80,
                protocol: Protocol::Tcp,
                host_ip: Some("127.0.0.1".to_owned()),
            }],
            health_command: Some(vec!["wget".to_owned(), "-q".to_owned()]),
            health_timing: HealthTiming {
                interval_ms: 500,
                timeout_ms: 200,
                start_period_ms: 1000,
                retries: 3,
            },
            health_http: None,
            stability_window_ms: 0,
            log_max_size: "10m".to_owned(),
            log_max_files: 5,
            stop_grace_secs: 30,
            hardening: Hardening::default(),
        }
    }

    #[test]
    fn hardening_and_runtime_options_come_from_the_spec() {
        let labels = BTreeMap::from([("io.schwad.app".to_owned(), "schwad".to_owned())]);
        let secrets = [("API_KEY".to_owned(), "s3cret".to_owned())];
        let body = create_body(&spec(), "sha256:abc", &labels, &secrets);
        assert_eq!(body.image.as_deref(), Some("sha256:abc"));
        assert_eq!(body.user.as_deref(), Some("1001:1001"));
        assert_eq!(body.stop_timeout, Some(30));
        let env = body.env.unwrap();
        assert!(env.contains(&"RUST_LOG=info".to_owned()));
        assert!(env.contains(&"API_KEY=s3cret".to_owned()));
        let labels = body.labels.unwrap();
        assert!(labels.values().all(|v| !v.contains("s3cret")));
        let host = body.host_config.unwrap();
        assert_eq!(host.binds.unwrap(), ["/mnt/data/bot:/data:rw"]);
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.tmpfs.unwrap()["/tmp"], TMPFS_OPTIONS);
        assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(host.security_opt.unwrap(), ["no-new-privileges:true"]);
        assert_eq!(
            host.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config.unwrap()["max-file"], "5");
        let binding = &host.port_bindings.unwrap()["80/tcp"];
        assert_eq!(
            binding.as_ref().unwrap()[0].host_port.as_deref(),
            Some("8080")
        );
        assert_eq!(body.exposed_ports.unwrap(), ["80/tcp"]);
        let health = body.healthcheck.unwrap();
        assert_eq!(health.test.unwrap(), ["CMD", "wget", "-q"]);
        assert_eq!(health.interval, Some(500_000_000));
    }

    #[test]
    fn writable_root_gets_no_tmpfs_and_no_health_command_no_healthcheck() {
        let mut s = spec();
        s.hardening.read_only_root_fs = false;
        s.hardening.no_new_privileges = false;
        s.health_command = None;
        let body = create_body(&s, "img", &BTreeMap::new(), &[]);
        let host = body.host_config.unwrap();
        assert_eq!(host.readonly_rootfs, Some(false));
        assert!(host.tmpfs.is_none());
        assert!(host.security_opt.is_none());
        assert!(body.healthcheck.is_none());
    }
}
