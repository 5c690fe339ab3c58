//! The inbox's one driver, [`process`]: the Lambda calls it for the tables its S3 event names,
//! `etl run` for all of them. For each table it applies a new declaration first, then every
//! data file not yet in the log, in order of arrival (then key). A file that is the input's
//! fault is rejected and logged, and the table goes on; one that failed on the way (the
//! warehouse, the store) stops that table's files there, so they still apply in arrival order
//! on the next try.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::Utc;
use serde_json::Value;
use tokio_postgres::Client;

use etl_adapters::store::{Entry, ObjectStore};

use crate::apply::{self, DataFile, Loaded, LogRow, version_of, write_log};
use crate::declaration::Action;
use crate::error::InboxError;
use crate::key::{self, InboxKey, SCHEMA_PREFIX};
use crate::schema::{self, Applied};

/// What happened to one object.
#[derive(Debug)]
pub struct FileResult {
    pub file: String,
    pub version: String,
    /// The table its key names (`-` for a key that names none).
    pub table: String,
    /// `append`, `truncate`, `upsert` or `schema`.
    pub action: String,
    pub result: Result<Outcome, InboxError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Declared(Applied),
    Loaded(Loaded),
    /// No declaration of the table exists yet: the file waits for `schema/<table>.json`.
    Waiting,
    /// Rejected by an earlier attempt whose alert may not have gone out: reported again.
    RejectedBefore {
        reason: String,
    },
}

/// A listed object and what its key means (or why it means nothing usable).
type Listed = (Entry, Result<InboxKey, String>);

/// Which tables to look at.
#[derive(Debug, Clone)]
pub enum Tables {
    All,
    Only(BTreeSet<String>),
}

impl Tables {
    /// The tables named by inbox keys (those of an S3 event); keys outside the layout name none.
    /// A key inside the layout that is unusable (a file whose name says no format) still names
    /// its table, so the driver finds it there and rejects it, alerting, instead of no one
    /// hearing of it.
    pub fn of_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Tables {
        Tables::Only(
            keys.into_iter()
                .filter_map(|k| match key::parse(k) {
                    Ok(parsed) => parsed.map(|p| p.table().to_owned()),
                    Err(_) => table_of_unusable(k),
                })
                .collect(),
        )
    }

    fn contains(&self, table: &str) -> bool {
        match self {
            Tables::All => true,
            Tables::Only(set) => set.contains(table),
        }
    }
}

/// Processes the inbox at `store` for `tables`. An `Err` means the driver could not look at
/// the inbox at all (the warehouse or the store down); failures of single files are in the
/// results.
pub async fn process(
    client: &mut Client,
    store: &dyn ObjectStore,
    tables: &Tables,
) -> Result<Vec<FileResult>, InboxError> {
    let source = store.describe();
    let mut results = unalerted(client, &source).await?;

    let mut schema_entries: Vec<Entry> = store
        .list_entries(SCHEMA_PREFIX)
        .await
        .map_err(InboxError::store(SCHEMA_PREFIX))?;
    schema_entries.sort_by(by_arrival);
    for entry in schema_entries {
        let parsed = key::parse(&entry.key);
        let table = match &parsed {
            Ok(Some(InboxKey::Schema { table })) => table.clone(),
            _ => table_of_unusable(&entry.key).unwrap_or_else(|| "-".to_owned()),
        };
        if !tables.contains(&table) {
            continue;
        }
        let result = match parsed {
            Ok(Some(InboxKey::Schema { table })) => {
                schema::apply(client, store, &source, &table, &entry).await
            }
            Ok(_) => continue,
            Err(reason) => Err(InboxError::Rejected {
                file: entry.key.clone(),
                reason,
            }),
        };
        let result = match result {
            Ok(None) => continue,
            Ok(Some(applied)) => Ok(Outcome::Declared(applied)),
            Err(e) => Err(e),
        };
        results.push(settle(client, &source, &entry, &table, "schema", result).await?);
    }

    let declarations = schema::declarations(client).await?;
    let mut by_table: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    let prefixes: Vec<String> = match tables {
        Tables::All => Action::ALL.iter().map(|a| format!("{a}/")).collect(),
        Tables::Only(set) => set.iter().flat_map(|t| key::data_prefixes(t)).collect(),
    };
    for prefix in &prefixes {
        for entry in store
            .list_entries(prefix)
            .await
            .map_err(InboxError::store(prefix))?
        {
            let (table, parsed) = match key::parse(&entry.key) {
                Ok(Some(parsed)) => (parsed.table().to_owned(), Ok(parsed)),
                Ok(None) => continue,
                Err(reason) => (
                    table_of_unusable(&entry.key).unwrap_or_else(|| "-".to_owned()),
                    Err(reason),
                ),
            };
            if tables.contains(&table) {
                by_table.entry(table).or_default().push((entry, parsed));
            }
        }
    }
    let done = logged_versions(client, &source, by_table.keys()).await?;
    for (table, mut entries) in by_table {
        entries.retain(|(entry, _)| !done.contains(&(entry.key.clone(), version_of(entry))));
        entries.sort_by(|a, b| by_arrival(&a.0, &b.0));
        let declaration = declarations.get(&table);
        for (entry, parsed) in entries {
            let (action, result) = match (parsed, declaration) {
                (Err(reason), _) => (
                    entry.key.split('/').next().unwrap_or("-").to_owned(),
                    Err(InboxError::Rejected {
                        file: entry.key.clone(),
                        reason,
                    }),
                ),
                (Ok(InboxKey::Data { action, .. }), None) => {
                    tracing::warn!(
                        file = %entry.key,
                        table,
                        "no declaration yet: the file waits for schema/{table}.json"
                    );
                    results.push(FileResult {
                        file: entry.key.clone(),
                        version: version_of(&entry),
                        table: table.clone(),
                        action: action.to_string(),
                        result: Ok(Outcome::Waiting),
                    });
                    continue;
                }
                (
                    Ok(InboxKey::Data {
                        action,
                        format,
                        gzip,
                        ..
                    }),
                    Some(declaration),
                ) => {
                    let file = DataFile {
                        entry: entry.clone(),
                        action,
                        format,
                        gzip,
                    };
                    let loaded = apply::load_file(client, store, &source, &file, declaration).await;
                    match loaded {
                        Ok(None) => continue,
                        Ok(Some(loaded)) => (action.to_string(), Ok(Outcome::Loaded(loaded))),
                        Err(e) => (action.to_string(), Err(e)),
                    }
                }
                (Ok(InboxKey::Schema { .. }), _) => continue,
            };
            let settled = settle(client, &source, &entry, &table, &action, result).await?;
            let stop = matches!(&settled.result, Err(e) if !e.rejects_file());
            results.push(settled);
            if stop {
                // Later files of this table wait, so they still apply in arrival order.
                break;
            }
        }
    }
    Ok(results)
}

