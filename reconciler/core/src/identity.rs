//! Identity carried on the objects themselves: DigitalOcean tags, Docker labels and the canonical container spec
//! with its hash. The planner decides from these alone, so a lost local state file never causes a wrong action.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{App, Hardening, Port, Protocol, RestartPolicy};

/// Tag on every DigitalOcean resource the reconciler manages.
pub const MANAGED_TAG: &str = "managed-by:schwad-reconciler";
/// Tag that protects the volume: deleting or replacing it needs `--allow-data-loss`.
pub const PROTECTED_TAG: &str = "schwad-protected";
/// Tag on the snapshot taken for the last deploy that passed its health gate; pruning keeps it.
pub const LAST_GOOD_TAG: &str = "schwad-last-good";
/// Prefix of the droplet tag that records a hash of its user_data (DigitalOcean does not return user_data).
pub const USER_DATA_TAG_PREFIX: &str = "schwad-user-data:";

/// Prefix of the tag naming the deployment a resource belongs to.
pub const DEPLOYMENT_TAG_PREFIX: &str = "schwad-deployment:";

/// Tag naming the deployment a resource belongs to.
pub fn deployment_tag(deployment: &str) -> String {
    format!("{DEPLOYMENT_TAG_PREFIX}{deployment}")
}

/// Droplet tag recording the user_data it was created with.
pub fn user_data_tag(user_data: &str) -> String {
    format!(
        "{USER_DATA_TAG_PREFIX}{}",
        &sha256_hex(user_data.as_bytes())[..12]
    )
}

/// Label keys on managed containers.
pub mod labels {
    /// `schwad-reconciler` on every managed container.
    pub const MANAGED_BY: &str = "io.schwad.managed-by";
    /// The app (container) name from the manifest.
    pub const APP: &str = "io.schwad.app";
    /// Hash of the canonical spec, prefixed with the hash format (`v1:<sha256>`).
    pub const SPEC_HASH: &str = "io.schwad.spec-hash";
    /// The canonical spec itself (JSON, no secret values), for field-level diffs.
    pub const SPEC: &str = "io.schwad.spec";
    /// Fingerprint of the secrets env file the container was created with.
    pub const SECRETS: &str = "io.schwad.secrets-fingerprint";
    /// Manifest commit that created the container (informational; not part of the hash).
    pub const COMMIT: &str = "io.schwad.manifest-commit";
    /// Value of [`MANAGED_BY`].
    pub const MANAGER: &str = "schwad-reconciler";
}

/// The repository of an image reference (`repo:tag` or `repo@digest` → `repo`).
pub fn repository_of(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

/// Version of the spec hash format; a different version never triggers a replacement by itself.
pub const SPEC_HASH_VERSION: &str = "v1";

/// Everything the container is created from, in canonical form (sorted, defaults filled, no secret values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Image reference to run (`repo:tag` or `repo@digest`).
    pub image: String,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Host path of the secrets env file, if any.
    pub secrets_env_file: Option<String>,
    /// Names the secrets env file must define, sorted.
    pub secret_names: Vec<String>,
    /// Host path bind-mounted into the container.
    pub mount_host_path: String,
    /// Container path of the bind mount.
    pub mount_container_path: String,
    /// `uid:gid`.
    pub user: String,
    /// Serialised in Docker's spelling, as the spec hash has always read it.
    pub restart: RestartPolicy,
    /// Published ports, sorted.
    pub ports: Vec<Port>,
    /// Health check command run by Docker, if the manifest gives one.
    pub health_command: Option<Vec<String>>,
    /// Docker health check interval, timeout and start period in milliseconds, and retries.
    pub health_timing: HealthTiming,
    /// URL the health gate probes from the host; `None` reads Docker's health status. Part of the hash, so fixing a
    /// wrong URL is a new revision, and a revert checks the old container with its own gate.
    #[serde(default)]
    pub health_http: Option<String>,
    /// How long the gate wants the container healthy with zero restarts, in milliseconds.
    #[serde(default)]
    pub stability_window_ms: u64,
    /// json-file `max-size`.
    pub log_max_size: String,
    /// json-file `max-file`.
    pub log_max_files: u32,
    /// Seconds between SIGTERM and SIGKILL.
    pub stop_grace_secs: u64,
    pub hardening: Hardening,
}

