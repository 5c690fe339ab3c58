//! One data file, one warehouse transaction: the rows of the file reach its table all at once or
//! not at all, together with their bad rows (under `error_table`) and the file's log row.
//!
//! A blocking worker reads the file ([`crate::read`]), checks and encodes each record
//! ([`crate::value`]) and hands COPY text to the async side in chunks of [`CHUNK_BYTES`] over a
//! channel of [`CHUNK_QUEUE`] chunks; bad rows are written to a temporary file and copied into
//! the error table after the rows. So memory is bounded by the chunks in flight and the
//! reader's buffers (for Parquet, one row group's column chunks), not by the file: the stated
//! bound is about 16 MiB plus one Parquet row group.

use std::io::{Read, Seek, Write};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_postgres::{Client, Transaction};

use etl_adapters::store::{Entry, ObjectStore};

use crate::declaration::{Action, BadRows, Check, Declaration};
use crate::error::InboxError;
use crate::key::Format;
use crate::read::{self, ReadError, Record, Records};
use crate::sql;
use crate::value;

/// COPY text handed to the database at a time.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Chunks between the worker and the database (the worker waits when they are full).
pub const CHUNK_QUEUE: usize = 4;

/// A data file to load.
#[derive(Debug, Clone)]
pub struct DataFile {
    pub entry: Entry,
    pub action: Action,
    pub format: Format,
    pub gzip: bool,
}

/// What a loaded file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub rows: u64,
    pub rejected: u64,
    /// `(check, rows failing)` of every check run.
    pub checks: Vec<(String, u64)>,
}

/// The version of an object as the log records it: the store's version and when it arrived, so
/// a re-upload of the same bytes is a new version too.
pub fn version_of(entry: &Entry) -> String {
    format!(
        "{}@{}",
        entry.version.0,
        entry
            .modified
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

/// Takes the table's lock for the transaction: files of one table apply one at a time, in the
/// order the driver takes them.
pub async fn lock_table(tx: &Transaction<'_>, table: &str, file: &str) -> Result<(), InboxError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('etl-inbox:' || $1))",
        &[&table],
    )
    .await
    .map_err(InboxError::query(file, "locking the table"))?;
    Ok(())
}

/// Opens the transaction of one object version of `table`'s, holding the table's lock; `None`
/// when the log already has the version (nothing is to be done).
pub async fn begin<'c>(
    client: &'c mut Client,
    table: &str,
    source: &str,
    key: &str,
    version: &str,
) -> Result<Option<Transaction<'c>>, InboxError> {
    let tx = client
        .transaction()
        .await
        .map_err(InboxError::query(key, "opening the transaction"))?;
    lock_table(&tx, table, key).await?;
    if logged(&tx, source, key, version).await?.is_some() {
        return Ok(None);
    }
    Ok(Some(tx))
}

/// The log row of an object version, if it has one: `(status, alerted)`.
pub async fn logged(
    client: &impl tokio_postgres::GenericClient,
    source: &str,
    file: &str,
    version: &str,
) -> Result<Option<(String, bool)>, InboxError> {
    Ok(client
        .query_opt(
            "SELECT status, alerted FROM inbox.etl_inbox_log \
             WHERE source = $1 AND file = $2 AND version = $3",
            &[&source, &file, &version],
        )
        .await
        .map_err(InboxError::query(file, "reading the log"))?
        .map(|row| (row.get(0), row.get(1))))
}

/// A row of the log.
pub struct LogRow<'a> {
    pub source: &'a str,
    pub file: &'a str,
    pub version: &'a str,
    pub action: &'a str,
    pub table: &'a str,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub checks: Value,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    /// `false` for a rejection whose alert has not gone out yet.
    pub alerted: bool,
    pub started: DateTime<Utc>,
}

pub async fn write_log(
    client: &impl tokio_postgres::GenericClient,
    row: &LogRow<'_>,
) -> Result<(), InboxError> {
    let (loaded, rejected) = (
        i64::try_from(row.rows_loaded).unwrap_or(i64::MAX),
        i64::try_from(row.rows_rejected).unwrap_or(i64::MAX),
    );
    client
        .execute(
            "INSERT INTO inbox.etl_inbox_log (source, file, version, action, table_name, \
             rows_loaded, rows_rejected, checks, status, reason, alerted, started, finished) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) \
             ON CONFLICT (source, file, version) DO NOTHING",
            &[
                &row.source,
                &row.file,
                &row.version,
                &row.action,
                &row.table,
                &loaded,
                &rejected,
                &row.checks,
                &row.status,
                &row.reason,
                &row.alerted,
                &row.started,
            ],
        )
        .await
        .map_err(InboxError::query(row.file, "writing the log"))?;
    Ok(())
}

