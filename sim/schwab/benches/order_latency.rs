//! Round-trip latency and throughput of the simulator's hot paths (place, get, list), printed as
//! plain numbers, each also as one `BENCH name=value unit=...` line for `scripts/bench`:
//! `cargo bench -p sim-schwab --bench order_latency`.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use sim_schwab::Config;

const ORDERS: usize = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config {
        activation_delay: Duration::ZERO,
        fill_delay: Duration::ZERO,
        requests_per_window: u32::MAX,
        orders_per_window: u32::MAX,
        ..Config::default()
    };
    let sim = sim_schwab::start(config).await?;
    let http = reqwest::Client::new();
    let code = sim.authorize(None).code;
    let tokens: Value = http
        .post(format!("{}/v1/oauth/token", sim.base_url()))
        .basic_auth(sim.app_key(), Some(sim.app_secret()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", sim.callback_url()),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = tokens["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();
    let orders_url = format!(
        "{}/trader/v1/accounts/{}/orders",
        sim.base_url(),
        sim.accounts()[0].hash_value
    );
    let order = json!({
        "orderType": "MARKET", "session": "NORMAL", "duration": "DAY", "orderStrategyType": "SINGLE",
        "orderLegCollection": [{"instruction": "BUY", "quantity": 1, "instrument": {"symbol": "AAPL", "assetType": "EQUITY"}}]
    });

    let mut place = Vec::with_capacity(ORDERS);
    let mut locations = Vec::with_capacity(ORDERS);
    let started = Instant::now();
    for _ in 0..ORDERS {
        let at = Instant::now();
        let response = http
            .post(&orders_url)
            .bearer_auth(&token)
            .json(&order)
            .send()
            .await?;
        place.push(at.elapsed());
        let location = response
            .headers()
            .get("location")
            .context("no Location")?
            .to_str()?
            .to_owned();
        locations.push(location);
    }
    let place_total = started.elapsed();

    let mut get = Vec::with_capacity(ORDERS);
    for location in &locations {
        let at = Instant::now();
        http.get(location)
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
        get.push(at.elapsed());
    }
    let now = chrono::Utc::now();
    let list_url = format!(
        "{orders_url}?fromEnteredTime={}&toEnteredTime={}",
        (now - chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        (now + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
    let at = Instant::now();
    let listed: Vec<Value> = http
        .get(&list_url)
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let list = at.elapsed();

    report("place order", &mut place);
    println!(
        "place order: {:.0} orders/s sequential",
        ORDERS as f64 / place_total.as_secs_f64()
    );
    figure(
        "schwab_sim_place_rate",
        ORDERS as f64 / place_total.as_secs_f64(),
        "orders/s",
    );
    report("get order", &mut get);
    println!(
        "list {} orders: {:.2} ms",
        listed.len(),
        list.as_secs_f64() * 1e3
    );
    sim.stop().await?;
    Ok(())
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |quantile: f64| {
        samples[((samples.len() - 1) as f64 * quantile) as usize].as_secs_f64() * 1e6
    };
    println!(
        "{name}: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    let key = name.replace(' ', "_");
    figure(&format!("schwab_sim_{key}_p50"), at(0.5), "us");
    figure(&format!("schwab_sim_{key}_p99"), at(0.99), "us");
}

/// One machine-readable figure, collected by `scripts/bench`.
fn figure(name: &str, value: f64, unit: &str) {
    println!("BENCH {name}={value:.3} unit={unit}");
}
