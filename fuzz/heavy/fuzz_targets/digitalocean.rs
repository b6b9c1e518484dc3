//! DigitalOcean's answers: the rate-limit and `retry-after` headers (any value, waits capped at the hour-long window)
//! and the response bodies of every resource the reconciler reads: an error value for every input, never a panic.
#![no_main]

use std::time::{Duration, SystemTime};

use digitalocean_api::models::{Account, Action, Droplet, Firewall, Snapshot, SshKey, Volume};
use digitalocean_api::{BudgetPolicy, RateLimit, pause, retry_after};
use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

const WINDOW: Duration = Duration::from_secs(3600);

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut values = text.split('\n');
        let mut headers = HeaderMap::new();
        for name in [
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            RETRY_AFTER.as_str(),
        ] {
            if let Some(value) = values.next().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, value);
            }
        }
        if let Some(rate) = RateLimit::from_headers(&headers) {
            for now in [SystemTime::UNIX_EPOCH, SystemTime::now()] {
                assert!(pause(rate, now, BudgetPolicy::default()) <= WINDOW);
            }
        }
        assert!(retry_after(&headers).is_none_or(|wait| wait <= WINDOW));
    }
    let _ = serde_json::from_slice::<Account>(data);
    let _ = serde_json::from_slice::<Action>(data);
    let _ = serde_json::from_slice::<Droplet>(data);
    let _ = serde_json::from_slice::<Vec<Droplet>>(data).map(|droplets| {
        droplets.iter().for_each(|droplet| {
            let _ = (droplet.public_ipv4(), droplet.private_ipv4());
        })
    });
    let _ = serde_json::from_slice::<Firewall>(data);
    let _ = serde_json::from_slice::<Snapshot>(data);
    let _ = serde_json::from_slice::<SshKey>(data);
    let _ = serde_json::from_slice::<Volume>(data);
});
