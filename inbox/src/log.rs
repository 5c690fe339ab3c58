//! Reading the processing log (`inbox.etl_inbox_log`): what `etl inbox log` prints and the log
//! endpoint returns.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::GenericClient;

use crate::error::InboxError;

/// One processed object version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub file: String,
    pub version: String,
    pub action: String,
    pub table: String,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    pub checks: Value,
    pub status: String,
    pub reason: Option<String>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
}

/// The most rows one query returns, newest first.
pub const MAX_ENTRIES: i64 = 1000;

/// Entries finished since `since`, of `table` if given, newest first, at most [`MAX_ENTRIES`].
pub async fn entries(
    client: &impl GenericClient,
    table: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Vec<LogEntry>, InboxError> {
    let rows = client
        .query(
            "SELECT file, version, action, table_name, rows_loaded, rows_rejected, checks, \
             status, reason, started, finished FROM inbox.etl_inbox_log \
             WHERE finished >= $1 AND ($2::text IS NULL OR table_name = $2) \
             ORDER BY finished DESC, id DESC LIMIT $3",
            &[&since, &table, &MAX_ENTRIES],
        )
        .await
        .map_err(InboxError::query("-", "reading the log"))?;
    Ok(rows
        .iter()
        .map(|r| LogEntry {
            file: r.get(0),
            version: r.get(1),
            action: r.get(2),
            table: r.get(3),
            rows_loaded: r.get(4),
            rows_rejected: r.get(5),
            checks: r.get(6),
            status: r.get(7),
            reason: r.get(8),
            started: r.get(9),
            finished: r.get(10),
        })
        .collect())
}
