#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The one-shot commands of the real binary: `process-tx`, `positions`, and configuration errors.

mod support;

use std::process::{Command, Output};

use alloy_primitives::{Address, B256, U256};
use sim_chain::{ChainSim, Config, Leg, OrderFill, Trade};
use support::OWNER;

fn schwad(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schwad"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_tx_records_a_transaction_once_and_positions_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = ChainSim::start(Config {
        owner: OWNER,
        ..Config::default()
    })
    .await
    .unwrap();
    let token = |symbol: &str| {
        sim.tokens()
            .into_iter()
            .find(|t| t.symbol == symbol)
            .unwrap()
    };
    let buy = Trade::Take {
        taker: Address::repeat_byte(0x99),
        order: OrderFill {
            owner: OWNER,
            nonce: B256::repeat_byte(1),
            gave: Leg {
                token: token("USDC").address,
                amount: U256::from(360_000_000u64),
            },
            received: Leg {
                token: token("NVDAs1").address,
                amount: U256::from(2_000_000_000_000_000_000u128),
            },
        },
    };
    let tx = sim.submit(&[buy]).unwrap();
    sim.mine();
    let env = [
        (
            "DATABASE_URL",
            format!("sqlite:{}", dir.path().join("s.db").display()),
        ),
        ("WS_RPC_URL", sim.ws_url()),
        ("ORDERBOOK", format!("{:#x}", sim_chain::BASE_ORDERBOOK)),
        ("ORDER_OWNER", format!("{OWNER:#x}")),
        ("DEPLOYMENT_BLOCK", "0".to_owned()),
    ];
    let hash = format!("{tx:#x}");
    let first = schwad(&["process-tx", &hash], &env);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("1 new, 0 already recorded"));
    let again = schwad(&["process-tx", &hash], &env);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 new, 1 already recorded"));

    let positions = schwad(&["positions"], &env[..1]);
    let text = String::from_utf8_lossy(&positions.stdout);
    assert!(
        positions.status.success(),
        "{}",
        String::from_utf8_lossy(&positions.stderr)
    );
    let nvda = text.lines().find(|l| l.starts_with("NVDA")).unwrap();
    assert!(nvda.contains(" 2 ") && nvda.ends_with("sell 2"), "{text}");
    assert!(text.contains("@ 180"), "{text}");

    let unknown = schwad(
        &["process-tx", &format!("{:#x}", B256::repeat_byte(7))],
        &env,
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
}

#[test]
fn configuration_errors_name_the_variable() {
    let base = [
        ("DATABASE_URL", "sqlite::memory:".to_owned()),
        ("WS_RPC_URL", "ws://127.0.0.1:1".to_owned()),
        ("ORDERBOOK", format!("{:#x}", sim_chain::BASE_ORDERBOOK)),
        ("DEPLOYMENT_BLOCK", "0".to_owned()),
    ];
    let no_owner = schwad(&["run"], &base);
    assert!(!no_owner.status.success());
    let stderr = String::from_utf8_lossy(&no_owner.stderr);
    assert!(
        stderr.contains("ORDER_OWNER and/or ORDER_HASHES"),
        "{stderr}"
    );

    let mut bad = base.to_vec();
    bad.push(("ORDER_OWNER", "0x12".to_owned()));
    let output = schwad(&["run"], &bad);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("ORDER_OWNER"),
        "{stderr}"
    );

    let output = schwad(&["run"], &base[1..]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}
