//! The restore procedure of `docs/operations.md` ("Backups and restore"), run command by command against the
//! DigitalOcean simulator and the local Docker engine, with a busybox stand-in for the bot and a real SQLite file in
//! its data directory.
//!
//! Every command the doc section shows is taken from the doc (the test fails when the doc stops showing it) and run
//! through `sh` with the production names replaced by the test's: `/mnt/schwad-data` by the deployment's volume
//! directory, `/mnt/restore` by a temp directory, the container `schwad` by the test's one and
//! `https://api.digitalocean.com` by the simulator. The simulator's volumes hold no data, so the volume's data is
//! modelled by that local directory, a snapshot by a copy of it made when `reconciler snapshot` returns, and
//! attaching and mounting a volume created from the snapshot by copying that snapshot to the restore mount point.
//! The bot's writes are `sqlite3` runs as the bot's user (1001); the last one is killed mid-session, so, like a bot
//! stopped while writing, it leaves its rows in a WAL next to the database. The stand-in carries the real `schwad`
//! binary (this build's, with the libraries it loads), whose `schwad db` commands the guide runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod deploy;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use deploy::{Deployment, Health, Spec, docker, wait_until};
use digitalocean_api::models::{CreateVolume, Filesystem};
use digitalocean_api::{Client, ClientConfig, Token};
use sim_digitalocean::{Config, SimHandle, Simulator};
use test_support::git::git;

/// The operations guide, whose restore section this test runs.
const GUIDE: &str = include_str!("../../docs/operations.md");

/// The bot's user and group on the volume.
const BOT_UID: u32 = 1001;

/// The "Backups and restore" section of the guide.
fn restore_section() -> &'static str {
    let start = GUIDE
        .find("## Backups and restore")
        .expect("the guide has a \"Backups and restore\" section");
    let rest = &GUIDE[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// A deployment reconciled from a git repository, whose volume exists on the simulator.
struct Drill {
    d: Deployment,
    api_url: String,
    token: String,
}

impl Drill {
    fn new(runtime: &tokio::runtime::Runtime, sim: &SimHandle) -> Self {
        let d = Deployment::new("restore");
        d.image("v1", &["DATABASE_URL=sqlite:/data/schwad.db"]);
        add_schwad(&format!("{}:v1", d.repo));
        d.write(&Spec {
            health: Health::Command,
            ..Spec::tag("v1")
        });
        let drill = Self {
            d,
            api_url: sim.base_url(),
            token: sim.token().to_owned(),
        };
        std::fs::create_dir_all(drill.repo().join("manifests")).unwrap();
        std::fs::copy(
            drill.d.manifest_path(),
            drill.repo().join("manifests/desired.yaml"),
        )
        .unwrap();
        git(&drill.repo(), &["init", "-q", "-b", "main"]);
        git(&drill.repo(), &["add", "manifests/desired.yaml"]);
        git(&drill.repo(), &["commit", "-q", "-m", "deploy v1"]);
        // What the infra workflow made: the volume the manifest names.
        let client =
            Client::new(ClientConfig::new(Token::new(&drill.token)).with_base_url(&drill.api_url))
                .unwrap();
        runtime
            .block_on(client.create_volume(&CreateVolume {
                name: "it-data".into(),
                region: "nyc3".into(),
                size_gigabytes: 1,
                filesystem_type: Some(Filesystem::Ext4),
                filesystem_label: None,
                description: String::new(),
                tags: Vec::new(),
                snapshot_id: None,
            }))
            .unwrap();
        drill
    }

    fn repo(&self) -> PathBuf {
        self.d.dir.path().join("repo")
    }

    /// The volume's mount point (`/mnt/schwad-data` on the droplet).
    fn volume(&self) -> PathBuf {
        self.d.dir.path().join("data")
    }

    /// Where the restored volume is mounted (`/mnt/restore` on the droplet).
    fn restore_mount(&self) -> PathBuf {
        self.d.dir.path().join("restore")
    }

    /// The simulated snapshot `id`'s data.
    fn snapshot_data(&self, id: &str) -> PathBuf {
        self.d.dir.path().join("snapshots").join(id)
    }

    fn db(&self) -> PathBuf {
        self.d.data().join("schwad.db")
    }

    /// A shell whose `reconciler` is the one under test, on this deployment's state, manifest and simulator.
    fn shell(&self, script: &str) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_reconciler"))
            .parent()
            .unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script])
            .env("PATH", path)
            .env("RECONCILER_STATE_DIR", self.d.state_dir())
            .env("RECONCILER_MANIFEST", self.d.manifest_path())
            .env("DIGITALOCEAN_API_URL", &self.api_url)
            .env("DIGITALOCEAN_ACCESS_TOKEN", &self.token)
            .env("RECONCILER_DO_POLL_INTERVAL", "10ms")
            .env_remove("RECONCILER_REPO")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `command` as the guide's restore section shows it, translated to this deployment; expects exit 0.
    fn step(&self, command: &str, snapshot: &str) -> String {
        let out = self.step_output(command, snapshot);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn step_output(&self, command: &str, snapshot: &str) -> Output {
        assert!(
            restore_section().contains(command),
            "the guide's restore section no longer shows `{command}`"
        );
        let local = command
            .replace("/mnt/schwad-data", &self.volume().display().to_string())
            .replace("/mnt/restore", &self.restore_mount().display().to_string())
            .replace("https://api.digitalocean.com", &self.api_url)
            .replace("<snapshot id>", snapshot);
        // The container's name where a docker command takes it (`schwad` is also the binary run inside).
        let local = ["docker exec ", "docker stop ", "docker start ", "}}' "]
            .iter()
            .fold(local, |local, before| {
                local.replace(
                    &format!("{before}schwad"),
                    &format!("{before}{}", self.d.name),
                )
            });
        self.shell(&local).output().unwrap()
    }

    /// One periodic pass, as the timer runs it.
    fn reconcile(&self) -> Output {
        let mut cmd = self.shell(r#"reconciler reconcile --once --repo "$REPO""#);
        cmd.env("REPO", self.repo());
        cmd.output().unwrap()
    }

    fn container(&self) -> serde_json::Value {
        self.d.only_container()
    }

    fn running(&self) -> bool {
        self.container()["State"]["Running"] == true
    }

    fn healthy(&self) -> bool {
        self.container()["State"]["Health"]["Status"] == "healthy"
    }
}

/// This build's `schwad` binary, built if missing (the workspace's test run has it already).
fn schwad_binary() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_reconciler"))
        .parent()
        .unwrap();
    let binary = dir.join("schwad");
    if !binary.exists() {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "schwad",
                "--bin",
                "schwad",
                "--profile",
                profile,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "building schwad: {}", show(&out));
    }
    assert!(binary.exists(), "no schwad binary at {}", binary.display());
    binary
}

