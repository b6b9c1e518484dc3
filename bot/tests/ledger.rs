#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The ledger on a real SQLite file: duplicates are skipped as success, a reorg reverts and
//! restores a trade's effect on its position with an audit record each time, and hedge executions
//! reserve, link, release and return shares.

use alloy_primitives::{Address, B256, U256};
use schwad::ledger::{Applied, Batch, EventRecord, FillRecord, Ledger, Removal};
use schwad::trade::{EventKind, Fill, LogKey, OrderSide, TokenAmount};

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

/// The removal of `event`'s log from its block.
fn removal(event: &EventRecord) -> Removal {
    Removal {
        key: event.key,
        block_hash: event.block_hash,
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
        .apply(Batch::record(&[event(1, 1500, true)]).checkpoint(1))
        .await
        .unwrap();
    let again = ledger
        .apply(Batch::record(&[event(1, 1500, true)]).checkpoint(1))
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
    ledger.apply(Batch::default().checkpoint(10)).await.unwrap();
    ledger.apply(Batch::default().checkpoint(4)).await.unwrap();
    assert_eq!(ledger.checkpoint().await.unwrap(), Some(10));
}

#[tokio::test]
async fn a_reorg_reverts_then_restores_with_audit_records() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger
        .apply(Batch::record(&[event(1, 1500, true), event(2, 700, false)]))
        .await
        .unwrap();
    assert_eq!(net(&ledger).await, "0.8");
    let removal = removal(&event(2, 700, false));
    let reverted = ledger
        .apply(Batch::revert(&[removal], "removed: true"))
        .await
        .unwrap();
    assert_eq!(reverted.reverted, 1);
    assert_eq!(net(&ledger).await, "1.5");
    assert_eq!(ledger.events_between(0, 10).await.unwrap().len(), 1);
    // Reverting again is a no-op; the log coming back restores it.
    let again = ledger
        .apply(Batch::revert(&[removal], "removed: true"))
        .await
        .unwrap();
    assert_eq!(again.reverted, 0);
    let restored = ledger
        .apply(Batch::record(&[event(2, 700, false)]))
        .await
        .unwrap();
    assert_eq!(restored.restored, 1);
    assert_eq!(net(&ledger).await, "0.8");
    let trades = ledger.recent_trades(10).await.unwrap();
    assert!(trades.iter().all(|t| t.status == "recorded"), "{trades:?}");
}

#[tokio::test]
async fn the_removal_of_a_blocks_copy_never_reverts_the_log_recorded_since_in_another_block() {
    // A reorg mined the transaction again with its log at the same index: same key, another block.
    // The fill counts once throughout.
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    let old = event(1, 1500, true);
    let new = EventRecord {
        block_number: 2,
        block_hash: B256::repeat_byte(0xee),
        ..event(1, 1500, true)
    };
    ledger
        .apply(Batch::record(std::slice::from_ref(&old)))
        .await
        .unwrap();
    let moved = ledger
        .apply(Batch::record(std::slice::from_ref(&new)))
        .await
        .unwrap();
    assert_eq!(
        (moved.inserted, moved.reverted),
        (1, 1),
        "recorded in its new block, the old block's copy reverted: the transaction is in one block"
    );
    let stored = ledger.events_between(0, 10).await.unwrap();
    assert_eq!(
        (stored.len(), stored[0].block_number, stored[0].block_hash),
        (1, 2, new.block_hash),
        "the canonical event is the new block's"
    );
    let late = ledger
        .apply(Batch::revert(&[removal(&old)], "removed: true"))
        .await
        .unwrap();
    assert_eq!(late.reverted, 0, "the removal names the old block");
    assert_eq!(net(&ledger).await, "1.5");
    let gone = ledger
        .apply(Batch::revert(&[removal(&new)], "removed: true"))
        .await
        .unwrap();
    assert_eq!(
        gone.reverted, 1,
        "a removal of the block it is in reverts it"
    );
}

#[tokio::test]
async fn skipped_fills_are_recorded_with_their_reason_and_no_position() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    let mut skipped = event(3, 1000, true);
    let fill = &mut skipped.fills[0];
    fill.received_symbol = "WETH".into();
    fill.outcome = fill.fill.classify("USDC", "WETH");
    ledger.apply(Batch::record(&[skipped])).await.unwrap();
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

fn aapl() -> schwad::trade::Ticker {
    schwad::trade::Ticker::parse("AAPL").unwrap()
}