/// Arrival order: when the object arrived, then its key.
fn by_arrival(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    (a.modified, &a.key).cmp(&(b.modified, &b.key))
}

/// The table an unusable key is filed under: `<action>/<table>/...`, or `schema/<table>.json`.
fn table_of_unusable(key: &str) -> Option<String> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next()) {
        (Some(first), Some(table)) if Action::parse(first).is_some() && !table.is_empty() => {
            Some(table.to_owned())
        }
        (Some("schema"), Some(name)) => Some(name.trim_end_matches(".json").to_owned()),
        _ => None,
    }
}

/// Logs a rejection (its alert still to go out) and turns a result into a [`FileResult`].
async fn settle(
    client: &Client,
    source: &str,
    entry: &Entry,
    table: &str,
    action: &str,
    result: Result<Outcome, InboxError>,
) -> Result<FileResult, InboxError> {
    let version = version_of(entry);
    if let Err(error) = &result
        && error.rejects_file()
    {
        let reason = error.to_string();
        write_log(
            client,
            &LogRow {
                source,
                file: &entry.key,
                version: &version,
                action,
                table,
                rows_loaded: 0,
                rows_rejected: 0,
                checks: Value::Array(Vec::new()),
                status: if action == "schema" {
                    "refused"
                } else {
                    "rejected"
                },
                reason: Some(&reason),
                alerted: false,
                started: Utc::now(),
            },
        )
        .await?;
    }
    Ok(FileResult {
        file: entry.key.clone(),
        version,
        table: table.to_owned(),
        action: action.to_owned(),
        result,
    })
}

/// Rejections logged by an earlier attempt that died before alerting them.
async fn unalerted(client: &Client, source: &str) -> Result<Vec<FileResult>, InboxError> {
    let rows = client
        .query(
            "SELECT file, version, table_name, action, coalesce(reason, '') FROM \
             inbox.etl_inbox_log WHERE source = $1 AND NOT alerted ORDER BY id",
            &[&source],
        )
        .await
        .map_err(InboxError::query("-", "reading unalerted rejections"))?;
    Ok(rows
        .iter()
        .map(|row| FileResult {
            file: row.get(0),
            version: row.get(1),
            table: row.get(2),
            action: row.get(3),
            result: Ok(Outcome::RejectedBefore { reason: row.get(4) }),
        })
        .collect())
}

/// The (file, version) pairs of `tables` already in the log.
async fn logged_versions(
    client: &Client,
    source: &str,
    tables: impl Iterator<Item = &String>,
) -> Result<HashSet<(String, String)>, InboxError> {
    let tables: Vec<&String> = tables.collect();
    let rows = client
        .query(
            "SELECT file, version FROM inbox.etl_inbox_log \
             WHERE source = $1 AND table_name = ANY($2)",
            &[&source, &tables],
        )
        .await
        .map_err(InboxError::query("-", "reading the log"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_the_tables_of_its_keys_even_unusable_ones() {
        let Tables::Only(tables) = Tables::of_keys([
            "append/customers/a.csv",
            "schema/orders.json",
            "upsert/vendors/prices.xlsx",
            "README.md",
            "other/things/x.csv",
        ]) else {
            panic!("an event names tables");
        };
        assert_eq!(
            tables.into_iter().collect::<Vec<_>>(),
            ["customers", "orders", "vendors"]
        );
    }
}