/// Loads `file` into `declaration`'s table in one transaction with its log row. `Ok(None)`:
/// this version of the file was processed before (nothing changed). A rejection rolls
/// everything back; the caller logs it.
pub async fn load_file(
    client: &mut Client,
    store: &dyn ObjectStore,
    source: &str,
    file: &DataFile,
    declaration: &Declaration,
) -> Result<Option<Loaded>, InboxError> {
    let started = Utc::now();
    let clock = Instant::now();
    let key = file.entry.key.as_str();
    let version = version_of(&file.entry);
    let reject = |reason: String| InboxError::Rejected {
        file: key.to_owned(),
        reason,
    };
    let Some(tx) = begin(client, &declaration.table, source, key, &version).await? else {
        return Ok(None);
    };
    if !declaration.allowed_actions.contains(&file.action) {
        return Err(reject(format!(
            "{} is not an allowed action of {} (allowed: {}); move the file or change \
             allowed_actions in schema/{}.json",
            file.action,
            declaration.table,
            declaration
                .allowed_actions
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
            declaration.table
        )));
    }
    let Some((stream, _)) = store.open(key).await.map_err(InboxError::store(key))? else {
        return Err(reject("the object no longer exists in the inbox".into()));
    };

    let copy = match file.action {
        Action::Append => sql::copy_into_table(declaration),
        Action::Truncate => {
            tx.batch_execute(&format!("TRUNCATE {}", sql::table(&declaration.table)))
                .await
                .map_err(InboxError::query(key, "truncating the table"))?;
            sql::copy_into_table(declaration)
        }
        Action::Upsert => {
            for statement in sql::create_staging(declaration) {
                tx.batch_execute(&statement)
                    .await
                    .map_err(InboxError::query(key, "creating the staging table"))?;
            }
            sql::copy_into_staging(declaration)
        }
    };

    let (sender, mut chunks) = mpsc::channel::<Bytes>(CHUNK_QUEUE);
    let worker = {
        let declaration = declaration.clone();
        let file = file.clone();
        let version = version.clone();
        let input = tokio_util::io::SyncIoBridge::new(stream);
        tokio::task::spawn_blocking(move || {
            encode_file(input, &file, &version, &declaration, sender)
        })
    };
    let sink = tx
        .copy_in::<_, Bytes>(copy.as_str())
        .await
        .map_err(InboxError::query(key, "starting the COPY"))?;
    futures_util::pin_mut!(sink);
    let mut copy_error = None;
    while let Some(chunk) = chunks.recv().await {
        if let Err(e) = sink.send(chunk).await {
            copy_error = Some(e);
            break;
        }
    }
    // Closing the channel stops a worker still reading when the COPY failed.
    drop(chunks);
    let encoded = worker.await.map_err(|e| InboxError::Internal {
        file: key.to_owned(),
        reason: format!("the reading worker stopped: {e}"),
    })?;
    if let Some(e) = copy_error {
        return Err(InboxError::query(key, "copying the rows")(e));
    }
    let encoded = match encoded {
        Ok(encoded) => encoded,
        Err(Stop::Reject(reason)) => return Err(reject(reason)),
        Err(Stop::Read(reason)) => {
            return Err(InboxError::Read {
                file: key.to_owned(),
                reason,
            });
        }
        Err(Stop::Cancelled) => {
            return Err(InboxError::Internal {
                file: key.to_owned(),
                reason: "the COPY stopped taking rows without an error".into(),
            });
        }
    };
    let copied = sink
        .finish()
        .await
        .map_err(InboxError::query(key, "copying the rows"))?;
    if copied != encoded.rows {
        return Err(InboxError::Internal {
            file: key.to_owned(),
            reason: format!("{} rows encoded but {copied} copied", encoded.rows),
        });
    }
    if file.action == Action::Upsert {
        tx.batch_execute(&sql::merge(declaration))
            .await
            .map_err(InboxError::query(key, "merging on the primary key"))?;
    }
    if let Some(spool) = encoded.errors {
        copy_errors(&tx, declaration, spool, key).await?;
    }
    let checks = run_checks(&tx, declaration, Some(encoded.rows), key).await?;
    let failed: Vec<String> = checks
        .iter()
        .filter(|(_, failing)| *failing > 0)
        .map(|(check, failing)| format!("check {check} failed for {failing} row(s)"))
        .collect();
    if !failed.is_empty() {
        return Err(reject(format!(
            "{}; nothing of the file was loaded",
            failed.join("; ")
        )));
    }
    write_log(
        &tx,
        &LogRow {
            source,
            file: key,
            version: &version,
            action: file.action.name(),
            table: &declaration.table,
            rows_loaded: encoded.rows,
            rows_rejected: encoded.bad,
            checks: checks_json(&checks),
            status: "loaded",
            reason: None,
            alerted: true,
            started,
        },
    )
    .await?;
    fail::fail_point!("inbox::before_commit");
    tx.commit()
        .await
        .map_err(InboxError::query(key, "committing"))?;
    tracing::info!(
        file = key,
        table = %declaration.table,
        action = %file.action,
        rows = encoded.rows,
        rejected = encoded.bad,
        secs = clock.elapsed().as_secs_f64(),
        "inbox file loaded"
    );
    Ok(Some(Loaded {
        rows: encoded.rows,
        rejected: encoded.bad,
        checks,
    }))
}

