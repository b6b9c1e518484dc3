#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

//! The image's operator tools in the real binary: `schwad db` (its stand-in for `sqlite3`) and `schwad healthcheck`
//! (its HEALTHCHECK).

use std::path::Path;
use std::process::{Command, Output};

use schwad::ledger::Ledger;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

fn schwad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schwad"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn url(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

/// `schwad db --database-url <db> args...`: exit success and stdout.
fn db(path: &Path, args: &[&str]) -> (bool, String) {
    let url = url(path);
    let out = schwad(&[&["db", "--database-url", &url], args].concat());
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A ledger database with one checkpoint row, closed.
async fn ledger(path: &Path) {
    let ledger = Ledger::open(&url(path)).await.unwrap();
    ledger.close().await;
    let (ok, _) = db(
        path,
        &[
            "query",
            "INSERT INTO block_checkpoint (id, block_number, updated_at) VALUES (1, 7, 'then')",
        ],
    );
    assert!(ok);
}

#[tokio::test]
async fn db_check_passes_a_sound_database_and_fails_a_corrupt_or_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    ledger(&path).await;
    assert_eq!(db(&path, &["check"]), (true, "ok\n".to_owned()));

    let missing = dir.path().join("missing.db");
    let (ok, _) = db(&missing, &["check"]);
    assert!(!ok, "a missing database passed");
    assert!(!missing.exists(), "the check created the missing database");

    // Garbage over every page but the header's: the schema's tables no longer parse.
    let mut bytes = std::fs::read(&path).unwrap();
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(
        bytes.len() > 2 * page,
        "the database has more than one page"
    );
    for byte in &mut bytes[page..] {
        *byte = 0xa5;
    }
    std::fs::write(&path, bytes).unwrap();
    let (ok, out) = db(&path, &["check"]);
    assert!(!ok && out != "ok\n", "a corrupt database passed: {out}");
}

#[tokio::test]
async fn db_backup_copies_the_rows_and_query_prints_them_as_sqlite3_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    ledger(&path).await;
    let copy = dir.path().join("copy.db");
    let (ok, _) = db(&path, &["backup", copy.to_str().unwrap()]);
    assert!(ok);
    let rows = "SELECT id, block_number, updated_at FROM block_checkpoint";
    assert_eq!(db(&copy, &["query", rows]), (true, "1|7|then\n".to_owned()));
    assert_eq!(db(&copy, &["check"]), (true, "ok\n".to_owned()));
    let (ok, _) = db(&path, &["backup", copy.to_str().unwrap()]);
    assert!(!ok, "a backup overwrote an existing file");

    let (ok, out) = db(
        &path,
        &[
            "query",
            "SELECT 1, NULL, 2.5, 'x', x'00ff'; SELECT 'second'",
        ],
    );
    assert!(ok);
    assert_eq!(out, "1||2.5|x|00ff\nsecond\n");
    let (ok, _) = db(&path, &["query", "SELECT * FROM no_such_table"]);
    assert!(!ok);
}

/// Serves `status` to every request on a local port; returns the port.
async fn answering(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0; 1024];
            let _ = socket.read(&mut request).await;
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

fn healthcheck(port: u16) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_schwad"))
        .arg("healthcheck")
        .env_clear()
        .env("SERVER_PORT", port.to_string())
        .output()
        .unwrap();
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_passes_on_200_only() {
    let ok = answering("200 OK").await;
    let failing = answering("503 Service Unavailable").await;
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let results = tokio::task::spawn_blocking(move || {
        (healthcheck(ok), healthcheck(failing), healthcheck(closed))
    })
    .await
    .unwrap();
    assert_eq!(results, (true, false, false));
}
