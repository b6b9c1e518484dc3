//! A throwaway deployment for tests against the real Docker engine: unique names per test, temp dirs for the
//! data, secrets and state, locally built images, a manifest writer, and cleanup on drop.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use reconciler_core::manifest::{
    self, App, DesiredState, Hardening, HealthCheck, Image, Logs, Port, Protocol, RestartPolicy,
    Secrets, VolumeMount,
};
use serde_json::Value;

/// How the manifest asks for health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// `http:` probe from the host.
    Http,
    /// Docker `HEALTHCHECK` command.
    Command,
}

/// The knobs the tests turn on the manifest.
#[derive(Debug, Clone)]
pub struct Spec {
    pub tag: String,
    pub env: Vec<(String, String)>,
    pub health: Health,
    pub restart: RestartPolicy,
    /// `health_check.stability_window`.
    pub stability: Duration,
    /// Stopped previous containers kept for a fast rollback (0 in most tests: one container per app).
    pub keep_previous: u32,
}

impl Spec {
    pub fn tag(tag: &str) -> Self {
        Self {
            tag: tag.to_owned(),
            env: Vec::new(),
            health: Health::Http,
            restart: RestartPolicy::UnlessStopped,
            stability: Duration::from_secs(1),
            keep_previous: 0,
        }
    }
}

/// One test's deployment.
pub struct Deployment {
    pub name: String,
    pub repo: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

pub const SECRET: &str = "tok-secret-4242";

impl Deployment {
    /// A deployment for test `test`, with a secrets file holding `API_TOKEN=`[`SECRET`].
    pub fn new(test: &str) -> Self {
        let suffix = format!("{}-{}", std::process::id(), fastrand::u32(..));
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let d = Self {
            name: format!("schwad-it-{test}-{suffix}"),
            repo: format!("schwad-it-{test}"),
            port: free_port(),
            dir,
        };
        d.write_secret(SECRET);
        d
    }

