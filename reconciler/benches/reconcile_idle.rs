//! The idle cost of the periodic reconcile: a `reconcile --once` when nothing changed in git or Docker, as the
//! systemd timer runs it every minute. Reports the wall time of the whole run, of the git fetch alone (the same
//! `git fetch` the reconcile makes), the work beyond the fetch, and the peak RSS (from `/usr/bin/time -v`).
//!
//! With `BENCH_IDLE_MINUTES` (0, the default, skips it) it then runs the reconcile as the timer does, once every
//! `BENCH_IDLE_INTERVAL` seconds (default 60) for that many minutes, and reports the CPU seconds (user + system) all
//! those runs used and their peak RSS.
//!
//! Run: `cargo bench -p reconciler --bench reconcile_idle` (`BENCH_RUNS` repetitions, default 15). Needs Docker,
//! busybox-static and GNU time (`apt-get install time`). Each figure is also printed as one
//! `BENCH name=value unit=...` line for `scripts/bench`.
//! Targets (issue "the GitOps loop"): under 100 ms of work beyond the git fetch, under 30 MB peak RSS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

#[path = "../tests/deploy/mod.rs"]
mod deploy;

use std::process::Command;
use std::time::{Duration, Instant};

use deploy::{Deployment, Spec};
use test_support::bench::figure;
use test_support::git::git;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    let minutes: u64 = std::env::var("BENCH_IDLE_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    // Its own image repository, so that a shorter run beside it (scripts/bench) does not remove its image.
    let d = Deployment::new(if minutes > 0 { "idle-periodic" } else { "idle" });
    d.image("v1", &[]);
    d.write(&Spec::tag("v1"));
    let repo = d.dir.path().join("repo");
    std::fs::create_dir_all(repo.join("manifests")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::copy(d.manifest_path(), repo.join("manifests/desired.yaml")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "deploy v1"]);

    let reconcile = || {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-v")
            .arg(env!("CARGO_BIN_EXE_reconciler"))
            .args(["reconcile", "--once", "--progress", "json", "--repo"])
            .arg(&repo)
            .arg("--state-dir")
            .arg(d.state_dir());
        cmd
    };
    let first = reconcile()
        .output()
        .expect("GNU time at /usr/bin/time (apt-get install time)");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let mut wall = Vec::new();
    let mut rss_kb = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = reconcile().output().unwrap();
        wall.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\"mutating_docker_calls\":0"),
            "a no-op reconcile changed something: {stdout}"
        );
        rss_kb.push(time_field(&out.stderr, "Maximum resident set size (kbytes)") as u64);
    }
    // The same fetch the reconcile makes, on its own cache.
    let cache = d.state_dir().join("repo.git");
    let mut fetch = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new("git")
            .arg("-C")
            .arg(&cache)
            .args(["fetch", "--quiet", "--no-tags", "--depth=1", "--force"])
            .arg(&repo)
            .arg("main")
            .output()
            .unwrap();
        fetch.push(t.elapsed());
        assert!(out.status.success());
    }
    let (wall, fetch) = (median(wall), median(fetch));
    rss_kb.sort_unstable();
    let beyond = wall.saturating_sub(fetch);
    println!(
        "reconcile --once, nothing changed ({runs} runs, {} cores):",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  wall time (median):            {:>7.1} ms", ms(wall));
    println!("  git fetch alone (median):      {:>7.1} ms", ms(fetch));
    println!(
        "  work beyond the fetch:         {:>7.1} ms   (target < 100 ms)",
        ms(beyond)
    );
    println!(
        "  peak RSS (median, max):        {:>7.1} MB, {:.1} MB   (target < 30 MB)",
        rss_kb[rss_kb.len() / 2] as f64 / 1024.0,
        rss_kb[rss_kb.len() - 1] as f64 / 1024.0
    );
    figure("reconcile_idle_wall", ms(wall), "ms");
    figure("reconcile_idle_fetch", ms(fetch), "ms");
    figure("reconcile_idle_beyond_fetch", ms(beyond), "ms");
    figure(
        "reconcile_idle_peak_rss",
        rss_kb[rss_kb.len() - 1] as f64 / 1024.0,
        "MB",
    );

    if minutes > 0 {
        let interval: u64 = std::env::var("BENCH_IDLE_INTERVAL")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        let (mut cpu, mut peak) = (0.0, 0.0_f64);
        let ticks = minutes * 60 / interval;
        let started = Instant::now();
        for tick in 0..ticks {
            let due = started + Duration::from_secs(tick * interval);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let out = reconcile().output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            cpu += time_field(&out.stderr, "User time (seconds)")
                + time_field(&out.stderr, "System time (seconds)");
            peak = peak.max(time_field(&out.stderr, "Maximum resident set size (kbytes)") / 1024.0);
        }
        println!(
            "periodic reconcile, {ticks} runs every {interval} s ({minutes} min): {cpu:.2} CPU seconds, peak RSS {peak:.1} MB"
        );
        figure(&format!("reconcile_periodic_{minutes}min_cpu"), cpu, "s");
        figure(
            &format!("reconcile_periodic_{minutes}min_peak_rss"),
            peak,
            "MB",
        );
    }
}

/// A numeric field of GNU time's `-v` report.
fn time_field(stderr: &[u8], field: &str) -> f64 {
    let prefix = format!("{field}: ");
    String::from_utf8_lossy(stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(str::to_owned))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field:?} in GNU time's report"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
