//! The infra scope against the DigitalOcean simulator: fresh creation, a no-op that only reads (one list per
//! resource kind, no mutation), drift healed, 429 storms, 500s and lost create responses survived without
//! duplicates, and data-destructive changes blocked unless allowed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

mod deploy;
mod support;

use deploy::{Deployment, docker};
use digitalocean_api::models::{CreateSshKey, FirewallSpec, TaggedResource};
use digitalocean_api::{Client, ClientConfig, PollPolicy, RetryPolicy, Token};
use reconciler::converge::{self, Ended, InfraReport};
use reconciler::docker::Engine;
use reconciler::execute::droplet_host::DropletHost;
use reconciler::execute::progress::{Event, Progress};
use reconciler::host::{AppHost, LocalHost};
use reconciler::load::{self, Loaded};
use reconciler::preflight::{self, Check, Status};
use reconciler_core::identity::{MANAGED_TAG, PROTECTED_TAG, deployment_tag};
use reconciler_core::plan::{Operation, PlanOptions, ResourceKind};
use sim_digitalocean::{
    Config, Faults, LostResponse, PushedTag, RateLimitConfig, SimHandle, Simulator,
};
use support::tmpfs::Tmpfs;
use tempfile::TempDir;

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0Ji6V3uq2n3a0F2vtPLP2QuxRUTTuLwM7Pc5l9Pxs deploy@ci";

/// Progress events are not under test here.
struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: &Event) {}
}

/// A simulator with an SSH key, and the committed manifest (and its cloud-init template) pointing at that key.
struct World {
    sim: SimHandle,
    client: Client,
    dir: TempDir,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn client_config(sim: &SimHandle) -> ClientConfig {
    let mut config = ClientConfig::new(Token::new(sim.token())).with_base_url(sim.base_url());
    config.retry = RetryPolicy {
        max_attempts: 8,
        initial_interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(40),
        ..RetryPolicy::default()
    };
    config.poll = PollPolicy {
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        pending_event_timeout: Duration::from_secs(10),
    };
    config
}

impl World {
    async fn new() -> Self {
        let sim = Simulator::start(Config {
            action_delay: Duration::from_millis(30),
            rate_limit: RateLimitConfig {
                burst_limit: 10_000,
                limit: 10_000,
                ..RateLimitConfig::default()
            },
            ..Config::default()
        })
        .await
        .unwrap();
        let client = Client::new(client_config(&sim)).unwrap();
        let key = client
            .add_ssh_key(&CreateSshKey {
                name: "deploy".into(),
                public_key: PUBLIC_KEY.into(),
            })
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("manifests")).unwrap();
        // The cloud-init template and the files it includes.
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(root().join("deploy"))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(copied.success());
        let world = Self { sim, client, dir };
        let manifest = fs_err::read_to_string(root().join("manifests/desired.yaml"))
            .unwrap()
            .replace(
                "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
                &key.fingerprint,
            );
        world.write_manifest(&manifest);
        world
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.path().join("manifests/desired.yaml")
    }

    fn write_manifest(&self, text: &str) {
        fs_err::write(self.manifest_path(), text).unwrap();
    }

    fn loaded(&self) -> Loaded {
        load::manifest(&self.manifest_path()).unwrap()
    }

    async fn converge(&self, allow_data_loss: &[&str]) -> InfraReport {
        let loaded = self.loaded();
        let options = PlanOptions {
            allow_data_loss: allow_data_loss.iter().map(|s| (*s).to_owned()).collect(),
            ..PlanOptions::default()
        };
        let plan = converge::prepare_infra(&loaded, &self.client, &options).await;
        let engine = Engine::connect().await.unwrap();
        let host = AppHost::Local(LocalHost);
        let droplet = DropletHost {
            engine: &engine,
            host: &host,
        };
        converge::infra(&loaded, &self.client, plan, Some(droplet), &Quiet)
            .await
            .unwrap()
    }

    async fn plan(&self) -> reconciler_core::plan::Plan {
        converge::prepare_infra(&self.loaded(), &self.client, &PlanOptions::default()).await
    }