#[tokio::test]
async fn an_execution_reserves_its_shares_links_its_trades_and_blocks_the_symbol_while_pending() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger
        .apply(Batch::record(&[event(1, 1500, true), event(2, 1200, true)]).checkpoint(2))
        .await
        .unwrap();
    let execution = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(
        (execution.side, execution.shares, execution.order_id),
        (schwad::hedge::BrokerSide::Sell, 2, None)
    );
    assert_eq!(net(&ledger).await, "0.7");
    // A pending execution (its outcome may be unknown) blocks the symbol: more trades wait.
    ledger
        .apply(Batch::record(&[event(3, 1000, true)]).checkpoint(3))
        .await
        .unwrap();
    assert_eq!(ledger.begin_execution(&aapl()).await.unwrap(), None);
    let first: Vec<(i64, String)> = sqlx::query_as(
        "SELECT trade_id, shares FROM hedge_execution_trades WHERE execution_id = ?1 ORDER BY trade_id",
    )
    .bind(execution.id)
    .fetch_all(&sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("l.db").display())).await.unwrap())
    .await
    .unwrap();
    assert_eq!(first, vec![(1, "1.5".to_owned()), (2, "0.5".to_owned())]);

    // Submitted, it still reserves its shares: the next execution opens beside it and covers
    // only what is left of trade 2 and trade 3.
    ledger.mark_submitted(execution.id, 42).await.unwrap();
    let next = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(next.shares, 1);
    assert_eq!(net(&ledger).await, "0.7");
    assert_eq!(
        links(&dir, next.id).await,
        vec![(2, "0.7".to_owned()), (3, "0.3".to_owned())]
    );
    ledger
        .mark_filled(execution.id, "227.375".parse().unwrap())
        .await
        .unwrap();
    let open: Vec<i64> = ledger
        .open_executions()
        .await
        .unwrap()
        .iter()
        .map(|execution| execution.id)
        .collect();
    assert_eq!(open, vec![next.id]);
    assert_eq!(ledger.known_order_ids().await.unwrap(), [42].into());
}

#[tokio::test]
async fn a_failed_execution_returns_its_unexecuted_shares() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger
        .apply(Batch::record(&[event(1, 3400, false)]).checkpoint(1))
        .await
        .unwrap();
    let execution = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(
        (execution.side, execution.shares),
        (schwad::hedge::BrokerSide::Buy, 3)
    );
    assert_eq!(net(&ledger).await, "-0.4");
    ledger.mark_submitted(execution.id, 7).await.unwrap();
    ledger
        .mark_failed(execution.id, "CANCELED", 1)
        .await
        .unwrap();
    // One share was bought before the cancel: two go back to the accumulator.
    assert_eq!(net(&ledger).await, "-2.4");
    let again = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(again.shares, 2);
    // The failed execution keeps the link of the share it executed; the new one links the rest.
    assert_eq!(links(&dir, again.id).await, vec![(1, "2".to_owned())]);
    assert_eq!(links(&dir, execution.id).await, vec![(1, "1".to_owned())]);
}

async fn links(dir: &tempfile::TempDir, execution: i64) -> Vec<(i64, String)> {
    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("l.db").display()))
        .await
        .unwrap();
    let links = sqlx::query_as(
        "SELECT trade_id, shares FROM hedge_execution_trades WHERE execution_id = ?1
         ORDER BY trade_id",
    )
    .bind(execution)
    .fetch_all(&db)
    .await
    .unwrap();
    db.close().await;
    links
}

#[tokio::test]
async fn a_partially_filled_failure_keeps_exact_links_and_reopens_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    for tx in 1..=3 {
        ledger
            .apply(Batch::record(&[event(tx, 1_000, false)]).checkpoint(u64::from(tx)))
            .await
            .unwrap();
    }
    let first = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(first.shares, 3);
    ledger.mark_submitted(first.id, 7).await.unwrap();
    // One share of three executed before the cancel.
    ledger.mark_failed(first.id, "CANCELED", 1).await.unwrap();
    assert_eq!(links(&dir, first.id).await, vec![(1, "1".to_owned())]);
    let again = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(again.shares, 2);
    assert_eq!(
        links(&dir, again.id).await,
        vec![(2, "1".to_owned()), (3, "1".to_owned())]
    );
}

/// The dashboard's fill-to-order latency runs from the fill that made the order due, not from the oldest trade the
/// order covers: a buy left uncovered while the net stayed under one share is covered first (FIFO) by the order a
/// later fill triggers.
#[tokio::test]
async fn a_hedges_latency_runs_from_the_newest_fill_not_the_oldest_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir).await;
    ledger
        .apply(Batch::record(&[event(1, 1500, false)]).checkpoint(1))
        .await
        .unwrap();
    let first = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    ledger.mark_submitted(first.id, 1).await.unwrap();
    ledger
        .mark_filled(first.id, "200".parse().unwrap())
        .await
        .unwrap();
    // Net -0.5, then a buy of 1.2: +0.7, nothing due; the buy stays uncovered.
    ledger
        .apply(Batch::record(&[event(2, 1200, true)]).checkpoint(2))
        .await
        .unwrap();
    assert_eq!(ledger.begin_execution(&aapl()).await.unwrap(), None);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // The fill that makes a sell due; the order covers the older buy first.
    ledger
        .apply(Batch::record(&[event(3, 500, true)]).checkpoint(3))
        .await
        .unwrap();
    let due = ledger.begin_execution(&aapl()).await.unwrap().unwrap();
    assert_eq!(links(&dir, due.id).await, vec![(2, "1".to_owned())]);
    let latencies = ledger.recent_hedge_latencies(10).await.unwrap();
    assert!(
        (0..1000).contains(&latencies[0].millis),
        "from the fill that made it due (a few ms), not the covered one (1.5 s): {latencies:?}"
    );
}