pub fn checks_json(checks: &[(String, u64)]) -> Value {
    Value::Array(
        checks
            .iter()
            .map(|(check, failing)| json!({"check": check, "failing_rows": failing}))
            .collect(),
    )
}

/// Runs the declaration's checks over the table as the file leaves it (inside the
/// transaction): `(check, rows failing)` each. `rows` is what the file brought, for `min_rows`
/// (`None`: not a file, so `min_rows` does not apply).
pub async fn run_checks(
    tx: &Transaction<'_>,
    declaration: &Declaration,
    rows: Option<u64>,
    key: &str,
) -> Result<Vec<(String, u64)>, InboxError> {
    let mut results = Vec::with_capacity(declaration.checks.len());
    for check in &declaration.checks {
        let failing = match (check, sql::check_query(declaration, check)) {
            (Check::MinRows { .. }, _) if rows.is_none() => continue,
            (Check::MinRows { rows: min }, _) => min.saturating_sub(rows.unwrap_or(0)),
            (_, Some(query)) => {
                let n: i64 = tx
                    .query_one(&query, &[])
                    .await
                    .map_err(InboxError::query(
                        key,
                        format!("running check {}", check.describe()),
                    ))?
                    .get(0);
                u64::try_from(n).unwrap_or(0)
            }
            (_, None) => 0,
        };
        results.push((check.describe(), failing));
    }
    Ok(results)
}

/// Copies the spooled bad rows into the error table.
async fn copy_errors(
    tx: &Transaction<'_>,
    declaration: &Declaration,
    mut spool: std::fs::File,
    key: &str,
) -> Result<(), InboxError> {
    let internal = |e: std::io::Error| InboxError::Internal {
        file: key.to_owned(),
        reason: format!("reading back the spooled bad rows: {e}"),
    };
    spool.rewind().map_err(internal)?;
    let sink = tx
        .copy_in::<_, Bytes>(
            format!(
                "COPY {} ({}) FROM STDIN",
                sql::errors_table(&declaration.table),
                sql::ERROR_COLUMNS
            )
            .as_str(),
        )
        .await
        .map_err(InboxError::query(key, "starting the COPY of the bad rows"))?;
    futures_util::pin_mut!(sink);
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        // A local temporary file: blocking reads of one chunk are brief.
        let n = spool.read(&mut buffer).map_err(internal)?;
        if n == 0 {
            break;
        }
        sink.send(Bytes::copy_from_slice(&buffer[..n]))
            .await
            .map_err(InboxError::query(key, "copying the bad rows"))?;
    }
    sink.finish()
        .await
        .map_err(InboxError::query(key, "copying the bad rows"))?;
    Ok(())
}

/// What the worker did.
struct Encoded {
    rows: u64,
    bad: u64,
    /// The bad rows as COPY text for the error table, when there were any.
    errors: Option<std::fs::File>,
}

/// Why the worker stopped early.
enum Stop {
    Reject(String),
    Read(String),
    /// The async side stopped taking chunks (its COPY failed; it reports that error).
    Cancelled,
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Stop {
        match e {
            ReadError::Input(reason) => Stop::Reject(reason),
            ReadError::Io(reason) => Stop::Read(reason),
        }
    }
}

