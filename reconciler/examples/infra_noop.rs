//! Prints what a no-op `plan --scope infra` costs against the DigitalOcean simulator: API calls by route, mutating
//! calls, and the wall time of observe + plan (median and worst of many runs), after one apply created everything.
//!
//! `cargo run --release -p reconciler --example infra_noop`

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use digitalocean_api::models::CreateSshKey;
use digitalocean_api::{Client, ClientConfig, PollPolicy, Token};
use reconciler::converge;
use reconciler::execute::progress::{Event, Progress};
use reconciler::load;
use reconciler_core::plan::PlanOptions;
use sim_digitalocean::{Config, RateLimitConfig, Simulator};

const RUNS: usize = 200;
const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0Ji6V3uq2n3a0F2vtPLP2QuxRUTTuLwM7Pc5l9Pxs deploy@ci";

struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: &Event) {}
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let sim = Simulator::start(Config {
        action_delay: Duration::from_millis(20),
        rate_limit: RateLimitConfig {
            limit: 1_000_000,
            burst_limit: 1_000_000,
            ..RateLimitConfig::default()
        },
        ..Config::default()
    })
    .await?;
    let mut config = ClientConfig::new(Token::new(sim.token())).with_base_url(sim.base_url());
    config.poll = PollPolicy {
        interval: Duration::from_millis(10),
        ..PollPolicy::default()
    };
    let client = Client::new(config)?;
    let key = client
        .add_ssh_key(&CreateSshKey {
            name: "deploy".into(),
            public_key: PUBLIC_KEY.into(),
        })
        .await?;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir()?;
    fs_err::create_dir_all(dir.path().join("manifests"))?;
    // The cloud-init template and the files it includes.
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(root.join("deploy"))
        .arg(dir.path())
        .status()?;
    if !copied.success() {
        return Err("copying deploy/ failed".into());
    }
    let manifest = fs_err::read_to_string(root.join("manifests/desired.yaml"))?.replace(
        "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
        &key.fingerprint,
    );
    let path = dir.path().join("manifests/desired.yaml");
    fs_err::write(&path, manifest)?;
    let loaded = load::manifest(&path)?;
    let options = PlanOptions::default();

    let started = Instant::now();
    let plan = converge::prepare_infra(&loaded, &client, &options).await;
    let steps = plan.steps.len();
    converge::infra(&loaded, &client, plan, None, &Quiet).await?;
    println!(
        "fresh apply: {steps} steps in {:.0} ms (simulated action delay 20 ms)",
        started.elapsed().as_secs_f64() * 1e3
    );

    sim.reset_requests();
    let plan = converge::prepare_infra(&loaded, &client, &options).await;
    assert!(plan.is_empty(), "the second plan is a no-op");
    let requests = sim.requests();
    println!(
        "no-op plan --scope infra: {} API calls ({} mutating)",
        requests.total(),
        requests.mutating()
    );
    figure("infra_noop_api_calls", requests.total() as f64, "calls");
    for (route, count) in requests.routes() {
        println!("  {count} × {route}");
    }

    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let plan = converge::prepare_infra(&loaded, &client, &options).await;
        times.push(started.elapsed());
        assert!(plan.is_empty());
    }
    times.sort();
    println!(
        "observe + plan over {RUNS} runs: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[RUNS * 99 / 100].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3
    );
    figure(
        "infra_noop_plan_median",
        times[RUNS / 2].as_secs_f64() * 1e3,
        "ms",
    );
    figure(
        "infra_noop_plan_p99",
        times[RUNS * 99 / 100].as_secs_f64() * 1e3,
        "ms",
    );
    sim.shutdown().await;
    Ok(())
}

/// One machine-readable figure, collected by `scripts/bench`.
fn figure(name: &str, value: f64, unit: &str) {
    println!("BENCH {name}={value:.3} unit={unit}");
}