    /// Builds image `<repo>:<tag>` with `envs` baked in (needs busybox-static and Docker).
    pub fn image(&self, tag: &str, envs: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images/build.sh");
        let out = Command::new(&script)
            .arg(format!("{}:{tag}", self.repo))
            .arg(format!("APP_VERSION={tag}"))
            .args(envs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building a test image failed (is busybox-static installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data/bot")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn secrets_path(&self) -> PathBuf {
        self.dir.path().join("secrets.env")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.path().join("desired.yaml")
    }

    pub fn write_secret(&self, value: &str) {
        std::fs::write(self.secrets_path(), format!("API_TOKEN={value}\n")).unwrap();
        std::fs::set_permissions(self.secrets_path(), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }

    /// The manifest for `spec`.
    pub fn desired(&self, spec: &Spec) -> DesiredState {
        let root = self.dir.path().display();
        let ms = |ms| manifest::Duration::new(Duration::from_millis(ms));
        let mut env = BTreeMap::from([("SERVER_PORT".to_owned(), "8080".to_owned())]);
        for (name, value) in &spec.env {
            let before = env.insert(name.clone(), value.clone());
            assert!(before.is_none(), "env {name} given twice");
        }
        let (http, command) = match spec.health {
            Health::Http => (Some(format!("http://127.0.0.1:{}/health", self.port)), None),
            Health::Command => (
                None,
                Some(
                    [
                        "wget",
                        "-q",
                        "-O",
                        "/dev/null",
                        "http://127.0.0.1:8080/health",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                ),
            ),
        };
        DesiredState {
            version: manifest::FORMAT_VERSION,
            name: "it".to_owned(),
            infra: test_support::manifest::infra("it", "s-1vcpu-1gb", format!("{root}/data")),
            app: App {
                container_name: self.name.clone(),
                image: Image {
                    repository: self.repo.clone(),
                    tag: spec.tag.clone(),
                    digest: None,
                },
                env,
                secrets: Some(Secrets {
                    env_file: format!("{root}/secrets.env"),
                    names: vec!["API_TOKEN".to_owned()],
                }),
                volume_mount: VolumeMount {
                    host_path: format!("{root}/data/bot"),
                    container_path: "/data".to_owned(),
                },
                user: "1001:1001".to_owned(),
                restart: spec.restart,
                ports: vec![Port {
                    host: self.port,
                    container: 8080,
                    protocol: Protocol::Tcp,
                    host_ip: None,
                }],
                health_check: HealthCheck {
                    http,
                    command,
                    interval: ms(200),
                    timeout: ms(500),
                    retries: 3,
                    start_period: manifest::Duration::from_secs(1),
                    stability_window: manifest::Duration::new(spec.stability),
                },
                logs: Logs {
                    max_size: "1m".to_owned(),
                    max_files: 2,
                },
                stop_grace_period: manifest::Duration::from_secs(5),
                keep_previous: spec.keep_previous,
                hardening: Hardening::default(),
            },
        }
    }

    /// Writes the manifest for `spec`.
    pub fn write(&self, spec: &Spec) {
        self.write_desired(&self.desired(spec));
    }

    /// Writes `desired` as the manifest, in the manifest's own YAML.
    pub fn write_desired(&self, desired: &DesiredState) {
        std::fs::write(self.manifest_path(), manifest::to_yaml(desired).unwrap()).unwrap();
    }

    /// A `reconciler` command on this deployment's manifest and state dir.
    pub fn reconciler(&self, command: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reconciler"));
        cmd.arg(command)
            .arg("-f")
            .arg(self.manifest_path())
            .args(["--scope", "app", "--state-dir"])
            .arg(self.state_dir())
            .env_remove("RECONCILER_MANIFEST")
            .env_remove("RECONCILER_STATE_DIR")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `apply --progress json`, to run.
    pub fn apply_json(&self) -> Command {
        let mut cmd = self.reconciler("apply");
        cmd.args(["--progress", "json"]);
        cmd
    }

    /// Runs `apply --progress json`.
    pub fn apply(&self) -> Applied {
        Applied::from(self.apply_json().output().unwrap())
    }

    /// Containers of this app (by label or name), as `docker inspect` JSON.
    pub fn containers(&self) -> Vec<Value> {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.schwad.app={}", self.name),
        ]);
        let mut ids: Vec<&str> = ids.split_whitespace().collect();
        let named = docker(&["ps", "-aq", "--filter", &format!("name=^/{}", self.name)]);
        ids.extend(named.split_whitespace());
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Vec::new();
        }
        // A container the reconciler beside removes between the listing and the inspect is left
        // out: `docker inspect` still prints the others, and says "No such object" of it.
        let out = Command::new("docker")
            .arg("inspect")
            .args(&ids)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success()
                || stderr
                    .lines()
                    .all(|l| l.is_empty() || l.starts_with("Error: No such object")),
            "docker inspect {ids:?}: {stderr}"
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The single container of this app, asserting there is exactly one.
    pub fn only_container(&self) -> Value {
        let all = self.containers();
        let names: Vec<&str> = all.iter().map(|c| c["Name"].as_str().unwrap()).collect();
        assert_eq!(all.len(), 1, "expected one container, found {names:?}");
        assert_eq!(names[0], format!("/{}", self.name));
        all.into_iter().next().unwrap()
    }

    /// Image id of `<repo>:<tag>`.
    pub fn image_id(&self, tag: &str) -> String {
        docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}}",
            &format!("{}:{tag}", self.repo),
        ])
        .trim()
        .to_owned()
    }

    /// GET /health through the published port: the body when 200.
    pub fn health(&self) -> Option<String> {
        http_get(self.port, "/health")
    }

    /// Lines of the data dir's starts log (`<time> <version> <uid:gid>`).
    pub fn starts(&self) -> Vec<String> {
        std::fs::read_to_string(self.data().join("starts.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for c in self.containers() {
            let _ = Command::new("docker")
                .args(["rm", "-f", c["Id"].as_str().unwrap_or_default()])
                .output();
        }
        let images = docker(&["images", "-q", &self.repo]);
        for id in images.split_whitespace() {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
}

/// An apply's exit code, JSON events and stderr.
#[derive(Debug)]
pub struct Applied {
    pub code: Option<i32>,
    pub events: Vec<Value>,
    pub stderr: String,
}

impl From<Output> for Applied {
    fn from(out: Output) -> Self {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let events = stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event: {l}: {e}"))
            })
            .collect();
        Self {
            code: out.status.code(),
            events,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Applied {
    /// The final `done` event.
    pub fn done(&self) -> &Value {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "done")
            .unwrap_or_else(|| panic!("no done event in {self:?}"))
    }

    /// Mutating Docker API calls the apply made.
    pub fn mutations(&self) -> u64 {
        self.done()["mutating_docker_calls"].as_u64().unwrap()
    }

    /// Asserts the exit code, showing everything when it differs.
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self:#?}");
        self
    }

    /// Descriptions of the steps started, in order.
    pub fn steps(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["event"] == "step_started")
            .map(|e| e["description"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Runs the docker CLI and returns stdout, panicking on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP port free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.0 GET: the body when the status is 200.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_owned())
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