/// Adds this build's `schwad` (at `/bin/schwad`, on the image's `PATH`) and the libraries it loads to image `image`,
/// as the real image has it for operators.
fn add_schwad(image: &str) {
    let binary = schwad_binary();
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    assert!(
        ldd.status.success(),
        "ldd {}: {}",
        binary.display(),
        show(&ldd)
    );
    let libraries: Vec<String> = String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter_map(|word| word.strip_prefix('/'))
        .map(str::to_owned)
        .collect();
    let container = docker(&["create", image]);
    let container = container.trim();
    let copy = format!(
        "tar -C / -chf - {} | docker cp - {container}:/",
        libraries.join(" ")
    );
    let out = Command::new("sh").args(["-c", &copy]).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    docker(&[
        "cp",
        &binary.display().to_string(),
        &format!("{container}:/bin/schwad"),
    ]);
    docker(&["commit", container, image]);
    docker(&["rm", container]);
}

/// `sqlite3` on `db` as the bot's user: its output.
fn bot_sql(db: &Path, sql: &str) -> String {
    let out = bot_sqlite(db)
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "sqlite3 {sql}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn bot_sqlite(db: &Path) -> Command {
    let id = BOT_UID.to_string();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups", "sqlite3"])
        .arg(db);
    cmd
}