/// The worker: reads `input`, encodes good rows into chunks for `sender`, and bad rows into a
/// spool (or stops at the first one under `reject_file`).
fn encode_file(
    input: impl Read + Send,
    file: &DataFile,
    version: &str,
    declaration: &Declaration,
    sender: mpsc::Sender<Bytes>,
) -> Result<Encoded, Stop> {
    let spool_parquet = |mut stream: Box<dyn Read + Send + '_>| {
        let mut spool = tempfile::tempfile()
            .map_err(|e| ReadError::Io(format!("making a temporary file: {e}")))?;
        std::io::copy(&mut stream, &mut spool).map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull => {
                ReadError::Io(format!("spooling the Parquet file: {e}"))
            }
            _ => ReadError::Io(format!("reading the file: {e}")),
        })?;
        spool
            .rewind()
            .map_err(|e| ReadError::Io(format!("rewinding the spooled file: {e}")))?;
        Ok(spool)
    };
    let mut records: Box<dyn Records + '_> = read::open(
        file.format,
        file.gzip,
        Box::new(input),
        declaration,
        spool_parquet,
    )?;
    let upsert = file.action == Action::Upsert;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    let mut record = Record::default();
    let mut encoded = Encoded {
        rows: 0,
        bad: 0,
        errors: None,
    };
    let mut line_buffer = Vec::new();
    while records.next(&mut record)? {
        let start = chunk.len();
        match encode_record(&record, declaration, &mut chunk) {
            Ok(()) => {
                if upsert {
                    chunk.push(b'\t');
                    chunk.extend_from_slice(record.line.to_string().as_bytes());
                }
                chunk.push(b'\n');
                encoded.rows += 1;
            }
            Err((column, reason)) => {
                chunk.truncate(start);
                encoded.bad += 1;
                if declaration.bad_rows == BadRows::RejectFile {
                    return Err(Stop::Reject(format!(
                        "line {}, column {column}: {reason} (bad_rows is reject_file: the file \
                         loads nothing; fix it and upload it again, or declare \"bad_rows\": \
                         \"error_table\")",
                        record.line
                    )));
                }
                line_buffer.clear();
                error_row(
                    &mut line_buffer,
                    &file.entry.key,
                    version,
                    &record,
                    declaration,
                    &column,
                    &reason,
                    &records.raw(),
                    file.action,
                );
                let spool = match &mut encoded.errors {
                    Some(spool) => spool,
                    None => encoded.errors.insert(
                        tempfile::tempfile()
                            .map_err(|e| Stop::Read(format!("making a temporary file: {e}")))?,
                    ),
                };
                spool
                    .write_all(&line_buffer)
                    .map_err(|e| Stop::Read(format!("spooling bad rows: {e}")))?;
            }
        }
        if chunk.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BYTES + 64 * 1024));
            sender
                .blocking_send(Bytes::from(full))
                .map_err(|_| Stop::Cancelled)?;
        }
    }
    if !chunk.is_empty() {
        sender
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| Stop::Cancelled)?;
    }
    if let Some(spool) = &mut encoded.errors {
        spool
            .flush()
            .map_err(|e| Stop::Read(format!("spooling bad rows: {e}")))?;
    }
    Ok(encoded)
}

/// Appends `record` as one COPY text line (without the newline); `Err((column, reason))` for a
/// bad record, the caller undoing what was appended.
pub fn encode_record(
    record: &Record,
    declaration: &Declaration,
    out: &mut Vec<u8>,
) -> Result<(), (String, String)> {
    if let Some((column, reason)) = &record.problem {
        return Err((column.clone(), reason.clone()));
    }
    for (j, column) in declaration.columns.iter().enumerate() {
        if j > 0 {
            out.push(b'\t');
        }
        if !record.present[j] {
            if !column.nullable {
                return Err((
                    column.name.clone(),
                    "is missing (the column is NOT NULL)".into(),
                ));
            }
            out.extend_from_slice(b"\\N");
            continue;
        }
        value::encode(column.ty, &record.values[j], out)
            .map_err(|reason| (column.name.clone(), reason))?;
    }
    Ok(())
}

/// The record's fields as a JSON object (null for absent ones): the error table's `record`,
/// which a person fixes in place and `etl inbox retry` reads back.
pub fn record_json(record: &Record, declaration: &Declaration) -> Value {
    Value::Object(
        declaration
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let value = match record.present.get(j) {
                    // jsonb cannot hold NUL: it is the only character replaced.
                    Some(true) => Value::String(record.values[j].replace('\0', "\u{FFFD}")),
                    _ => Value::Null,
                };
                (c.name.clone(), value)
            })
            .collect(),
    )
}

/// One line of COPY text for the error table (see [`sql::ERROR_COLUMNS`]).
#[allow(clippy::too_many_arguments)]
fn error_row(
    out: &mut Vec<u8>,
    key: &str,
    version: &str,
    record: &Record,
    declaration: &Declaration,
    column: &str,
    reason: &str,
    raw: &str,
    action: Action,
) {
    let text = |out: &mut Vec<u8>, s: &str| {
        // NUL cannot be stored; it is the only character replaced.
        let _ = value::escape_text(&s.replace('\0', "\u{FFFD}"), out);
    };
    text(out, key);
    out.push(b'\t');
    text(out, version);
    out.push(b'\t');
    out.extend_from_slice(record.line.to_string().as_bytes());
    out.push(b'\t');
    text(out, column);
    out.push(b'\t');
    text(out, reason);
    out.push(b'\t');
    text(out, raw);
    out.push(b'\t');
    text(out, &record_json(record, declaration).to_string());
    out.push(b'\t');
    text(out, action.name());
    out.push(b'\n');
}
