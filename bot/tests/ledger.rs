#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The ledger on a real SQLite file: duplicates are skipped as success, and a reorg reverts and
//! restores a trade's effect on its position with an audit record each time.

use alloy_primitives::{Address, B256, U256};
use schwad::chain::decode::EventKind;
use schwad::chain::log::LogKey;
use schwad::ledger::{Applied, EventRecord, FillRecord, Ledger};
use schwad::trade::{Fill, OrderSide, TokenAmount};

const USDC: Address = Address::repeat_byte(0xc1);
const AAPL: Address = Address::repeat_byte(0xe1);

fn event(tx: u8, shares_milli: u64, buy: bool) -> EventRecord {
    let equity = TokenAmount {
        token: AAPL,
        decimals: 18,
        raw: U256::from(shares_milli) * U256::from(10u64.pow(15)),
    };
    let usdc = TokenAmount {
        token: USDC,
        decimals: 6,
        raw: U256::from(shares_milli * 200_000),
    };
    let (gave, received, symbols) = if buy {
        (usdc, equity, ("USDC", "AAPL0x"))
    } else {
        (equity, usdc, ("AAPL0x", "USDC"))
    };
    let fill = Fill {
        side: OrderSide::Taken,
        order_hash: B256::repeat_byte(tx),
        owner: Address::repeat_byte(0xaa),
        gave,
        received,
    };
    EventRecord {
        key: LogKey {
            tx_hash: B256::repeat_byte(tx),
            log_index: 0,
        },
        block_number: u64::from(tx),
        block_hash: B256::repeat_byte(tx),
        kind: EventKind::TakeOrderV2,
        fills: vec![FillRecord {
            outcome: fill.classify(symbols.0, symbols.1),
            fill,
            gave_symbol: symbols.0.into(),
            received_symbol: symbols.1.into(),
        }],
    }
}

async fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::open(&format!("sqlite:{}", dir.path().join("l.db").display()))
        .await
        .unwrap()
}

async fn net(ledger: &Ledger) -> String {
    let positions = ledger.positions().await.unwrap();
    positions[0].net().to_string()
}

#[tokio::test]
async fn a_duplicate_event_is_skipped_as_success() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    let first = ledger
        .apply(&[event(1, 1500, true)], &[], "", Some(1))
        .await
        .unwrap();
    let again = ledger
        .apply(&[event(1, 1500, true)], &[], "", Some(1))
        .await
        .unwrap();
    assert_eq!(
        first,
        Applied {
            inserted: 1,
            ..Applied::default()
        }
    );
    assert_eq!(
        again,
        Applied {
            duplicates: 1,
            ..Applied::default()
        }
    );
    assert_eq!(net(&ledger).await, "1.5");
    assert_eq!(ledger.checkpoint().await.unwrap(), Some(1));
}

#[tokio::test]
async fn the_checkpoint_never_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger.apply(&[], &[], "", Some(10)).await.unwrap();
    ledger.apply(&[], &[], "", Some(4)).await.unwrap();
    assert_eq!(ledger.checkpoint().await.unwrap(), Some(10));
}

#[tokio::test]
async fn a_reorg_reverts_then_restores_with_audit_records() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger
        .apply(&[event(1, 1500, true), event(2, 700, false)], &[], "", None)
        .await
        .unwrap();
    assert_eq!(net(&ledger).await, "0.8");
    let key = event(2, 700, false).key;
    let reverted = ledger
        .apply(&[], &[key], "removed: true", None)
        .await
        .unwrap();
    assert_eq!(reverted.reverted, 1);
    assert_eq!(net(&ledger).await, "1.5");
    assert_eq!(ledger.events_between(0, 10).await.unwrap().len(), 1);
    // Reverting again is a no-op; the log coming back restores it.
    let again = ledger
        .apply(&[], &[key], "removed: true", None)
        .await
        .unwrap();
    assert_eq!(again.reverted, 0);
    let restored = ledger
        .apply(&[event(2, 700, false)], &[], "", None)
        .await
        .unwrap();
    assert_eq!(restored.restored, 1);
    assert_eq!(net(&ledger).await, "0.8");
    let trades = ledger.recent_trades(10).await.unwrap();
    assert!(trades.iter().all(|t| t.status == "recorded"), "{trades:?}");
}

#[tokio::test]
async fn skipped_fills_are_recorded_with_their_reason_and_no_position() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    let mut skipped = event(3, 1000, true);
    let fill = &mut skipped.fills[0];
    fill.received_symbol = "WETH".into();
    fill.outcome = fill.fill.classify("USDC", "WETH");
    ledger.apply(&[skipped], &[], "", None).await.unwrap();
    assert!(ledger.positions().await.unwrap().is_empty());
    let trades = ledger.recent_trades(1).await.unwrap();
    assert_eq!(trades[0].status, "skipped");
    assert_eq!(
        trades[0].skip_reason.as_deref(),
        Some("unknown equity symbol \"WETH\"")
    );
}

#[tokio::test]
async fn an_unwritable_location_is_a_clear_error() {
    let err = Ledger::open("sqlite:/nonexistent-dir/schwad.db")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/schwad.db"),
        "{err}"
    );
}
