//! The whole system on this machine for the end-to-end tests: the bot's real image (with images derived from it
//! for "new commits" and a broken build), the chain and Schwab simulators listening on the Docker bridge so the
//! container reaches them, a git repository holding the manifest, and the reconciler's GitOps loop deploying it to
//! the local Docker engine. Checks compare the bot's database and the broker's positions with the simulated
//! chain's own record of every fill.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reconciler_core::manifest::{
    self, App, DesiredState, Hardening, HealthCheck, Image, Logs, Port, Protocol, RestartPolicy,
    Secrets, VolumeMount,
};
use serde_json::Value;
use sim_chain::ChainSim;
use test_support::git::git;
use test_support::oracle::{
    ExecutionRow, broker_positions, complete_login, decision_violations, expected_fills,
    order_violations, unhedged,
};

/// The key sealing the Schwab tokens in the bot's database: a sentinel that must never appear in any output.
pub const ENCRYPTION_KEY: &str = "e2ee2ee2e2ee2ee2e2ee2ee2e2ee2ee2e2ee2ee2e2ee2ee2e2ee2ee2e2ee2ee2";
/// The Schwab app secret: another sentinel.
pub const APP_SECRET: &str = "e2e-app-secret-sentinel";

/// The real bot image under test: `SCHWAD_E2E_IMAGE` (scripts/test sets it to the image it just built and checked),
/// else `schwad:test-<HEAD>`, built from the Dockerfile when missing.
pub fn base_image() -> String {
    if let Ok(image) = std::env::var("SCHWAD_E2E_IMAGE") {
        assert!(
            docker_ok(&["image", "inspect", &image]),
            "SCHWAD_E2E_IMAGE={image} is not in the local image store"
        );
        return image;
    }
    let root = root();
    let head = run(Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "--short", "HEAD"]));
    let image = format!("schwad:test-{head}");
    if !docker_ok(&["image", "inspect", &image]) {
        eprintln!(
            "building {image} from the Dockerfile (scripts/build-image, profile ci): several minutes"
        );
        run(Command::new(root.join("scripts/build-image"))
            .arg(&image)
            .env("CARGO_PROFILE", "ci"));
    }
    image
}

/// A busybox image (`tests/images/build.sh`, needs busybox-static) for file chores the bot's image has no tools
/// for. Built at most once; a failed build is left to the command using the image to report (cleanups ignore it).
fn tools_image() -> &'static str {
    const IMAGE: &str = "schwad-e2e-tools:busybox";
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        if !docker_ok(&["image", "inspect", IMAGE]) {
            let _ = Command::new(root().join("reconciler/tests/images/build.sh"))
                .arg(IMAGE)
                .output();
        }
    });
    IMAGE
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `command`, panicking with its stderr when it fails; returns its trimmed stdout.
pub fn run(command: &mut Command) -> String {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `docker args...`, its stdout.
pub fn docker(args: &[&str]) -> String {
    run(Command::new("docker").args(args))
}

fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The host's address on Docker's default bridge (the network's gateway, else its interface's address): the bot's
/// container reaches the simulators there.
pub fn bridge_gateway() -> IpAddr {
    let gateway = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]);
    if let Ok(address) = gateway.parse() {
        return address;
    }
    let bridge = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        r#"{{index .Options "com.docker.network.bridge.name"}}"#,
    ]);
    let bridge = if bridge.is_empty() {
        "docker0".to_owned()
    } else {
        bridge
    };
    let shown = run(Command::new("ip").args(["-4", "-o", "addr", "show", &bridge]));
    shown
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no IPv4 address on Docker's bridge {bridge}: {shown:?}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One test's deployment of the whole system.
pub struct Stack {
    pub dir: tempfile::TempDir,
    /// Container name (unique per test).
    pub name: String,
    /// Image repository of this test's builds.
    pub repo: String,
    /// The bot's /health port on the host.
    pub port: u16,
    pub chain: ChainSim,
    pub schwab: sim_schwab::Handle,
    base: String,
    periodic: Option<Child>,
}

