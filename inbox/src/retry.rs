//! `etl inbox retry <table>`: the fix-in-place workflow. A person corrects bad rows in
//! `inbox.<table>__errors` (`UPDATE ... SET record = jsonb_set(record, '{balance}', '"10.00"')`);
//! retry checks every error row again against the declaration in force, moves the rows that now
//! pass into the table (merged on the key when they came from an upsert, appended otherwise) and
//! deletes them from the error table, and records the new reason of those still failing: one
//! transaction, checked like a file.

use bytes::Bytes;
use futures_util::SinkExt;
use serde_json::Value;
use tokio_postgres::{Client, Transaction};

use crate::apply::{encode_record, lock_table, run_checks};
use crate::declaration::{Action, Declaration};
use crate::error::InboxError;
use crate::read::Record;
use crate::schema;
use crate::sql;

/// Error rows read at a time.
const PAGE: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retried {
    pub moved: u64,
    pub still_bad: u64,
}

pub async fn retry(client: &mut Client, table: &str) -> Result<Retried, InboxError> {
    let what = format!("inbox.{table}{}", crate::declaration::ERRORS_SUFFIX);
    let tx = client
        .transaction()
        .await
        .map_err(InboxError::query(&what, "opening the transaction"))?;
    lock_table(&tx, table, &what).await?;
    let declaration = schema::declarations(&tx)
        .await?
        .remove(table)
        .ok_or_else(|| InboxError::NoTable {
            table: table.to_owned(),
        })?;
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass($1)::text", &[&sql::errors_table(table)])
        .await
        .map_err(InboxError::query(&what, "looking for the error table"))?
        .get(0);
    if exists.is_none() {
        return Ok(Retried::default());
    }
    for statement in sql::create_staging(&declaration) {
        tx.batch_execute(&statement)
            .await
            .map_err(InboxError::query(&what, "creating the staging table"))?;
    }
    let mut retried = Retried::default();
    let mut after = 0i64;
    loop {
        let rows = tx
            .query(
                &format!(
                    "SELECT id, record, action FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
                    sql::errors_table(table)
                ),
                &[&after, &PAGE],
            )
            .await
            .map_err(InboxError::query(&what, "reading the error rows"))?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let mut merge = Vec::new();
        let mut append = Vec::new();
        let (mut moved, mut bad_ids, mut bad_columns, mut bad_reasons) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut record = Record::default();
        for row in &rows {
            let id: i64 = row.get(0);
            let fields: Value = row.get(1);
            let action: String = row.get(2);
            fill(&mut record, &fields, &declaration);
            let out = if Action::parse(&action) == Some(Action::Upsert) {
                &mut merge
            } else {
                &mut append
            };
            let start = out.len();
            match encode_record(&record, &declaration, out) {
                Ok(()) => {
                    out.extend_from_slice(format!("\t{id}\n").as_bytes());
                    moved.push(id);
                }
                Err((column, reason)) => {
                    out.truncate(start);
                    bad_ids.push(id);
                    bad_columns.push(column);
                    bad_reasons.push(reason);
                }
            }
        }
        stage_and_apply(&tx, &declaration, merge, sql::merge(&declaration), &what).await?;
        stage_and_apply(
            &tx,
            &declaration,
            append,
            sql::insert_staged(&declaration),
            &what,
        )
        .await?;
        tx.execute(
            &format!(
                "DELETE FROM {} WHERE id = ANY($1)",
                sql::errors_table(table)
            ),
            &[&moved],
        )
        .await
        .map_err(InboxError::query(&what, "removing the moved rows"))?;
        tx.execute(
            &format!(
                "UPDATE {} AS e SET column_name = f.column_name, reason = f.reason, at = now() \
                 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS f(id, column_name, reason) \
                 WHERE e.id = f.id",
                sql::errors_table(table)
            ),
            &[&bad_ids, &bad_columns, &bad_reasons],
        )
        .await
        .map_err(InboxError::query(&what, "recording the reasons"))?;
        retried.moved += moved.len() as u64;
        retried.still_bad += bad_ids.len() as u64;
    }
    let failed: Vec<String> = run_checks(&tx, &declaration, None, &what)
        .await?
        .into_iter()
        .filter(|(_, failing)| *failing > 0)
        .map(|(check, failing)| format!("check {check} failed for {failing} row(s)"))
        .collect();
    if !failed.is_empty() {
        return Err(InboxError::Rejected {
            file: what,
            reason: format!("{}; nothing was moved", failed.join("; ")),
        });
    }
    tx.commit()
        .await
        .map_err(InboxError::query(&what, "committing"))?;
    Ok(retried)
}

/// A record from an error row's `record` (strings, or any JSON a person typed while fixing it).
fn fill(record: &mut Record, fields: &Value, declaration: &Declaration) {
    record
        .values
        .resize_with(declaration.columns.len(), String::new);
    record.present.clear();
    record.present.resize(declaration.columns.len(), false);
    record.problem = None;
    for (j, column) in declaration.columns.iter().enumerate() {
        record.values[j].clear();
        match fields.get(&column.name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                record.present[j] = true;
                record.values[j].push_str(s);
            }
            Some(other) => {
                record.present[j] = true;
                record.values[j].push_str(&other.to_string());
            }
        }
    }
}

async fn stage_and_apply(
    tx: &Transaction<'_>,
    declaration: &Declaration,
    rows: Vec<u8>,
    statement: String,
    what: &str,
) -> Result<(), InboxError> {
    if rows.is_empty() {
        return Ok(());
    }
    tx.batch_execute(&format!("TRUNCATE {}", sql::STAGING))
        .await
        .map_err(InboxError::query(what, "emptying the staging table"))?;
    let sink = tx
        .copy_in::<_, Bytes>(sql::copy_into_staging(declaration).as_str())
        .await
        .map_err(InboxError::query(what, "staging the fixed rows"))?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from(rows))
        .await
        .map_err(InboxError::query(what, "staging the fixed rows"))?;
    sink.finish()
        .await
        .map_err(InboxError::query(what, "staging the fixed rows"))?;
    tx.batch_execute(&statement)
        .await
        .map_err(InboxError::query(what, "moving the fixed rows"))?;
    Ok(())
}
