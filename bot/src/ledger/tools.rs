//! `schwad db`: the operator's tools on the database (the image carries no `sqlite3`). Each opens an existing
//! database only (a mistyped path fails instead of creating an empty one) in WAL mode, so a WAL left next to it
//! is replayed first, as `sqlite3` would.

use std::str::FromStr;

use futures_util::TryStreamExt as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteRow, SqliteValueRef};
use sqlx::{
    AssertSqlSafe, ConnectOptions as _, Connection as _, Either, Row as _, SqliteConnection,
};
use sqlx::{TypeInfo as _, Value as _, ValueRef as _};

use super::{BUSY_TIMEOUT, Context as _, LedgerError};

/// Opens the existing database at `url`.
async fn open(url: &str) -> Result<SqliteConnection, LedgerError> {
    SqliteConnectOptions::from_str(url)
        .map_err(LedgerError::Url)?
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(BUSY_TIMEOUT)
        .connect()
        .await
        .map_err(|source| LedgerError::Open {
            url: url.to_owned(),
            source,
        })
}

async fn close(conn: SqliteConnection) {
    if let Err(error) = conn.close().await {
        tracing::warn!("closing the database: {error}");
    }
}

/// `PRAGMA integrity_check`: its lines, `["ok"]` for a sound database.
pub async fn check(url: &str) -> Result<Vec<String>, LedgerError> {
    let mut conn = open(url).await?;
    let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .context("checking the database")?;
    close(conn).await;
    Ok(lines)
}

/// A consistent copy of the database at `destination` (`VACUUM INTO`; the file must not exist yet), safe while
/// the bot writes.
pub async fn backup(url: &str, destination: &str) -> Result<(), LedgerError> {
    let mut conn = open(url).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(destination)
        .execute(&mut conn)
        .await
        .context("copying the database")?;
    close(conn).await;
    Ok(())
}

/// Runs the statements of `sql` in one connection; each result row is one line, its columns separated by `|`
/// (as `sqlite3` prints them: NULL empty; blobs, which it prints raw, in hex).
pub async fn query(url: &str, sql: &str) -> Result<String, LedgerError> {
    let mut conn = open(url).await?;
    let mut out = String::new();
    {
        let mut results = sqlx::raw_sql(AssertSqlSafe(sql)).fetch_many(&mut conn);
        while let Some(result) = results.try_next().await.context("running the query")? {
            if let Either::Right(row) = result {
                out.push_str(&render(&row).context("reading a row")?);
                out.push('\n');
            }
        }
    }
    close(conn).await;
    Ok(out)
}

/// One row, its columns separated by `|`.
fn render(row: &SqliteRow) -> Result<String, sqlx::Error> {
    let columns = (0..row.len())
        .map(|index| text(row.try_get_raw(index)?))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(columns.join("|"))
}

/// A value as text, by its storage class.
fn text(value: SqliteValueRef<'_>) -> Result<String, sqlx::Error> {
    if value.is_null() {
        return Ok(String::new());
    }
    let class = value.type_info().name().to_owned();
    let value = sqlx::ValueRef::to_owned(&value);
    Ok(match class.as_str() {
        "INTEGER" => value.try_decode::<i64>()?.to_string(),
        "REAL" => value.try_decode::<f64>()?.to_string(),
        "BLOB" => hex::encode(value.try_decode::<Vec<u8>>()?),
        _ => value.try_decode::<String>()?,
    })
}