/// Inserts a fill in a session killed before it closes: the row is committed, in the WAL only.
fn bot_sql_killed(db: &Path, note: &str) {
    let mut session = bot_sqlite(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = session.stdin.take().unwrap();
    writeln!(
        stdin,
        "INSERT INTO fills (note) VALUES ('{note}'); SELECT 'committed';"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(session.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "committed");
    session.kill().unwrap();
    session.wait().unwrap();
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Copies directory `from` to `to` with owners and modes (`cp -a`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn a_restore_brings_back_the_snapshot_with_the_bot_stopped_and_reconciles_held() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(Config {
            action_delay: Duration::from_millis(20),
            ..Config::default()
        }))
        .unwrap();
    let r = Drill::new(&runtime, &sim);
    let out = r.reconcile();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(wait_until(Duration::from_secs(10), || r.healthy()));

    // The bot records a fill; the volume is snapshotted; the bot records another, left in its WAL.
    bot_sql(
        &r.db(),
        "PRAGMA journal_mode=WAL; CREATE TABLE fills (id INTEGER PRIMARY KEY, note TEXT NOT NULL); \
         INSERT INTO fills (note) VALUES ('before the snapshot');",
    );
    r.step(
        "docker exec schwad schwad db backup /data/schwad-$(date +%F).db",
        "",
    );
    let backup = std::fs::read_dir(r.d.data())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".db") && !p.ends_with("schwad.db"))
        .expect("the logical copy is on the volume");
    assert_eq!(
        bot_sql(&backup, "SELECT note FROM fills;"),
        "before the snapshot\n",
        "the logical copy"
    );
    let out = r.step("reconciler snapshot", "");
    let id = out
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no snapshot id in {out}"));
    copy_tree(&r.volume(), &r.snapshot_data(&id));
    bot_sql_killed(&r.db(), "after the snapshot");
    assert!(r.d.data().join("schwad.db-wal").exists());

    // 1. Reconciles held, the bot stopped; a periodic pass now exits 5 and leaves it stopped.
    r.step(r#"reconciler lock hold -m "restore""#, &id);
    r.step("docker stop schwad", &id);
    assert!(!r.running());
    let out = r.reconcile();
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert!(!r.running(), "a held reconcile does not restart the bot");
    let status = r.step_output("reconciler status", &id);
    assert_eq!(status.status.code(), Some(1), "not converged while held");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("Suspended"),
        "{}",
        show(&status)
    );

    // 2. A volume from the snapshot, attached and mounted at the restore mount point (modelled by a copy).
    let created = r.step(
        r#"curl -sSf -X POST https://api.digitalocean.com/v2/volumes -H "Authorization: Bearer $DIGITALOCEAN_ACCESS_TOKEN" -H 'Content-Type: application/json' -d '{"name": "schwad-data-restore", "region": "nyc3", "size_gigabytes": 10, "snapshot_id": "<snapshot id>"}'"#,
        &id,
    );
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["volume"]["name"], "schwad-data-restore");
    copy_tree(&r.snapshot_data(&id), &r.restore_mount());

    // 3. The copy is sound.
    let check = r.step(
        "docker run --rm --user 1001:1001 -v /mnt/restore/bot:/data \"$(docker inspect -f '{{.Config.Image}}' schwad)\" schwad db check",
        &id,
    );
    assert_eq!(check.trim(), "ok");

    // 4. The live files moved aside (with the WAL, which belongs to them), the snapshot's copied in.
    r.step(
        "mkdir /mnt/schwad-data/bot/before-restore && mv /mnt/schwad-data/bot/schwad.db* /mnt/schwad-data/bot/before-restore/",
        &id,
    );
    r.step(
        "cp -a /mnt/restore/bot/schwad.db* /mnt/schwad-data/bot/",
        &id,
    );
    assert!(!r.running(), "the bot stays stopped during the swap");
    for entry in std::fs::read_dir(r.d.data()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with("schwad.db") {
            assert_eq!(entry.metadata().unwrap().uid(), BOT_UID, "{entry:?}");
        }
    }

    // 5. The bot starts and is healthy, then reconciles resume and find it converged.
    let starts = r.d.starts().len();
    let restored = r.container()["Id"].clone();
    r.step("docker start schwad", &id);
    let health = "docker inspect -f '{{.State.Health.Status}}' schwad";
    assert!(
        wait_until(Duration::from_secs(10), || r.step(health, &id).trim()
            == "healthy"),
        "{:#}",
        r.container()["State"]
    );
    assert_eq!(r.d.starts().len(), starts + 1);
    r.step("reconciler lock release", &id);
    let out = r.reconcile();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(r.step("reconciler status", &id).contains("Converged"));
    assert_eq!(
        r.container()["Id"],
        restored,
        "the restored bot is kept, not replaced"
    );

    // The data of the snapshot is back, what was written after it is gone (but kept aside).
    let fills = "SELECT note FROM fills ORDER BY id;";
    assert_eq!(bot_sql(&r.db(), fills), "before the snapshot\n");
    assert_eq!(
        bot_sql(&r.d.data().join("before-restore/schwad.db"), fills),
        "before the snapshot\nafter the snapshot\n"
    );
    assert!(r.running());
    runtime.block_on(sim.shutdown());
}