/// Timing of Docker's health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthTiming {
    /// Interval in milliseconds.
    pub interval_ms: u64,
    /// Timeout in milliseconds.
    pub timeout_ms: u64,
    /// Start period in milliseconds.
    pub start_period_ms: u64,
    /// Consecutive failures before unhealthy.
    pub retries: u32,
}

impl ContainerSpec {
    /// The canonical spec of the manifest's app.
    pub fn from_app(app: &App) -> Self {
        let mut ports = app.ports.clone();
        ports.sort_by_key(|p| (p.host, p.protocol == Protocol::Udp, p.container));
        let mut secret_names = app
            .secrets
            .as_ref()
            .map(|s| s.names.clone())
            .unwrap_or_default();
        secret_names.sort();
        let millis =
            |d: crate::manifest::Duration| u64::try_from(d.get().as_millis()).unwrap_or(u64::MAX);
        let mut hardening = app.hardening.clone();
        hardening.cap_drop.sort();
        hardening.cap_drop.dedup();
        Self {
            image: app.image.reference(),
            env: app.env.clone(),
            secrets_env_file: app.secrets.as_ref().map(|s| s.env_file.clone()),
            secret_names,
            mount_host_path: app.volume_mount.host_path.clone(),
            mount_container_path: app.volume_mount.container_path.clone(),
            user: app.user.clone(),
            restart: app.restart,
            ports,
            health_command: app.health_check.command.clone(),
            health_timing: HealthTiming {
                interval_ms: millis(app.health_check.interval),
                timeout_ms: millis(app.health_check.timeout),
                start_period_ms: millis(app.health_check.start_period),
                retries: app.health_check.retries,
            },
            health_http: app.health_check.http.clone(),
            stability_window_ms: millis(app.health_check.stability_window),
            log_max_size: app.logs.max_size.clone(),
            log_max_files: app.logs.max_files,
            stop_grace_secs: app.stop_grace_period.get().as_secs(),
            hardening,
        }
    }

    /// Canonical JSON (struct fields in declaration order, maps sorted).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `v1:<sha256 of the canonical JSON>`.
    pub fn hash(&self) -> String {
        format!(
            "{SPEC_HASH_VERSION}:{}",
            sha256_hex(self.canonical_json().as_bytes())
        )
    }

    /// The labels a container created from this spec carries.
    pub fn labels(
        &self,
        app_name: &str,
        secrets_fingerprint: Option<&str>,
        commit: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::from([
            (labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned()),
            (labels::APP.to_owned(), app_name.to_owned()),
            (labels::SPEC_HASH.to_owned(), self.hash()),
            (labels::SPEC.to_owned(), self.canonical_json()),
        ]);
        if let Some(fp) = secrets_fingerprint {
            out.insert(labels::SECRETS.to_owned(), fp.to_owned());
        }
        if let Some(commit) = commit {
            out.insert(labels::COMMIT.to_owned(), commit.to_owned());
        }
        out
    }
}

/// Salted SHA-256 of the secrets env file, cut to 16 hex digits: enough to see a change, useless for guessing.
pub fn secrets_fingerprint(contents: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"schwad-secrets-fingerprint-v1\0");
    hasher.update(contents);
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// Short SHA-256 of an environment value, so drift in a value is seen without the value being kept or shown.
pub fn env_value_fingerprint(value: &str) -> String {
    sha256_hex(value.as_bytes())[..16].to_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_strips_tag_or_digest() {
        assert_eq!(repository_of("r.example:5000/a/b:v1"), "r.example:5000/a/b");
        assert_eq!(repository_of("a/b@sha256:00"), "a/b");
        assert_eq!(repository_of("localhost:5000/a"), "localhost:5000/a");
    }

    #[test]
    fn fingerprint_is_short_and_changes_with_content() {
        let a = secrets_fingerprint(b"KEY=1\n");
        assert_eq!(a.len(), 16);
        assert_ne!(a, secrets_fingerprint(b"KEY=2\n"));
        assert!(!a.contains("KEY"));
    }

    #[test]
    fn user_data_tag_is_a_valid_digitalocean_tag() {
        let tag = user_data_tag("#cloud-config\n");
        assert!(
            tag.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c))
        );
        assert_eq!(tag.len(), USER_DATA_TAG_PREFIX.len() + 12);
    }
}
