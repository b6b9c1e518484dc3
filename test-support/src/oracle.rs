//! The tests' oracle, independent of how the bot runs (a process in the bot's tests, a container in the reconciler's
//! end-to-end tests) and of the bot's own formulas: invariants checked on the chain simulator's own
//! record of every fill, the broker simulator's orders and positions, and the bot's executions read back as data.
//! - (a) at rest, per symbol, |onchain net + broker position| < 1 ([`unhedged`]);
//! - (b) no order was decided while |unhedged| < 1, and each is for the whole shares of what was unhedged
//!   ([`decision_violations`]);
//! - (c) every broker order the bot placed maps to exactly one execution, and the broker's positions equal the
//!   executions' executed shares ([`order_violations`]);
//! - (d) every fill recorded once ([`expected_fills`], compared with what the bot stored).
//!
//! Also the operator's side of a Schwab login.

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

/// (a) Per ticker, the onchain net the broker does not offset (onchain net + broker position, the broker being
/// short what the owner bought), where it is one share or more.
pub fn unhedged(ledger: &[Fill], broker: &BTreeMap<String, i64>) -> BTreeMap<String, Decimal> {
    let mut nets: BTreeMap<String, Decimal> = expected_positions(ledger)
        .into_iter()
        .map(|(ticker, (bought, sold))| (ticker, bought - sold))
        .collect();
    for (ticker, shares) in broker {
        *nets.entry(ticker.clone()).or_default() += Decimal::from(*shares);
    }
    nets.retain(|_, gap| gap.abs() >= Decimal::ONE);
    nets
}

/// One hedge execution as the bot stored it, read back as plain data.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: i64,
    pub symbol: String,
    /// `buy` or `sell` at the broker.
    pub side: String,
    pub shares: i64,
    pub status: String,
    /// Shares executed (all of them once filled).
    pub filled_shares: i64,
    /// The unhedged net the decision saw.
    pub unhedged_at_decision: Option<String>,
    /// Every broker order tied to it.
    pub order_ids: Vec<i64>,
}

/// (b) Executions decided while less than one share was unhedged, or not for the whole shares of it, or the wrong
/// way.
pub fn decision_violations(executions: &[ExecutionRow]) -> Vec<String> {
    let mut violations = Vec::new();
    for execution in executions {
        let Some(unhedged) = execution
            .unhedged_at_decision
            .as_deref()
            .and_then(|text| Decimal::from_str(text).ok())
        else {
            violations.push(format!(
                "execution {} records no unhedged net",
                execution.id
            ));
            continue;
        };
        let whole = unhedged.abs().trunc();
        let side = if unhedged > Decimal::ZERO {
            "sell"
        } else {
            "buy"
        };
        if unhedged.abs() < Decimal::ONE {
            violations.push(format!(
                "execution {} ordered {} {} while only {unhedged} was unhedged",
                execution.id, execution.side, execution.shares
            ));
        } else if Decimal::from(execution.shares) != whole || execution.side != side {
            violations.push(format!(
                "execution {} ordered {} {} for an unhedged {unhedged}",
                execution.id, execution.side, execution.shares
            ));
        }
    }
    violations
}

/// (c) Broker orders not tied to exactly one execution (orders a person entered, `by_hand`, aside), executions
/// tied to orders the broker does not have, and broker positions (of the bot's orders) that differ from the
/// executed shares of the executions.
pub fn order_violations(
    executions: &[ExecutionRow],
    broker: &sim_schwab::Ledger,
    by_hand: &BTreeSet<i64>,
) -> Vec<String> {
    let mut violations = Vec::new();
    let mut owner: BTreeMap<i64, i64> = BTreeMap::new();
    for execution in executions {
        for order in &execution.order_ids {
            if let Some(other) = owner.insert(*order, execution.id) {
                violations.push(format!(
                    "broker order {order} tied to executions {other} and {}",
                    execution.id
                ));
            }
        }
    }
    let mut positions: BTreeMap<String, i64> = BTreeMap::new();
    for order in broker
        .orders
        .iter()
        .filter(|o| !by_hand.contains(&o.order_id))
    {
        if !owner.contains_key(&order.order_id) {
            violations.push(format!(
                "broker order {} ({:?} {} {}) belongs to no execution",
                order.order_id, order.instruction, order.quantity, order.symbol
            ));
        }
        let sign = match order.instruction {
            sim_schwab::Instruction::Buy | sim_schwab::Instruction::BuyToCover => 1,
            sim_schwab::Instruction::Sell | sim_schwab::Instruction::SellShort => -1,
        };
        *positions.entry(order.symbol.clone()).or_default() +=
            sign * i64::try_from(order.filled_quantity).expect("fits");
    }
    let placed: BTreeSet<i64> = broker.orders.iter().map(|o| o.order_id).collect();
    let mut hedged: BTreeMap<String, i64> = BTreeMap::new();
    for execution in executions {
        for order in execution.order_ids.iter().filter(|o| !placed.contains(o)) {
            violations.push(format!(
                "execution {} tied to order {order}, unknown to the broker",
                execution.id
            ));
        }
        if execution.status == "filled" && execution.filled_shares != execution.shares {
            violations.push(format!(
                "execution {} filled {} of {} shares",
                execution.id, execution.filled_shares, execution.shares
            ));
        }
        let sign = if execution.side == "buy" { 1 } else { -1 };
        *hedged.entry(execution.symbol.clone()).or_default() += sign * execution.filled_shares;
    }
    positions.retain(|_, shares| *shares != 0);
    hedged.retain(|_, shares| *shares != 0);
    if positions != hedged {
        violations.push(format!(
            "broker positions of the bot's orders {positions:?} differ from the executions' {hedged:?}"
        ));
    }
    violations
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