    /// Runs the binary against the simulator (on a blocking thread: the simulator runs on this runtime).
    async fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(self.sim.token(), args).await
    }

    /// Runs the binary against the simulator with `token`.
    async fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        let mut command = self.command(token, args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// A second simulator holding this one's account, whose token has only `scopes`.
    async fn scoped(&self, scopes: Vec<String>) -> SimHandle {
        let state = self.dir.path().join("account.json");
        self.sim.save(&state).unwrap();
        let sim = Simulator::start(Config {
            action_delay: Duration::from_millis(30),
            scopes: Some(scopes),
            ..Config::default()
        })
        .await
        .unwrap();
        sim.load(&state).unwrap();
        sim
    }

    /// Runs the binary against `sim`.
    async fn cli_at(&self, sim: &SimHandle, args: &[&str]) -> Output {
        let mut command = self.command_at(&sim.base_url(), sim.token(), args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// The binary's command line against the simulator with `token`.
    fn command(&self, token: &str, args: &[&str]) -> std::process::Command {
        self.command_at(&self.sim.base_url(), token, args)
    }

    /// The binary's command line against the API at `url` with `token`.
    fn command_at(&self, url: &str, token: &str, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reconciler"));
        command
            .args(args)
            .arg("--file")
            .arg(self.manifest_path())
            .env("DIGITALOCEAN_API_URL", url)
            .env("DIGITALOCEAN_ACCESS_TOKEN", token)
            .env("RECONCILER_DO_POLL_INTERVAL", "10ms")
            .env("RECONCILER_DO_RETRY_INTERVAL", "1ms")
            .env("RECONCILER_STATE_DIR", self.dir.path().join("state"))
            .env("NO_COLOR", "1");
        command
    }

    /// Counts of the deployment's resources on the simulator: (droplets, volumes, firewalls, registry).
    async fn census(&self) -> (usize, usize, usize, bool) {
        let droplets = self
            .client
            .list_droplets_by_name("schwad-prod-1")
            .await
            .unwrap();
        let volumes = self.client.list_volumes(None, None).await.unwrap();
        let firewalls = self.client.list_firewalls().await.unwrap();
        let registry = self.client.get_registry().await.unwrap();
        (
            droplets.len(),
            volumes.len(),
            firewalls.len(),
            registry.is_some(),
        )
    }
}

/// The droplet played by this machine: the converged infra's manifest pointed at a bot container running on the
/// local engine, and the volume's filesystem a tmpfs at the manifest's mount path.
struct BotHere {
    /// Owns the container and its image.
    app: Deployment,
    container: String,
    mounted: Tmpfs,
    /// The manifest written, to edit.
    original: String,
}

impl BotHere {
    async fn start(world: &World, name: &str) -> Self {
        let app = Deployment::new(name);
        app.image("v1", &[]);
        let container = app.name.clone();
        let mount = world.dir.path().join("mnt/schwad-data");
        let original = fs_err::read_to_string(world.manifest_path())
            .unwrap()
            .replace(
                "container_name: schwad",
                &format!("container_name: {container}"),
            )
            .replace("/mnt/schwad-data", &mount.display().to_string());
        world.write_manifest(&original);
        world.converge(&[]).await;
        docker(&[
            "run",
            "-d",
            "--name",
            &container,
            &format!("{}:v1", app.repo),
        ]);
        let mounted = Tmpfs::mount(&mount);
        Self {
            app,
            container,
            mounted,
            original,
        }
    }
}

fn ops(report: &InfraReport) -> Vec<&Operation> {
    report.plan.steps.iter().map(|s| &s.op).collect()
}

/// Asserts exit 0, showing both outputs otherwise.
fn assert_succeeded(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_install_creates_everything_then_a_no_op_only_reads() {
    let world = World::new().await;
    world.sim.reset_requests();
    let report = world.converge(&[]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    let kinds: Vec<_> = report.plan.steps.iter().map(|s| s.resource.kind).collect();
    for kind in [
        ResourceKind::Registry,
        ResourceKind::Volume,
        ResourceKind::Droplet,
        ResourceKind::Firewall,
        ResourceKind::Snapshot,
    ] {
        assert!(kinds.contains(&kind), "no {kind} step in {kinds:?}");
    }
    // Issue 20, case 9: the volume goes in the droplet's create request, never by a later attach that cloud-init's
    // wait for the device would race.
    assert!(
        ops(&report).iter().any(|op| matches!(
            op,
            Operation::CreateDroplet { volumes, .. } if volumes.len() == 1
        )),
        "{:#?}",
        ops(&report)
    );
    assert!(
        !ops(&report)
            .iter()
            .any(|op| matches!(op, Operation::AttachVolume { .. }))
    );
    assert_eq!(
        world
            .sim
            .requests()
            .get("POST /v2/volumes/{volume_id}/actions"),
        0,
        "{:?}",
        world.sim.requests().routes()
    );
    assert_eq!(world.census().await, (1, 1, 1, true));

    let droplet = &world
        .client
        .list_droplets_by_name("schwad-prod-1")
        .await
        .unwrap()[0];
    let dep = deployment_tag("schwad-prod");
    assert!(droplet.tags.contains(&MANAGED_TAG.to_owned()));
    assert!(droplet.tags.contains(&dep));
    let volume = &world.client.list_volumes(None, None).await.unwrap()[0];
    assert!(volume.tags.contains(&PROTECTED_TAG.to_owned()));
    assert_eq!(volume.droplet_ids, vec![droplet.id]);
    assert_eq!(droplet.volume_ids, vec![volume.id.clone()]);
    let firewall = &world.client.list_firewalls().await.unwrap()[0];
    assert_eq!(firewall.spec.tags, vec![dep]);
    let ports: Vec<&str> = firewall
        .spec
        .inbound_rules
        .iter()
        .map(|r| r.ports.as_str())
        .collect();
    assert_eq!(ports, ["22", "8080"]);

    world.sim.reset_requests();
    let plan = world.plan().await;
    assert!(plan.is_empty(), "{:#?}", plan.steps);
    assert!(plan.unknown.is_empty(), "{:?}", plan.unknown);
    let requests = world.sim.requests();
    assert_eq!(requests.mutating(), 0, "{:?}", requests.routes());
    assert_eq!(requests.total(), 5, "{:?}", requests.routes());
    for (route, count) in requests.routes() {
        assert_eq!(*count, 1, "{route} read more than once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plan_and_apply_scope_infra_against_the_simulator() {
    let world = World::new().await;
    let out = world.cli(&["plan", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("droplet.schwad-prod-1"));
    assert!(!text(&out.stdout).contains(world.sim.token()));

    let out = world.cli(&["apply", "--scope", "infra"]).await;
    assert_succeeded(&out);
    world.sim.reset_requests();
    let out = world.cli(&["plan", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let requests = world.sim.requests();
    assert_eq!(requests.mutating(), 0);
    // Five lists and the token pre-flight's read of the account.
    assert!(requests.total() <= 6, "{:?}", requests.routes());
    let out = world.cli(&["apply", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("No changes"));
    assert_eq!(world.sim.requests().mutating(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_apply_never_say_converged_about_what_they_could_not_read() {
    let world = World::new().await;
    world.converge(&[]).await;
    let storm = Faults {
        rate_limit_storm: u32::MAX,
        storm_retry_after_secs: 0,
        ..Faults::default()
    };
    let errors = Faults {
        server_errors: u32::MAX,
        ..Faults::default()
    };
    let revoked = "dop_v1_revoked";
    for (case, faults, token) in [
        ("401", Faults::default(), revoked),
        ("429", storm, world.sim.token()),
        ("500", errors, world.sim.token()),
    ] {
        world.sim.set_faults(faults);
        let out = world.cli_as(token, &["plan", "--scope", "infra"]).await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(6),
            "{case}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(!stdout.contains("No changes"), "{case}: {stdout}");
        assert!(
            stdout.contains("[FAIL] token"),
            "{case}: no token pre-flight in {stdout}"
        );

        let out = world
            .cli_as(token, &["plan", "--scope", "infra", "--json"])
            .await;
        assert_eq!(out.status.code(), Some(6), "{case}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["converged"], false, "{case}: {doc}");
        let kinds: Vec<&str> = doc["unknown_kinds"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["registry", "volume", "droplet", "firewall", "snapshot"],
            "{case}"
        );

        world.sim.reset_requests();
        let out = world.cli_as(token, &["apply", "--scope", "infra"]).await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(6),
            "{case}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(!stdout.contains("match"), "{case}: {stdout}");
        assert_eq!(world.sim.requests().mutating(), 0, "{case}");
    }
    world.sim.set_faults(Faults::default());
    let out = world.cli(&["plan", "--scope", "infra", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["converged"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_untagged_volume_or_firewall_is_refused_until_adopted() {
    let world = World::new().await;
    let c = &world.client;
    // Made by hand, with the manifest's names but without the deployment's tag.
    let volume = c
        .create_volume(&digitalocean_api::models::CreateVolume {
            name: "schwad-data".into(),
            region: "nyc3".into(),
            size_gigabytes: 10,
            filesystem_type: Some(digitalocean_api::models::Filesystem::Ext4),
            filesystem_label: None,
            description: String::new(),
            tags: Vec::new(),
            snapshot_id: None,
        })
        .await
        .unwrap();
    let firewall = c
        .create_firewall(&FirewallSpec {
            name: "schwad-prod".into(),
            inbound_rules: vec![digitalocean_api::models::InboundRule {
                protocol: "tcp".into(),
                ports: "22".into(),
                sources: digitalocean_api::models::Targets {
                    addresses: vec!["0.0.0.0/0".into()],
                    ..Default::default()
                },
            }],
            ..FirewallSpec::default()
        })
        .await
        .unwrap();

    let out = world.cli(&["apply", "--scope", "infra"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    for command in [
        "reconciler adopt volume schwad-data",
        "reconciler adopt firewall schwad-prod",
    ] {
        assert!(stderr.contains(command), "{command} not in {stderr}");
    }
    assert_eq!(
        world.census().await,
        (0, 1, 1, false),
        "nothing was created"
    );

    for kind in ["volume", "firewall"] {
        let name = if kind == "volume" {
            "schwad-data"
        } else {
            "schwad-prod"
        };
        let out = world.cli(&["adopt", kind, name]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Adopted"));
    }
    let report = world.converge(&[]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    assert_eq!(world.census().await, (1, 1, 1, true));
    assert_eq!(c.list_volumes(None, None).await.unwrap()[0].id, volume.id);
    assert_eq!(c.list_firewalls().await.unwrap()[0].id, firewall.id);
    assert!(world.plan().await.is_converged());
    // Adopting again is refused: there is nothing to adopt.
    let out = world.cli(&["adopt", "volume", "schwad-data"]).await;
    assert_eq!(out.status.code(), Some(1));
}

/// Kill-point walk of an infra change (a fresh install): the reconciler is SIGKILLed after each of the N DigitalOcean
/// calls of a clean apply in turn (the simulator holds call k+1, unanswered and not carried out, until the kill),
/// and the next apply must converge with one droplet, one volume and one firewall, take no data-loss step, find the
/// lock free, and leave a plan that exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infra_apply_killed_after_any_call_converges_on_the_next() {
    let clean = World::new().await;
    clean.sim.reset_requests();
    let out = clean.cli(&["apply", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls = clean.sim.requests().total();
    assert!(calls > 10, "{calls} calls");
    for k in 1..=calls {
        let world = World::new().await;
        world.sim.reset_requests();
        world.sim.set_faults(Faults {
            hold_after: Some(k),
            ..Faults::default()
        });
        let mut child = world
            .command(world.sim.token(), &["apply", "--scope", "infra"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Until call k+1 is held (a run may also end sooner: action polls vary).
        while world.sim.requests().total() <= k && child.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        world.sim.set_faults(Faults::default());

        let out = world.cli(&["apply", "--scope", "infra"]).await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "kill after {k}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            !stdout.contains("delete volume"),
            "kill after {k}: {stdout}"
        );
        assert_eq!(world.census().await, (1, 1, 1, true), "kill after {k}");
        let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
        assert!(
            snapshots.iter().all(|s| !s.name.contains("before")),
            "kill after {k}: a data-loss step ran: {snapshots:?}"
        );
        let out = world.cli(&["plan", "--scope", "infra"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "kill after {k}: {}",
            text(&out.stdout)
        );
    }
    eprintln!("kill-point walk: {calls} kill points");
}

/// The kill-point walk of a volume move (issue 15 case 11): killed after each DigitalOcean call of a clean move in
/// turn, the next apply finishes it, the new volume holds the old one's data (made from a snapshot of it) and the
/// plan is then empty. The droplet is this machine (`--host local`); no bot runs, and its mount path is a plain
/// directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_move_killed_after_any_call_converges_with_the_data() {
    let (clean, _) = moving().await;
    let out = clean.cli(&APPLY_MOVE).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls = clean.sim.requests().total();
    assert!(calls > 5, "{calls} calls");
    for k in 1..=calls {
        let (world, old) = moving().await;
        world.sim.set_faults(Faults {
            hold_after: Some(k),
            ..Faults::default()
        });
        let mut child = world
            .command(world.sim.token(), &APPLY_MOVE)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while world.sim.requests().total() <= k && child.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        world.sim.set_faults(Faults::default());

        moved_with_the_data(&world, &old, &format!("kill after {k}")).await;
    }
    eprintln!("volume-move kill-point walk: {calls} kill points");
}

/// A volume move whose POSTs (detach, snapshot, create from it, attach) each lose their answer once, after the work
/// was done (a gateway timeout, or a dropped connection): nothing is made twice and the move finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_move_whose_answers_are_lost_makes_one_snapshot_and_one_volume() {
    for mode in [LostResponse::GatewayTimeout, LostResponse::Disconnect] {
        let (world, old) = moving().await;
        world.sim.set_faults(Faults {
            lost_responses: 4,
            lost_response_mode: mode,
            ..Faults::default()
        });
        moved_with_the_data(&world, &old, &format!("{mode:?}")).await;
        assert_eq!(
            world.sim.faults().lost_responses,
            0,
            "{mode:?}: every POST's answer was lost"
        );
        let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
        assert_eq!(
            snapshots
                .iter()
                .filter(|s| s.name.contains("before-delete"))
                .count(),
            1,
            "{mode:?}: {snapshots:?}"
        );
    }
}

/// `apply --scope infra` of a volume move, allowed, on this machine as the droplet.
const APPLY_MOVE: [&str; 7] = [
    "apply",
    "--scope",
    "infra",
    "--allow-data-loss",
    "schwad-data",
    "--host",
    "local",
];

/// A converged world whose manifest now renames the volume (schwad-data → schwad-data-2), with the old volume's id.
/// The droplet is this machine (`--host local`); no bot runs, and its mount path is a plain directory.
async fn moving() -> (World, String) {
    let world = World::new().await;
    let mount = world.dir.path().join("mnt/schwad-data");
    fs_err::create_dir_all(&mount).unwrap();
    let original = fs_err::read_to_string(world.manifest_path())
        .unwrap()
        .replace(
            "container_name: schwad",
            &format!("container_name: schwad-move-walk-{}", std::process::id()),
        )
        .replace("/mnt/schwad-data", &mount.display().to_string());
    world.write_manifest(&original);
    world.converge(&[]).await;
    let old = world.client.list_volumes(None, None).await.unwrap()[0]
        .id
        .clone();
    world.write_manifest(&original.replace("name: schwad-data", "name: schwad-data-2"));
    world.sim.reset_requests();
    (world, old)
}

/// Applies the move, then checks against the simulator's record: one volume, the new name, made from a snapshot of
/// the old volume; one droplet, volume and firewall; `plan` exits 0.
async fn moved_with_the_data(world: &World, old: &str, at: &str) {
    let out = world.cli(&APPLY_MOVE).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{at}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let volumes = world.client.list_volumes(None, None).await.unwrap();
    assert_eq!(volumes.len(), 1, "{at}: {volumes:?}");
    assert_eq!(volumes[0].name, "schwad-data-2", "{at}");
    let source = world
        .sim
        .volume_source(&volumes[0].id)
        .unwrap_or_else(|| panic!("{at}: the new volume starts empty"));
    let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
    assert!(
        snapshots
            .iter()
            .any(|s| s.id == source && s.resource_id == old),
        "{at}: made from {source}, not a snapshot of {old}: {snapshots:?}"
    );
    assert_eq!(world.census().await, (1, 1, 1, true), "{at}");
    let out = world.cli(&["plan", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(0), "{at}: {}", text(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_each_resource_is_healed() {
    let world = World::new().await;
    world.converge(&[]).await;
    let c = &world.client;
    let droplet = c.list_droplets_by_name("schwad-prod-1").await.unwrap()[0].clone();
    let volume = c.list_volumes(None, None).await.unwrap()[0].clone();
    let firewall = c.list_firewalls().await.unwrap()[0].clone();

    // By hand: the SSH rule removed, the volume detached, the managed tag taken off the droplet.
    let spec = FirewallSpec {
        inbound_rules: firewall
            .spec
            .inbound_rules
            .iter()
            .filter(|r| r.ports != "22")
            .cloned()
            .collect(),
        ..firewall.spec.clone()
    };
    c.update_firewall(&firewall.id, &spec).await.unwrap();
    let action = c
        .detach_volume(&volume.id, droplet.id, "nyc3")
        .await
        .unwrap();
    c.wait_for_action(action.id).await.unwrap();
    c.untag_resources(MANAGED_TAG, &[TaggedResource::droplet(droplet.id)])
        .await
        .unwrap();

    let report = world.converge(&[]).await;
    assert!(matches!(report.ended, Ended::Converged));
    let ops = ops(&report);
    assert_eq!(ops.len(), 4, "{ops:#?}");
    assert!(
        ops.iter()
            .any(|op| matches!(op, Operation::UpdateFirewall { .. }))
    );
    // The re-attached volume is mounted on the running droplet (skipped here: this host has no fstab entry).
    assert!(
        ops.iter()
            .any(|op| matches!(op, Operation::MountVolume { .. }))
    );
    assert!(
        ops.iter()
            .any(|op| matches!(op, Operation::AttachVolume { .. }))
    );
    assert!(
        ops.iter()
            .any(|op| matches!(op, Operation::Tag { tag, .. } if tag == MANAGED_TAG))
    );
    assert_eq!(world.census().await, (1, 1, 1, true));
    world.sim.reset_requests();
    assert!(world.plan().await.is_empty());
    assert_eq!(world.sim.requests().mutating(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_tier_change_is_applied_then_the_plan_is_empty() {
    let world = World::new().await;
    world.converge(&[]).await;
    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    world.write_manifest(&manifest.replace("tier: basic", "tier: professional"));

    let report = world.converge(&[]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    assert_eq!(
        ops(&report),
        [&Operation::SetRegistryTier {
            tier: "professional".into()
        }]
    );
    let registry = world.client.get_registry().await.unwrap().unwrap();
    assert_eq!(registry.tier_slug(), Some("professional"));
    world.sim.reset_requests();
    let plan = world.plan().await;
    assert!(plan.is_empty(), "{:#?}", plan.steps);
    assert_eq!(world.sim.requests().mutating(), 0);
}

/// The pre-flight `image` check of the current manifest.
async fn image_check(world: &World) -> Check {
    let checks = preflight::digitalocean(&world.client, &world.loaded().manifest).await;
    checks.into_iter().find(|c| c.name == "image").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_finds_the_image_tag_and_pinned_digest_in_the_registry() {
    let world = World::new().await;
    let check = image_check(&world).await;
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("no registry schwad"), "{check}");
    world.converge(&[]).await;
    let check = image_check(&world).await;
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("no such repository"), "{check}");

    let tag = "0000000000000000000000000000000000000000";
    let digest = format!("sha256:{}", "c3".repeat(32));
    let push = |tag: &str, digest: &str| {
        world
            .sim
            .push_tag(PushedTag {
                repository: "schwad".into(),
                tag: tag.into(),
                manifest_digest: digest.into(),
                size_bytes: 1 << 20,
            })
            .unwrap();
    };
    push("older", &format!("sha256:{}", "aa".repeat(32)));
    let check = image_check(&world).await;
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("not found (1 tags)"), "{check}");
    push(tag, &digest);
    let check = image_check(&world).await;
    assert_eq!(check.status, Status::Pass, "{check}");

    // Pinned: the digest must be the tag's; elsewhere it only warns, absent it fails.
    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    let pin = |digest: &str| {
        world.write_manifest(&manifest.replace(
            &format!("tag: \"{tag}\""),
            &format!("tag: \"{tag}\"\n    digest: {digest}"),
        ));
    };
    pin(&digest);
    assert_eq!(image_check(&world).await.status, Status::Pass);
    pin(&format!("sha256:{}", "aa".repeat(32)));
    assert_eq!(image_check(&world).await.status, Status::Warn);
    pin(&format!("sha256:{}", "dd".repeat(32)));
    let check = image_check(&world).await;
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("under no tag"), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_the_read_scopes_the_token_lacks() {
    let world = World::new().await;
    let checks = preflight::digitalocean(&world.client, &world.loaded().manifest).await;
    let scopes = checks.iter().find(|c| c.name == "token scopes").unwrap();
    assert_eq!(scopes.status, Status::Pass, "{scopes}");

    let scoped = Simulator::start(Config {
        scopes: Some(
            [
                "account:read",
                "droplet:read",
                "block_storage:read",
                "snapshot:read",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = Client::new(client_config(&scoped)).unwrap();
    let checks = preflight::digitalocean(&client, &world.loaded().manifest).await;
    let find = |name: &str| checks.iter().find(|c| c.name == name).unwrap();
    assert_eq!(find("token").status, Status::Pass);
    let scopes = find("token scopes");
    assert_eq!(scopes.status, Status::Fail);
    assert_eq!(scopes.detail, "403 without firewall:read, registry:read");
    assert!(find("registry").detail.contains("403 forbidden"));
    assert!(checks.iter().all(|c| !c.detail.contains(scoped.token())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storms_and_server_errors_are_survived_without_duplicates() {
    let world = World::new().await;
    world.sim.set_faults(Faults {
        rate_limit_storm: 4,
        storm_retry_after_secs: 0,
        server_errors: 3,
        ..Faults::default()
    });
    let report = world.converge(&[]).await;
    assert!(matches!(report.ended, Ended::Converged));
    let faults = world.sim.faults();
    assert_eq!((faults.rate_limit_storm, faults.server_errors), (0, 0));
    assert_eq!(world.census().await, (1, 1, 1, true));
    assert!(world.plan().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_responses_make_no_duplicates() {
    for mode in [LostResponse::GatewayTimeout, LostResponse::Disconnect] {
        let world = World::new().await;
        // Every POST of a fresh apply: registry, volume, droplet (the volume in its request), firewall, snapshot.
        world.sim.set_faults(Faults {
            lost_responses: 5,
            lost_response_mode: mode,
            ..Faults::default()
        });
        let report = world.converge(&[]).await;
        assert!(matches!(report.ended, Ended::Converged), "{mode:?}");
        assert_eq!(world.sim.faults().lost_responses, 0, "{mode:?}");
        assert_eq!(world.census().await, (1, 1, 1, true), "{mode:?}");
        let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
        assert_eq!(snapshots.len(), 1, "{mode:?}");
        assert!(world.plan().await.is_empty(), "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_destructive_changes_are_blocked_unless_allowed_then_stop_unmount_detach_snapshot_delete()
 {
    let world = World::new().await;
    let BotHere {
        app: _app,
        container,
        mounted,
        original,
    } = BotHere::start(&world, "release").await;
    let volume = world.client.list_volumes(None, None).await.unwrap()[0].clone();
    let state = || docker(&["inspect", "-f", "{{.State.Status}}", &container]);
    world.write_manifest(&original.replace("filesystem: ext4", "filesystem: xfs"));

    world.sim.reset_requests();
    let out = world.cli(&["apply", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("allow-data-loss"));
    assert!(
        text(&out.stderr).contains(&format!("would: stop container {container} on droplet")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(world.sim.requests().mutating(), 0);

    // Allowed, but the host the bot runs on is not named: refused before any change.
    let out = world
        .cli(&[
            "apply",
            "--scope",
            "infra",
            "--allow-data-loss",
            "schwad-data",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--host"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(world.sim.requests().mutating(), 0);
    assert_eq!(state().trim(), "running");
    assert!(mounted.is_mounted());

    let report = world.converge(&["schwad-data"]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    let ops = ops(&report);
    let at = |want: fn(&Operation) -> bool| {
        ops.iter()
            .position(|op| want(op))
            .unwrap_or_else(|| panic!("{ops:#?}"))
    };
    let order = [
        at(|op| matches!(op, Operation::StopAppOnDroplet { .. })),
        at(|op| matches!(op, Operation::UnmountVolume { .. })),
        at(|op| matches!(op, Operation::DetachVolume { .. })),
        at(|op| matches!(op, Operation::SnapshotVolume { .. })),
        at(|op| matches!(op, Operation::DeleteVolume { .. })),
        at(|op| matches!(op, Operation::CreateVolume { .. })),
        at(|op| matches!(op, Operation::CreateDroplet { .. })),
    ];
    assert!(order.is_sorted(), "{ops:#?}");
    // The filesystem type is in the cloud-init template, so the droplet is replaced too: the new droplet is created
    // with the new volume attached, and its first boot mounts it.
    assert!(
        ops.iter().any(|op| matches!(
            op,
            Operation::CreateDroplet { volumes, .. } if volumes.len() == 1
        )),
        "{ops:#?}"
    );
    assert!(
        !ops.iter()
            .any(|op| matches!(op, Operation::AttachVolume { .. })),
        "{ops:#?}"
    );
    // The bot stopped and the filesystem was unmounted before the detach; the app scope starts it again.
    assert_eq!(state().trim(), "exited");
    assert!(!mounted.is_mounted());
    // The volume is gone; its snapshot stays.
    let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
    assert!(
        snapshots
            .iter()
            .any(|s| s.resource_id == volume.id && s.name.contains("before-delete")),
        "{snapshots:?}"
    );
    let volumes = world.client.list_volumes(None, None).await.unwrap();
    assert_eq!(volumes.len(), 1);
    assert_ne!(volumes[0].id, volume.id);
    assert_eq!(volumes[0].filesystem_type, "xfs");
    assert_eq!(volumes[0].droplet_ids.len(), 1);
    assert!(world.plan().await.is_empty());
}

/// Issue 15 case 11: renaming the volume moves its data. Held back without `--allow-data-loss`; allowed, the new
/// volume is made from a snapshot of the old one taken after the bot stopped and the volume was unmounted and
/// detached (the simulator's own record of what each volume was made from is the oracle), and the old one goes last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_volume_is_made_from_a_snapshot_of_the_old_one_taken_after_the_bot_stopped() {
    let world = World::new().await;
    let BotHere {
        app: _app,
        container,
        mounted,
        original,
    } = BotHere::start(&world, "move").await;
    let old = world.client.list_volumes(None, None).await.unwrap()[0].clone();
    let state = || docker(&["inspect", "-f", "{{.State.Status}}", &container]);
    world.write_manifest(&original.replace("name: schwad-data", "name: schwad-data-2"));

    world.sim.reset_requests();
    let out = world.cli(&["plan", "--scope", "infra"]).await;
    let shown = text(&out.stdout) + &text(&out.stderr);
    assert!(
        shown.contains("from snapshot schwad-data-before-delete-"),
        "the plan offers the move:\n{shown}"
    );
    let out = world.cli(&["apply", "--scope", "infra"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--allow-data-loss=schwad-data"));
    assert_eq!(world.sim.requests().mutating(), 0);
    assert_eq!(state().trim(), "running");

    let report = world.converge(&["schwad-data"]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    let ops = ops(&report);
    let at = |want: &dyn Fn(&Operation) -> bool| {
        ops.iter()
            .position(|op| want(op))
            .unwrap_or_else(|| panic!("{ops:#?}"))
    };
    let order = [
        at(&|op| matches!(op, Operation::StopAppOnDroplet { .. })),
        at(&|op| matches!(op, Operation::UnmountVolume { .. })),
        at(&|op| matches!(op, Operation::DetachVolume { .. })),
        at(&|op| matches!(op, Operation::SnapshotVolume { .. })),
        at(&|op| {
            matches!(
                op,
                Operation::CreateVolume {
                    from_snapshot: Some(_),
                    ..
                }
            )
        }),
        at(&|op| matches!(op, Operation::DeleteVolume { volume_id } if *volume_id == old.id)),
    ];
    assert!(order.is_sorted(), "{ops:#?}");
    assert_eq!(state().trim(), "exited");
    assert!(!mounted.is_mounted());

    let volumes = world.client.list_volumes(None, None).await.unwrap();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    let new = &volumes[0];
    assert_eq!(new.name, "schwad-data-2");
    assert_eq!(new.filesystem_type, old.filesystem_type);
    assert_eq!(new.droplet_ids.len(), 1, "attached to the droplet");
    let source = world
        .sim
        .volume_source(&new.id)
        .expect("the new volume was made from a snapshot");
    let snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
    let snapshot = snapshots
        .iter()
        .find(|s| s.id == source)
        .unwrap_or_else(|| panic!("{source} kept: {snapshots:?}"));
    assert_eq!(snapshot.resource_id, old.id, "a snapshot of the old volume");
    assert!(world.plan().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_now_then_the_policy_prunes_all_but_keep_and_the_last_good_one() {
    use digitalocean_api::models::ResourceType;
    use reconciler_core::identity::LAST_GOOD_TAG;

    let world = World::new().await;
    world.converge(&[]).await;
    for _ in 0..2 {
        let out = world.cli(&["snapshot"]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("of volume schwad-data taken"));
        tokio::time::sleep(Duration::from_millis(1100)).await; // distinct names and creation times
    }
    let mut snapshots = world.client.list_snapshots(Some("volume")).await.unwrap();
    assert_eq!(
        snapshots.len(),
        3,
        "the policy's first snapshot and two taken now"
    );
    let dep = deployment_tag("schwad-prod");
    assert!(snapshots.iter().all(|s| s.tags.contains(&dep)));
    snapshots.sort_by_key(|s| s.created_at);
    // The oldest is the one the last good deploy is linked to.
    world.client.create_tag(LAST_GOOD_TAG).await.unwrap();
    world
        .client
        .tag_resources(
            LAST_GOOD_TAG,
            &[TaggedResource {
                resource_id: snapshots[0].id.clone(),
                resource_type: ResourceType::VolumeSnapshot,
            }],
        )
        .await
        .unwrap();

    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    world.write_manifest(&manifest.replace("keep: 7", "keep: 1"));
    let report = world.converge(&[]).await;
    let deleted: Vec<&str> = report
        .plan
        .steps
        .iter()
        .filter_map(|s| match &s.op {
            Operation::DeleteSnapshot { snapshot_id } => Some(snapshot_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted,
        [snapshots[1].id.as_str()],
        "{:#?}",
        report.plan.steps
    );
    let left: Vec<String> = world
        .client
        .list_snapshots(Some("volume"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&snapshots[0].id) && left.contains(&snapshots[2].id));
}

/// Issue 20, case 5: `reconciler snapshot` (the daily and pre-deploy path) enforces `keep` itself: after each run
/// the deployment has at most `keep` snapshots, the newest is the one just taken, and snapshots without the
/// deployment's tag (hand-made, another deployment's) stay however old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_command_prunes_the_deployments_snapshots_to_keep() {
    let world = World::new().await;
    world.converge(&[]).await;
    let volume = &world.client.list_volumes(None, None).await.unwrap()[0];
    let hand_made = world
        .client
        .create_volume_snapshot(&volume.id, "hand-made", &[])
        .await
        .unwrap();
    let others = world
        .client
        .create_volume_snapshot(
            &volume.id,
            "staging-copy",
            &[MANAGED_TAG.to_owned(), deployment_tag("schwad-staging")],
        )
        .await
        .unwrap();
    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    world.write_manifest(&manifest.replace("keep: 7", "keep: 2"));
    let dep = deployment_tag("schwad-prod");

    let mut deleted = 0;
    for run in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await; // distinct names and creation times
        let out = world.cli(&["snapshot"]).await;
        assert_succeeded(&out);
        let stdout = text(&out.stdout);
        deleted += stdout.matches(" deleted: ").count();
        let taken = stdout
            .lines()
            .find(|l| l.ends_with("of volume schwad-data taken."))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_owned();
        let all = world.client.list_snapshots(Some("volume")).await.unwrap();
        let mut ours: Vec<_> = all.iter().filter(|s| s.tags.contains(&dep)).collect();
        ours.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        assert_eq!(ours.len(), 2, "run {run}: {stdout}{ours:?}");
        assert!(
            taken.contains(&ours[0].id),
            "run {run}: the newest is the one just taken: {taken}"
        );
        assert!(
            all.iter().any(|s| s.id == hand_made.id),
            "run {run}: {stdout}"
        );
        assert!(all.iter().any(|s| s.id == others.id), "run {run}: {stdout}");
    }
    // The apply's snapshot and three taken now, two kept.
    assert_eq!(deleted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_droplet_renamed_out_of_the_manifest_is_replaced_only_when_data_loss_is_allowed() {
    let world = World::new().await;
    world.converge(&[]).await;
    let old = world
        .client
        .list_droplets_by_name("schwad-prod-1")
        .await
        .unwrap()[0]
        .id;
    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    world.write_manifest(&manifest.replace("name: schwad-prod-1", "name: schwad-prod-2"));

    let blocked = world.converge(&[]).await;
    assert!(matches!(blocked.ended, Ended::Blocked), "{blocked:?}");
    assert!(world.client.find_droplet(old).await.unwrap().is_some());

    let report = world.converge(&["schwad-data"]).await;
    assert!(matches!(report.ended, Ended::Converged), "{report:?}");
    assert!(world.client.find_droplet(old).await.unwrap().is_none());
    let new = world
        .client
        .list_droplets_by_name("schwad-prod-2")
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    let volume = &world.client.list_volumes(None, None).await.unwrap()[0];
    assert_eq!(volume.droplet_ids, vec![new[0].id]);
    assert!(world.plan().await.is_empty());
}

/// The scopes docs/operations.md gives the token named `token` (its row of the "Tokens" table).
fn documented_scopes(token: &str) -> Vec<String> {
    let docs = fs_err::read_to_string(root().join("docs/operations.md")).unwrap();
    let row = docs
        .lines()
        .find(|l| l.starts_with(&format!("| `{token}`")))
        .unwrap_or_else(|| panic!("no row for {token} in docs/operations.md"));
    let scopes: Vec<String> = row
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.contains(':'))
        .map(str::to_owned)
        .collect();
    assert!(!scopes.is_empty(), "{row}");
    scopes
}

/// Every call the infra apply, the snapshot and the plan make is allowed to the token the docs give each of them:
/// the simulator answers 403 to a route without the scope DigitalOcean's spec names for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_tokens_have_every_scope_their_calls_need() {
    let world = World::new().await;
    let infra = world
        .scoped(documented_scopes("DIGITALOCEAN_ACCESS_TOKEN"))
        .await;
    let out = world.cli_at(&infra, &["apply", "--scope", "infra"]).await;
    assert_succeeded(&out);
    world
        .sim
        .load(&{
            let state = world.dir.path().join("after-apply.json");
            infra.save(&state).unwrap();
            state
        })
        .unwrap();

    // Keeping one, the snapshot command also prunes the apply's snapshot: its list and delete are exercised.
    let manifest = fs_err::read_to_string(world.manifest_path()).unwrap();
    world.write_manifest(&manifest.replace("keep: 7", "keep: 1"));
    let snapshot = world
        .scoped(documented_scopes("DIGITALOCEAN_SNAPSHOT_TOKEN"))
        .await;
    let out = world.cli_at(&snapshot, &["snapshot"]).await;
    assert_succeeded(&out);
    assert!(
        text(&out.stdout).contains(" deleted: "),
        "{}",
        text(&out.stdout)
    );
    // The controls: without the snapshot scope, or the one to delete snapshots, the same command fails.
    for scope in ["block_storage_snapshot:create", "snapshot:delete"] {
        let without: Vec<String> = documented_scopes("DIGITALOCEAN_SNAPSHOT_TOKEN")
            .into_iter()
            .filter(|s| s != scope)
            .collect();
        let refused = world.scoped(without).await;
        let out = world.cli_at(&refused, &["snapshot"]).await;
        assert_ne!(
            out.status.code(),
            Some(0),
            "without {scope}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains("403"),
            "without {scope}: {}",
            text(&out.stderr)
        );
    }

    let read = world
        .scoped(documented_scopes("DIGITALOCEAN_READ_TOKEN"))
        .await;
    let out = world.cli_at(&read, &["plan", "--scope", "infra"]).await;
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("403"), "{}", text(&out.stderr));
}
