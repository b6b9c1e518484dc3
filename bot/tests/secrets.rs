#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! Sentinel secrets (app secret, encryption key, the access and refresh tokens the bot really
//! used) must appear in no log line, no `/health` or `/metrics` output, and nowhere in clear text
//! in the database files.

mod support;

use std::time::Duration;

use schwad::broker::schwab::TokenCipher;
use schwad::ledger::Ledger;
use schwad::secret::Secret;
use sim_chain::{ChainSim, Config};
use support::{
    Bot, BotEnv, ENCRYPTION_KEY, OWNER, health, login, start_chain, start_schwab, wait_until,
};

const APP_SECRET: &str = "SENTINEL-app-secret-4b1d";

/// The tokens stored right now, decrypted with the test's key.
async fn stored_tokens(url: &str) -> Vec<String> {
    let ledger = Ledger::open(url).await.unwrap();
    let stored = ledger.stored_tokens().await.unwrap().expect("a login");
    ledger.close().await;
    let cipher = TokenCipher::from_hex(&Secret::new(ENCRYPTION_KEY)).unwrap();
    let pair: serde_json::Value =
        serde_json::from_slice(&cipher.open(&stored.sealed).unwrap()).unwrap();
    ["access_token", "refresh_token"]
        .iter()
        .map(|key| pair[key].as_str().unwrap().to_owned())
        .collect()
}

fn assert_absent(what: &str, haystack: &[u8], secrets: &[String]) {
    for secret in secrets {
        assert!(
            !haystack
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{what} contains the secret {secret:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_log_health_metrics_or_clear_text_database() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("schwad.log");
    let chain = start_chain(17).await;
    let schwab = start_schwab(APP_SECRET).await;
    let env = BotEnv::new(dir.path(), &chain)
        .with_schwab(&schwab)
        .with("LOG_LEVEL", "debug");
    let auth_output = login(&env, &schwab);
    let mut secrets = vec![APP_SECRET.to_owned(), ENCRYPTION_KEY.to_owned()];
    secrets.extend(stored_tokens(&env.database_url()).await);

    let bot = Bot::start(&env, &log);
    for _ in 0..40 {
        chain.submit_random(3);
        chain.mine();
        tokio::time::sleep(Duration::from_millis(100)).await; // past the 3 s access token
    }
    // One 401 forces a refresh on top of the scheduled ones.
    schwab.inject(sim_schwab::Fault::Unauthorized { calls: 1 });
    wait_until(Duration::from_secs(10), "hedges", || async {
        !schwab.ledger().orders.is_empty()
    })
    .await;
    secrets.extend(stored_tokens(&env.database_url()).await);
    let base = format!("http://127.0.0.1:{}", bot.port);
    let health = health(bot.port).await.to_string();
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_schwad"))
        .args(["run", "--help"])
        .envs(env.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(bot.terminate(Duration::from_secs(5)).success());

    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 5,
        "the tokens were never refreshed: {}",
        secrets.len()
    );
    let logs = std::fs::read(&log).unwrap();
    assert!(logs.len() > 10_000, "too few logs to prove anything");
    assert_absent("the log", &logs, &secrets);
    assert_absent("schwad auth's output", auth_output.as_bytes(), &secrets);
    assert_absent("/health", health.as_bytes(), &secrets);
    assert_absent("/metrics", metrics.as_bytes(), &secrets);
    assert_absent("schwad run --help", &help.stdout, &secrets);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("schwad.db") {
            assert_absent(
                &path.display().to_string(),
                &std::fs::read(&path).unwrap(),
                &secrets,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_encryption_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let chain = ChainSim::start(Config::default()).await.unwrap();
    let schwab = start_schwab(APP_SECRET).await;
    let env = BotEnv::new(dir.path(), &chain).with_schwab(&schwab);
    login(&env, &schwab);
    let wrong = "00".repeat(32);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_schwad"))
        .arg("run")
        .env_clear()
        .env("DATABASE_URL", env.database_url())
        .env("WS_RPC_URL", chain.ws_url())
        .env("ORDERBOOK", format!("{:#x}", sim_chain::BASE_ORDERBOOK))
        .env("ORDER_OWNER", format!("{OWNER:#x}"))
        .env("DEPLOYMENT_BLOCK", "0")
        .env("SERVER_PORT", support::free_port().to_string())
        .envs(env.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("ENCRYPTION_KEY", &wrong)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("do not decrypt with ENCRYPTION_KEY") && !stderr.contains(&wrong),
        "{stderr}"
    );
}
