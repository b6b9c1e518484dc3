//! Prints how fast the client works against the simulator: creates, paginated lists, and a
//! create whose response is lost (lookup instead of retry).
//!
//! `cargo run --release -p digitalocean-api --example throughput`

use std::error::Error;
use std::time::{Duration, Instant};

use digitalocean_api::models::CreateVolume;
use digitalocean_api::{Client, ClientConfig, RetryPolicy, Token};
use sim_digitalocean::{Config, Faults, RateLimitConfig, Simulator};

const VOLUMES: usize = 1000;

fn volume(i: usize) -> CreateVolume {
    CreateVolume {
        name: format!("v{i:04}"),
        region: "nyc3".into(),
        size_gigabytes: 1,
        filesystem_type: None,
        filesystem_label: None,
        description: String::new(),
        tags: Vec::new(),
        snapshot_id: None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let rate_limit = RateLimitConfig {
        limit: 1_000_000,
        burst_limit: 1_000_000,
        ..RateLimitConfig::default()
    };
    let sim = Simulator::start(Config {
        rate_limit,
        ..Config::default()
    })
    .await?;
    let mut config = ClientConfig::new(Token::new(sim.token())).with_base_url(sim.base_url());
    config.retry = RetryPolicy {
        initial_interval: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let client = Client::new(config)?;

    let started = Instant::now();
    for i in 0..VOLUMES {
        client.create_volume(&volume(i)).await?;
    }
    let creates = started.elapsed();
    println!(
        "{VOLUMES} volume creates: {creates:?} ({:.0}/s)",
        VOLUMES as f64 / creates.as_secs_f64()
    );

    let started = Instant::now();
    let listed = client.list_volumes(None, None).await?;
    println!(
        "list of {} volumes over {} pages: {:?}",
        listed.len(),
        sim.requests().get("GET /v2/volumes"),
        started.elapsed()
    );

    sim.set_faults(Faults {
        lost_responses: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    client.create_volume(&volume(VOLUMES)).await?;
    println!(
        "create with a lost response (lookup over {} volumes): {:?}",
        VOLUMES + 1,
        started.elapsed()
    );
    Ok(())
}
