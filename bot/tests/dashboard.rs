#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The dashboard in a real headless browser (Debian's `chromium`, installed by scripts/setup):
//! after the bot hedged a known set of fills (a seeded chain simulator) at the Schwab simulator,
//! the page loads with no console message and no request beyond the bot, its positions table
//! matches the chain's and the broker's record, the charts are drawn, nothing can be written, and
//! no sentinel secret appears in the page or its data. The screenshot is kept under the target
//! directory (`dashboard.png`).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rust_decimal::Decimal;
use support::{
    Bot, BotEnv, ENCRYPTION_KEY, broker_positions, expected_positions, login, open_db,
    open_executions, start_chain, start_schwab, stored_positions, unhedged, wait_until,
};

const APP_SECRET: &str = "SENTINEL-dashboard-secret-7c3e";

/// Runs headless chromium on `url` with `args`; returns its stdout and its log (stderr).
fn chromium(dir: &Path, url: &str, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2600",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium is required: run scripts/setup (apt-get install chromium)");
    assert!(output.status.success(), "chromium failed: {output:?}");
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The cells of each body row of the table `id` in `dom`, tags stripped.
fn table(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &dom[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
                    let mut text = String::new();
                    let mut in_tag = false;
                    for c in cell.chars() {
                        match c {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            c if !in_tag => text.push(c),
                            _ => {}
                        }
                    }
                    text.trim().to_owned()
                })
                .collect()
        })
        .collect()
}

fn number(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// Shown values are rounded to at most 6 decimals.
fn assert_close(what: &str, shown: &str, exact: Decimal) {
    let gap = (number(shown) - exact).abs();
    assert!(
        gap <= Decimal::new(5, 7),
        "{what}: the page shows {shown}, the record says {exact}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_hedged_positions_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let chain = start_chain(23).await;
    let schwab = start_schwab(APP_SECRET).await;
    let env = BotEnv::new(dir.path(), &chain)
        .with_schwab(&schwab)
        .with("EXPLORER_TX_URL", "https://explorer.invalid/tx/");
    login(&env, &schwab);
    let bot = Bot::start(&env, &dir.path().join("schwad.log"));
    for _ in 0..30 {
        chain.submit_random(3);
        chain.mine();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    chain.mine_blocks(8);
    let expected = expected_positions(&chain.ledger());
    let db = open_db(&env.database_url()).await;
    wait_until(Duration::from_secs(30), "the hedges to settle", || async {
        stored_positions(&db).await == expected
            && open_executions(&db).await == 0
            && unhedged(&chain.ledger(), &broker_positions(&schwab)).is_empty()
    })
    .await;
    assert!(expected.len() >= 2, "too few symbols: {expected:?}");

    let base = format!("http://127.0.0.1:{}", bot.port);
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("default-src 'self'")
    );
    let json = reqwest::get(format!("{base}/dashboard.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let written = reqwest::Client::new()
        .post(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);

    let net_log = dir.path().join("net-log.json");
    let (dom, log) = chromium(
        dir.path(),
        &format!("{base}/"),
        &[
            "--dump-dom",
            &format!("--log-net-log={}", net_log.display()),
        ],
    );
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    chromium(
        dir.path(),
        &format!("{base}/"),
        &[&format!("--screenshot={}", screenshot.display())],
    );

    // No console message (a CSP violation, a failed load, a script error) and no request beyond the bot.
    for line in log.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Refused to"),
            "browser console: {line}"
        );
    }
    // The page's requests: those of its site (the browser's own background requests have others).
    let net_log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&net_log).unwrap()).unwrap();
    let start_job = &net_log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    let urls: Vec<&str> = net_log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|key| key.starts_with("http://127.0.0.1"))
        })
        .map(|e| e["params"]["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.iter().any(|u| u.ends_with("/dashboard.css")),
        "the net log recorded no request of the page: {urls:?}"
    );
    for url in &urls {
        assert!(url.starts_with(&base), "a request beyond the bot: {url}");
    }

    // The positions table: the chain's record of fills, and the broker's positions as hedged.
    let rows = table(&dom, "positions");
    let shown: BTreeMap<String, Vec<String>> = rows
        .into_iter()
        .map(|cells| (cells[0].clone(), cells[1..].to_vec()))
        .filter(|(_, cells)| cells[..2] != ["0", "0"])
        .collect();
    assert_eq!(
        shown.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (symbol, (bought, sold)) in &expected {
        let cells = &shown[symbol];
        assert_close(&format!("{symbol} bought"), &cells[0], *bought);
        assert_close(&format!("{symbol} sold"), &cells[1], *sold);
        assert_close(&format!("{symbol} onchain net"), &cells[2], bought - sold);
        let at_broker = broker_positions(&schwab).get(symbol).copied().unwrap_or(0);
        assert_eq!(
            number(&cells[3]),
            Decimal::from(-at_broker),
            "{symbol} hedged"
        );
        assert!(number(&cells[4]).abs() < Decimal::ONE, "{symbol} unhedged");
        assert_close(
            &format!("{symbol} unhedged"),
            &cells[4],
            bought - sold + Decimal::from(at_broker),
        );
    }
    // The last fills link to the configured explorer; the executions carry the broker's ids.
    assert!(dom.contains("href=\"https://explorer.invalid/tx/0x"));
    let executions = table(&dom, "executions");
    assert!(!executions.is_empty());
    let orders = schwab.ledger().orders;
    for row in executions.iter().filter(|row| row[5] == "filled") {
        assert!(
            orders.iter().any(|o| o.order_id.to_string() == row[7]),
            "execution {row:?} has no order at the broker"
        );
    }
    // One chart per symbol (onchain net and hedged lines) and the latency chart.
    let charts = &dom[dom.find("id=\"charts\"").unwrap()..];
    assert_eq!(
        charts.matches("<svg").count(),
        shown.len() + 1,
        "charts: {charts}"
    );
    assert!(charts.contains("stroke=\"#2563EB\"") && charts.contains("stroke=\"#EA580C\""));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot"
    );
    println!("dashboard screenshot: {}", screenshot.display());

    for (what, text) in [("the page", &dom), ("dashboard.json", &json)] {
        for secret in [APP_SECRET, ENCRYPTION_KEY, schwab.app_key()] {
            assert!(!text.contains(secret), "{what} shows the secret {secret}");
        }
    }
    drop(bot);
}
