//! The dashboard's HTML (escaped by `maud`): numbers rounded for reading; exact values are in the
//! JSON.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Snapshot, chart};
use crate::http::health::Overall;
use crate::trade::{Price, Shares};

/// Seconds between the page's own reloads.
const REFRESH_SECONDS: &str = "10";

fn time(stored: &str) -> String {
    DateTime::parse_from_rfc3339(stored).map_or_else(
        |_| stored.to_owned(),
        |t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

fn shares(stored: Option<&str>) -> String {
    stored.map_or_else(String::new, |s| {
        s.parse::<Shares>()
            .map_or_else(|_| s.to_owned(), Shares::shown)
    })
}

fn price(stored: Option<&str>) -> String {
    stored.map_or_else(String::new, |s| {
        s.parse::<Price>()
            .map_or_else(|_| s.to_owned(), Price::shown)
    })
}

/// `0x1234…cdef`.
fn short(hash: &str) -> String {
    match (
        hash.get(..6),
        hash.len().checked_sub(4).and_then(|i| hash.get(i..)),
    ) {
        (Some(head), Some(tail)) if hash.len() > 12 => format!("{head}…{tail}"),
        _ => hash.to_owned(),
    }
}

/// A signed number with its sign class, so negative and positive values read apart.
fn signed(value: Shares) -> Markup {
    let class = if value.value().is_sign_negative() && !value.value().is_zero() {
        "num neg"
    } else {
        "num"
    };
    html! { td class=(class) { (value.shown()) } }
}

pub(super) fn render(snapshot: &Snapshot) -> Markup {
    let health = &snapshot.health;
    let status = match health.status {
        Overall::Ok => "ok",
        Overall::Degraded => "degraded",
        Overall::Failing => "failing",
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { "schwad · " (status) }
                link rel="stylesheet" href="/dashboard.css";
            }
            body {
                header {
                    h1 { "schwad" }
                    span class={ "badge " (status) } id="status" { (status) }
                    span class="meta" {
                        "version " (health.version) " · commit " code { (short(&health.commit)) }
                        " · broker " (health.broker_kind) " (" (health.broker) ")"
                        " · " (snapshot.generated_at.format("%Y-%m-%d %H:%M:%S UTC"))
                    }
                }
                section class="health" {
                    @if health.reasons.is_empty() {
                        p { "Healthy: connected, caught up, broker ready or starting." }
                    } @else {
                        ul id="reasons" { @for reason in &health.reasons { li { (reason) } } }
                    }
                    p class="meta" id="chain" {
                        "chain " (if health.chain_connected { "connected" } else { "not connected" })
                        " · last block seen " (health.last_block_seen)
                        " · processed " (health.last_block_processed)
                        " · lag " strong { (health.lag) } " blocks"
                        " · database " (if health.database_ok { "ok" } else { "unavailable" })
                    }
                }
                h2 { "Positions" }
                @if snapshot.positions.is_empty() {
                    p class="empty" { "No fills recorded yet." }
                } @else {
                    table id="positions" {
                        thead { tr {
                            th { "symbol" } th class="num" { "bought" } th class="num" { "sold" }
                            th class="num" { "onchain net" } th class="num" { "hedged" }
                            th class="num" { "unhedged" }
                        } }
                        tbody { @for p in &snapshot.positions { tr {
                            td { (p.symbol) }
                            td class="num" { (p.bought.shown()) }
                            td class="num" { (p.sold.shown()) }
                            (signed(p.onchain_net)) (signed(p.hedged)) (signed(p.unhedged))
                        } } }
                    }
                    p class="note" {
                        "Hedged is the broker position offsetting the onchain net (positive: the broker sold). "
                        "Shares are rounded to 6 decimals; exact values in "
                        a href="/dashboard.json" { "dashboard.json" } "."
                    }
                }
                (charts(snapshot))
                h2 { "Last fills" }
                table id="fills" {
                    thead { tr {
                        th class="num" { "#" } th { "recorded (UTC)" } th class="num" { "block" }
                        th { "transaction" } th { "symbol" } th { "direction" }
                        th class="num" { "shares" } th class="num" { "price" } th { "status" }
                    } }
                    tbody { @for t in &snapshot.fills { tr {
                        td class="num" { (t.id) }
                        td { (time(&t.recorded_at)) }
                        td class="num" { (t.block_number) }
                        td {
                            a href={ (snapshot.explorer_tx_url) (t.tx_hash) } rel="noreferrer" {
                                code { (short(&t.tx_hash)) }
                            }
                            span class="meta" { " #" (t.log_index) }
                        }
                        td { (t.symbol.as_deref().unwrap_or("")) }
                        td { (t.direction.as_deref().unwrap_or("")) }
                        td class="num" { (shares(t.shares.as_deref())) }
                        td class="num" { (price(t.price.as_deref())) }
                        td {
                            (t.status)
                            @if let Some(reason) = &t.skip_reason { span class="meta" { " (" (reason) ")" } }
                        }
                    } } }
                }
                h2 { "Hedge executions" }
                table id="executions" {
                    thead { tr {
                        th class="num" { "#" } th { "opened (UTC)" } th { "symbol" } th { "side" }
                        th class="num" { "shares" } th { "state" } th class="num" { "avg price" }
                        th class="num" { "broker order" } th { "updated (UTC)" }
                    } }
                    tbody { @for e in &snapshot.hedge_executions { tr {
                        td class="num" { (e.id) }
                        td { (time(&e.created_at)) }
                        td { (e.symbol) }
                        td { (e.side) }
                        td class="num" {
                            (e.shares)
                            @if e.status == "failed" && e.filled_shares > 0 {
                                span class="meta" { " (" (e.filled_shares) " executed)" }
                            }
                        }
                        td {
                            span class={ "state " (e.status) } { (e.status) }
                            @if let Some(reason) = &e.failure_reason { span class="meta" { " " (reason) } }
                        }
                        td class="num" { (price(e.average_price.as_deref())) }
                        td class="num" { @if let Some(id) = e.broker_order_id { (id) } }
                        td { (time(&e.updated_at)) }
                    } } }
                }
                footer {
                    "Read-only; refreshes every " (REFRESH_SECONDS) " s. "
                    a href="/health" { "/health" } " · " a href="/metrics" { "/metrics" }
                    " · " a href="/dashboard.json" { "dashboard.json" }
                }
            }
        }
    }
}

fn charts(snapshot: &Snapshot) -> Markup {
    let now = snapshot.generated_at;
    let history = &snapshot.history;
    html! {
        h2 { "Charts" }
        div class="charts" id="charts" {
            @for p in &snapshot.positions {
                @let net = chart::series(p.onchain_net, &history.onchain, &p.symbol, now);
                @let hedged = chart::series(p.hedged, &history.hedged, &p.symbol, now);
                @if let Some(svg) = chart::positions(&p.symbol, &net, &hedged) {
                    figure { (PreEscaped(svg)) }
                }
            }
            @if !history.latencies.is_empty() {
                @if let Some(svg) = chart::latency(&history.latencies, now) {
                    figure { (PreEscaped(svg)) }
                }
            }
        }
    }
}
