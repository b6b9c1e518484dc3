//! The tests' oracle, independent of how the bot runs (a process here, a container in the reconciler's end-to-end
//! tests, which include this file): what the bot must have recorded and hedged, computed from the chain simulator's
//! own record of every fill, what the broker simulator holds, and the operator's side of a Schwab login.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::Child;
use std::str::FromStr;

use alloy_primitives::Address;
use rust_decimal::Decimal;
use sim_chain::Fill;

/// The owner whose fills the bot records.
pub const OWNER: Address = alloy_primitives::address!("0x00000000000000000000000000000000000000aa");

/// Brokerage ticker of a tokenized equity symbol, written out independently of the bot's rules.
fn ticker(symbol: &str) -> Option<&'static str> {
    Some(match symbol {
        "AAPL0x" | "tAAPL" => "AAPL",
        "NVDAs1" => "NVDA",
        "TSLA0x" => "TSLA",
        _ => return None,
    })
}

fn whole(amount: &sim_chain::TokenAmount) -> Decimal {
    let raw = i128::from_str(&amount.amount.to_string()).expect("amount fits");
    Decimal::from_i128_with_scale(raw, u32::from(amount.token.decimals)).normalize()
}

/// Per ticker, shares (bought, sold) by `OWNER` in the canonical fills of the simulator's ledger.
pub fn expected_positions(ledger: &[Fill]) -> BTreeMap<String, (Decimal, Decimal)> {
    let mut positions: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for fill in ledger.iter().filter(|f| f.canonical && f.owner == OWNER) {
        let (gave, received) = (&fill.gave.token.symbol, &fill.received.token.symbol);
        if gave == "USDC" {
            if let Some(t) = ticker(received) {
                positions.entry(t.to_owned()).or_default().0 += whole(&fill.received);
            }
        } else if received == "USDC"
            && let Some(t) = ticker(gave)
        {
            positions.entry(t.to_owned()).or_default().1 += whole(&fill.gave);
        }
    }
    positions
}

/// `(tx hash, log index, side)` of the canonical fills of `OWNER` in the simulator's ledger.
pub fn expected_fills(ledger: &[Fill]) -> BTreeSet<(String, i64, String)> {
    ledger
        .iter()
        .filter(|f| f.canonical && f.owner == OWNER)
        .map(|f| {
            let side = serde_json::to_value(f.side).expect("side");
            (
                format!("{:#x}", f.tx_hash),
                i64::try_from(f.log_index).expect("index"),
                side.as_str().expect("side name").to_owned(),
            )
        })
        .collect()
}

/// Per ticker, the broker position that hedges the onchain net: minus its whole part.
pub fn expected_hedges(ledger: &[Fill]) -> BTreeMap<String, i64> {
    expected_positions(ledger)
        .into_iter()
        .map(|(ticker, (bought, sold))| {
            let whole =
                rust_decimal::prelude::ToPrimitive::to_i64(&(bought - sold).trunc()).expect("fits");
            (ticker, -whole)
        })
        .filter(|(_, shares)| *shares != 0)
        .collect()
}

/// Non-zero broker positions at the simulator.
pub fn broker_positions(schwab: &sim_schwab::Handle) -> BTreeMap<String, i64> {
    schwab
        .ledger()
        .positions
        .into_iter()
        .filter(|(_, shares)| *shares != 0)
        .collect()
}

/// Answers a running `schwad auth` (`child`, stdin and stdout piped) as the operator does: reads the authorize URL it
/// prints, "logs in" at the simulator with the URL's state, and pastes the redirect URL back. Returns everything it
/// printed; panics when it fails.
pub fn complete_login(mut child: Child, schwab: &sim_schwab::Handle) -> String {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("auth output") > 0,
            "schwad auth printed no URL"
        );
        printed.push_str(&line);
        if let Some(start) = line.find("http") {
            break url::Url::parse(line[start..].trim()).expect("authorize URL");
        }
    };
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], schwab.app_key());
    assert_eq!(query["redirect_uri"], schwab.callback_url());
    let redirect = schwab.authorize(Some(&query["state"])).redirect_url;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{redirect}").expect("paste the redirect URL");
    drop(stdin);
    std::io::Read::read_to_string(&mut stdout, &mut printed).expect("auth output");
    let output = child.wait_with_output().expect("auth finished");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schwad auth failed: {stderr}");
    printed + &stderr
}