impl Stack {
    /// Starts the simulators and a git repository for test `test`.
    pub async fn new(test: &str, seed: u64) -> Self {
        let gateway = bridge_gateway();
        let chain = ChainSim::start(sim_chain::Config {
            listen: SocketAddr::new(gateway, 0),
            seed,
            block_time: Some(Duration::from_millis(250)),
            ..sim_chain::Config::default()
        })
        .await
        .expect("chain simulator");
        let schwab = sim_schwab::start(sim_schwab::Config {
            listen: SocketAddr::new(gateway, 0),
            app_secret: APP_SECRET.to_owned(),
            access_token_ttl: Duration::from_secs(4),
            activation_delay: Duration::from_millis(10),
            fill_delay: Duration::from_millis(40),
            requests_per_window: 100_000,
            orders_per_window: 100_000,
            ..sim_schwab::Config::default()
        })
        .await
        .expect("schwab simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let suffix = format!("{}-{}", std::process::id(), fastrand::u32(..));
        let stack = Self {
            name: format!("schwad-e2e-{test}-{suffix}"),
            repo: format!("schwad-e2e-{test}-{suffix}"),
            port: free_port(),
            chain,
            schwab,
            base: base_image(),
            periodic: None,
            dir,
        };
        std::fs::create_dir_all(stack.repo_dir().join("manifests")).expect("repo dir");
        std::fs::create_dir_all(stack.dir.path().join("volume")).expect("volume dir");
        git(&stack.repo_dir(), &["init", "-q", "-b", "main"]);
        stack.write_secrets();
        stack
    }

    fn repo_dir(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// The bot's data directory on the host (the volume mount's source).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("volume/bot")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn write_secrets(&self) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join("secrets.env");
        let text = format!(
            "WS_RPC_URL={}\nSCHWAB_APP_KEY={}\nSCHWAB_APP_SECRET={APP_SECRET}\nENCRYPTION_KEY={ENCRYPTION_KEY}\n",
            self.chain.ws_url(),
            self.schwab.app_key(),
        );
        std::fs::write(&path, text).expect("secrets file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("mode");
    }

    /// Builds `<repo>:<tag>` from the real image as CI would build commit `commit` (the same binary; /health
    /// reports `GIT_COMMIT`). A `broken` build exits at start, as a bad release would.
    pub fn build(&self, tag: &str, commit: &str, broken: bool) {
        let created = docker(&["create", &self.base]);
        let mut args = vec![
            "commit".to_owned(),
            "--change".to_owned(),
            format!("ENV GIT_COMMIT={commit}"),
            "--change".to_owned(),
            format!("LABEL org.opencontainers.image.revision={commit}"),
        ];
        if broken {
            args.extend([
                "--change".to_owned(),
                r#"CMD ["schwad", "run", "--no-such-option"]"#.to_owned(),
            ]);
        }
        args.push(created.clone());
        args.push(format!("{}:{tag}", self.repo));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args);
        docker(&["rm", &created]);
    }

    /// Commits the manifest deploying `<repo>:<tag>`; returns the commit.
    pub fn commit(&self, tag: &str, message: &str) -> String {
        std::fs::write(
            self.repo_dir().join("manifests/desired.yaml"),
            manifest::to_yaml(&self.desired(tag)).expect("manifest YAML"),
        )
        .expect("manifest");
        git(&self.repo_dir(), &["add", "-A"]);
        git(&self.repo_dir(), &["commit", "-q", "-m", message]);
        self.head()
    }

    /// The repository's HEAD commit.
    pub fn head(&self) -> String {
        git(&self.repo_dir(), &["rev-parse", "HEAD"])
    }

    /// `git revert` of `commit` (a rollback as an operator does it); returns the new HEAD.
    pub fn revert(&self, commit: &str) -> String {
        git(&self.repo_dir(), &["revert", "--no-edit", commit]);
        self.head()
    }

    /// The manifest deploying `<repo>:<tag>`.
    fn desired(&self, tag: &str) -> DesiredState {
        let dir = self.dir.path().display();
        let gateway = bridge_gateway();
        let ms = |ms| manifest::Duration::new(Duration::from_millis(ms));
        let secs = manifest::Duration::from_secs;
        let env = [
            ("LOG_LEVEL", "schwad=debug,info".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("DATABASE_URL", "sqlite:/data/schwad.db".to_owned()),
            ("SERVER_PORT", "8080".to_owned()),
            ("ORDERBOOK", format!("{:#x}", sim_chain::BASE_ORDERBOOK)),
            ("ORDER_OWNER", format!("{:#x}", test_support::oracle::OWNER)),
            ("DEPLOYMENT_BLOCK", "0".to_owned()),
            ("CONFIRMATIONS", "2".to_owned()),
            ("STALL_TIMEOUT", "2s".to_owned()),
            ("RECONNECT_MIN_BACKOFF", "50ms".to_owned()),
            ("RECONNECT_MAX_BACKOFF", "500ms".to_owned()),
            ("BROKER", "schwab".to_owned()),
            (
                "SCHWAB_BASE_URL",
                self.schwab
                    .base_url()
                    .replace("127.0.0.1", &gateway.to_string()),
            ),
            ("SCHWAB_CALLBACK_URL", self.schwab.callback_url().to_owned()),
            ("SCHWAB_REQUESTS_PER_MINUTE", "100000".to_owned()),
            ("SCHWAB_ORDERS_PER_MINUTE", "100000".to_owned()),
            ("SCHWAB_TIMEOUT", "2s".to_owned()),
            ("SCHWAB_MIN_BACKOFF", "50ms".to_owned()),
            ("SCHWAB_MAX_BACKOFF", "500ms".to_owned()),
            ("TOKEN_REFRESH_LEEWAY", "1s".to_owned()),
            ("MARKET_HOURS_RECHECK", "200ms".to_owned()),
            ("ORDER_POLL_INTERVAL", "50ms".to_owned()),
            ("HEDGE_TICK", "100ms".to_owned()),
            ("FAILED_HEDGE_COOLDOWN", "300ms".to_owned()),
            ("SHUTDOWN_TIMEOUT", "5s".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .into();
        DesiredState {
            version: manifest::FORMAT_VERSION,
            name: "e2e".to_owned(),
            infra: test_support::manifest::infra("e2e", "s-1vcpu-2gb", format!("{dir}/volume")),
            app: App {
                container_name: self.name.clone(),
                image: Image {
                    repository: self.repo.clone(),
                    tag: tag.to_owned(),
                    digest: None,
                },
                env,
                secrets: Some(Secrets {
                    env_file: format!("{dir}/secrets.env"),
                    names: [
                        "WS_RPC_URL",
                        "SCHWAB_APP_KEY",
                        "SCHWAB_APP_SECRET",
                        "ENCRYPTION_KEY",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                }),
                volume_mount: VolumeMount {
                    host_path: format!("{dir}/volume/bot"),
                    container_path: "/data".to_owned(),
                },
                user: "1001:1001".to_owned(),
                restart: RestartPolicy::UnlessStopped,
                ports: vec![Port {
                    host: self.port,
                    container: 8080,
                    protocol: Protocol::Tcp,
                    host_ip: None,
                }],
                health_check: HealthCheck {
                    http: Some(format!("http://127.0.0.1:{}/health", self.port)),
                    command: None,
                    interval: ms(500),
                    timeout: secs(1),
                    retries: 3,
                    start_period: secs(20),
                    stability_window: secs(2),
                },
                logs: Logs {
                    max_size: "10m".to_owned(),
                    max_files: 2,
                },
                stop_grace_period: secs(10),
                keep_previous: 1,
                hardening: Hardening::default(),
            },
        }
    }

    fn reconciler(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_reconciler"));
        command
            .args(args)
            .arg("--state-dir")
            .arg(self.state_dir())
            .env_remove("RECONCILER_MANIFEST")
            .env_remove("RECONCILER_STATE_DIR")
            .env("NO_COLOR", "1");
        command
    }

    /// One run of the GitOps loop (`reconcile --once`) on the repository.
    pub fn reconcile_once(&self) -> Output {
        let repo = self.repo_dir().display().to_string();
        self.reconciler(&["reconcile", "--repo", &repo, "--once"])
            .output()
            .expect("reconciler")
    }

    /// Starts the periodic reconcile (`--interval`), as the droplet's timer runs it; stopped on drop.
    pub fn start_periodic(&mut self, interval: &str) {
        let repo = self.repo_dir().display().to_string();
        let log = std::fs::File::create(self.dir.path().join("periodic.log")).expect("log");
        let child = self
            .reconciler(&["reconcile", "--repo", &repo, "--interval", interval])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("reconciler");
        self.periodic = Some(child);
    }

    /// What the periodic reconcile printed so far.
    pub fn periodic_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("periodic.log")).unwrap_or_default()
    }

    /// `reconciler status --json`.
    pub fn status(&self) -> Value {
        let out = self
            .reconciler(&["status", "--json"])
            .output()
            .expect("reconciler status");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// The bot's /health, `None` while it does not answer.
    pub async fn health(&self) -> Option<Value> {
        let response = digitalocean_api::http::client_builder()
            .build()
            .ok()?
            .get(format!("http://127.0.0.1:{}/health", self.port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Waits until /health reports `commit`, the database fine and the chain connected; on timeout, shows what it
    /// saw.
    pub async fn wait_serving(&self, commit: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let health = self.health().await;
            // Before the first login the broker part reads "re-authentication needed": the rest must be fine.
            if health.as_ref().is_some_and(|h| {
                h["database_ok"] == true && h["chain_connected"] == true && h["commit"] == commit
            }) {
                return;
            }
            if Instant::now() > deadline {
                let periodic = self.periodic_log();
                let tail: Vec<&str> = periodic.lines().rev().take(30).collect();
                panic!(
                    "timed out after {limit:?} waiting for /health to report commit {commit}: last answer {health:?}\n\
                     --- containers ---\n{}\n--- bot logs ---\n{}\n--- periodic reconcile (last lines, newest first) ---\n{}",
                    docker(&[
                        "ps",
                        "-a",
                        "--filter",
                        &format!("label=io.schwad.app={}", self.name)
                    ]),
                    self.logs(30),
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until /health says `ok` (after a login: the broker ready too).
    pub async fn wait_ok(&self, limit: Duration) {
        eventually(limit, "/health to say ok", || async {
            self.health().await.is_some_and(|h| h["status"] == "ok")
        })
        .await;
    }

    /// Logs the bot in at the Schwab simulator as the operator does: `schwad auth` in the running container,
    /// answered by [`complete_login`].
    pub fn login(&self) {
        let child = Command::new("docker")
            .args(["exec", "-i", &self.name, "schwad", "auth"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker exec");
        complete_login(child, &self.schwab);
    }

    /// `schwad db query` on the bot's database, from a container of the image (the database belongs to 1001):
    /// one line per row, columns separated by `|`.
    pub fn sql(&self, query: &str) -> String {
        let mount = format!("{}:/data", self.data_dir().display());
        docker(&[
            "run",
            "--rm",
            "--user",
            "1001:1001",
            "-v",
            &mount,
            &self.base,
            "schwad",
            "db",
            "query",
            query,
        ])
    }

    /// Stored fills `(tx hash, log index, side)` (panics on a fill stored twice) and the hedge executions not yet
    /// filled or failed, in one read of the database.
    pub fn ledger(&self) -> (BTreeSet<(String, i64, String)>, u64) {
        let out = self.sql(
            "SELECT e.tx_hash || ',' || e.log_index || ',' || t.order_side FROM trades t \
             JOIN chain_events e ON e.id = t.event_id WHERE e.removed = 0 AND t.status <> 'reverted'; \
             SELECT 'open,' || count(*) FROM hedge_executions WHERE status IN ('pending', 'submitted');",
        );
        let mut fills = Vec::new();
        let mut open = None;
        for line in out.lines().filter(|l| !l.is_empty()) {
            if let Some(count) = line.strip_prefix("open,") {
                open = Some(count.parse().expect("count"));
                continue;
            }
            let mut parts = line.splitn(3, ',');
            let (hash, index, side) = (parts.next(), parts.next(), parts.next());
            let (Some(hash), Some(index), Some(side)) = (hash, index, side) else {
                panic!("unexpected row {line:?}");
            };
            fills.push((
                hash.to_owned(),
                index.parse().expect("log index"),
                side.to_owned(),
            ));
        }
        let set: BTreeSet<_> = fills.iter().cloned().collect();
        assert_eq!(set.len(), fills.len(), "a fill is stored twice");
        (set, open.expect("the count of open executions"))
    }

    /// Every hedge execution with its broker orders, for the oracle's invariants.
    pub fn executions(&self) -> Vec<ExecutionRow> {
        let out = self.sql(
            "SELECT e.id || ',' || e.symbol || ',' || e.side || ',' || e.shares || ',' || e.status || ',' || \
             e.filled_shares || ',' || ifnull(e.unhedged_at_decision, '') || ',' || \
             ifnull(group_concat(o.broker_order_id, ';'), '') \
             FROM hedge_executions e LEFT JOIN hedge_order_ids o ON o.execution_id = e.id GROUP BY e.id;",
        );
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                let parts: Vec<&str> = line.split(',').collect();
                let [id, symbol, side, shares, status, filled, unhedged, orders] = parts[..] else {
                    panic!("unexpected row {line:?}");
                };
                ExecutionRow {
                    id: id.parse().expect("id"),
                    symbol: symbol.to_owned(),
                    side: side.to_owned(),
                    shares: shares.parse().expect("shares"),
                    status: status.to_owned(),
                    filled_shares: filled.parse().expect("filled shares"),
                    unhedged_at_decision: (!unhedged.is_empty()).then(|| unhedged.to_owned()),
                    order_ids: orders
                        .split(';')
                        .filter(|id| !id.is_empty())
                        .map(|id| id.parse().expect("order id"))
                        .collect(),
                }
            })
            .collect()
    }

    /// Stored fills `(tx hash, log index, side)`.
    pub fn stored_fills(&self) -> BTreeSet<(String, i64, String)> {
        self.ledger().0
    }

    /// Mines blocks past the confirmation depth, then waits until every fill of ours on the chain is stored once,
    /// nothing is in flight, and the broker offsets each symbol's onchain net within a share: no trade lost, none
    /// hedged twice.
    pub async fn assert_hedged(&self, limit: Duration) {
        self.chain.mine_blocks(4);
        let ledger = self.chain.ledger();
        let fills = expected_fills(&ledger);
        assert!(!fills.is_empty(), "no fills of ours were traded");
        let deadline = Instant::now() + limit;
        loop {
            let (stored, open) = tokio::task::block_in_place(|| self.ledger());
            let broker = broker_positions(&self.schwab);
            let gaps = unhedged(&ledger, &broker);
            if stored == fills && open == 0 && gaps.is_empty() {
                let executions = tokio::task::block_in_place(|| self.executions());
                let mut violations = decision_violations(&executions);
                violations.extend(order_violations(
                    &executions,
                    &self.schwab.ledger(),
                    &BTreeSet::new(),
                ));
                assert!(violations.is_empty(), "{violations:#?}");
                return;
            }
            if Instant::now() > deadline {
                let missing: Vec<_> = fills.difference(&stored).collect();
                let extra: Vec<_> = stored.difference(&fills).collect();
                panic!(
                    "not hedged after {limit:?}: {} fills expected, {} stored (missing {missing:?}, extra {extra:?}); \
                     {open} executions open; broker {broker:?}, unhedged by a share or more {gaps:?}\n--- bot logs ---\n{}",
                    fills.len(),
                    stored.len(),
                    self.logs(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The last `lines` log lines of the bot's container.
    pub fn logs(&self, lines: u32) -> String {
        let out = Command::new("docker")
            .args(["logs", "--tail", &lines.to_string(), &self.name])
            .output()
            .expect("docker logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Everything the bot's container printed.
    pub fn all_logs(&self) -> String {
        self.logs(u32::MAX)
    }

    /// Trades of ours and others, `blocks` blocks of `per_block` random transactions.
    pub async fn trade(&self, blocks: usize, per_block: usize) {
        for _ in 0..blocks {
            self.chain.submit_random(per_block);
            self.chain.mine();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The running container of the app, as `docker inspect` JSON.
    pub fn container(&self) -> Value {
        let text = docker(&["inspect", &self.name]);
        let all: Value = serde_json::from_str(&text).expect("inspect JSON");
        all[0].clone()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.periodic.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=io.schwad.app={}", self.name),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
        // The database belongs to 1001: remove it from a container so the temp dir can go (the bot's image has
        // no rm: a busybox one).
        let mount = format!("{}:/v", self.dir.path().join("volume").display());
        let _ = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--user",
                "0",
                "-v",
                &mount,
                "--entrypoint",
                "rm",
            ])
            .args([tools_image(), "-rf", "/v/bot"])
            .output();
        let images = Command::new("docker")
            .args(["images", "-q", &self.repo])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in images.split_whitespace() {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
}
