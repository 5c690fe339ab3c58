//! Current-state snapshots of the source tables dimensions are built from or join through
//! (`etl_contract::warehouse::current_state_tables`: address, counterparty, department,
//! staff), kept in the processed store under `state/`.
//!
//! A snapshot holds, per primary key, the landed JSON line with the latest `last_updated` (ties
//! broken by the line's text). Merging takes a maximum, which is commutative and associative:
//! runs merged in any order give the same snapshot. Saves are compare-and-swap, so a concurrent
//! transform cannot lose another's merge.

use std::collections::BTreeMap;

use bytes::Bytes;
use etl_adapters::store::{ObjectStore, PutOutcome};
use etl_contract::catalog::source_table;
use etl_contract::layout::STATE_PREFIX;
use polars::prelude::DataFrame;

use crate::error::TransformError;
use crate::read::SourceRows;

/// How often a save is retried when another transform saved in between.
const SAVE_ATTEMPTS: usize = 5;

pub fn snapshot_key(table: &str) -> String {
    format!("{STATE_PREFIX}{table}.jsonl")
}

/// One version of a source row: its key, `last_updated` (contract text form, which sorts in time
/// order) and the JSON line as landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowVersion {
    pub key: i64,
    pub last_updated: String,
    pub line: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    rows: BTreeMap<i64, (String, String)>,
}

impl Snapshot {
    /// Keeps `row` if it is newer than what the snapshot holds for its key.
    pub fn merge(&mut self, row: RowVersion) {
        let candidate = (row.last_updated, row.line);
        match self.rows.get(&row.key) {
            Some(current) if *current >= candidate => {}
            _ => {
                self.rows.insert(row.key, candidate);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// NDJSON in key order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (_, line) in self.rows.values() {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Parses a stored snapshot of `table`.
    pub fn parse(table: &'static str, key: &str, bytes: &[u8]) -> Result<Snapshot, TransformError> {
        let corrupt = |reason: String| TransformError::StateCorrupt {
            key: key.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut snapshot = Snapshot::default();
        for (i, line) in text.lines().enumerate() {
            let row = version_of(table, line).ok_or_else(|| corrupt(format!("line {}", i + 1)))?;
            snapshot.merge(row);
        }
        Ok(snapshot)
    }

    /// The snapshot as a typed frame of `table`.
    pub fn frame(&self, table: &'static str, key: &str) -> Result<DataFrame, TransformError> {
        let catalog = source_table(table).ok_or_else(|| TransformError::StateCorrupt {
            key: key.to_owned(),
            reason: format!("{table} is not a source table"),
        })?;
        let mut rows = SourceRows::new(catalog);
        for (i, (_, line)) in self.rows.values().enumerate() {
            rows.push_line(key, i as u64 + 1, line)?;
        }
        rows.into_frame()
    }
}

/// The key and version of a landed line of `table`, if it has them.
pub fn version_of(table: &str, line: &str) -> Option<RowVersion> {
    let catalog = source_table(table)?;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).ok()?;
    Some(RowVersion {
        key: object.get(catalog.primary_key)?.as_i64()?,
        last_updated: object.get("last_updated")?.as_str()?.to_owned(),
        line: line.to_owned(),
    })
}

/// Reads the snapshot of `table` (empty when none is stored yet).
pub async fn load(
    store: &dyn ObjectStore,
    table: &'static str,
) -> Result<Snapshot, TransformError> {
    let key = snapshot_key(table);
    match store.get(&key).await.map_err(TransformError::store(&key))? {
        Some(object) => Snapshot::parse(table, &key, &object.bytes),
        None => Ok(Snapshot::default()),
    }
}

/// Merges `rows` into the stored snapshot of `table` and saves it; returns the merged snapshot.
pub async fn merge_and_save(
    store: &dyn ObjectStore,
    table: &'static str,
    rows: &[RowVersion],
) -> Result<Snapshot, TransformError> {
    let key = snapshot_key(table);
    for _ in 0..SAVE_ATTEMPTS {
        let stored = store.get(&key).await.map_err(TransformError::store(&key))?;
        let (mut snapshot, version) = match &stored {
            Some(object) => (
                Snapshot::parse(table, &key, &object.bytes)?,
                Some(object.version.clone()),
            ),
            None => (Snapshot::default(), None),
        };
        let before = snapshot.clone();
        for row in rows {
            snapshot.merge(row.clone());
        }
        if stored.is_some() && snapshot == before {
            return Ok(snapshot);
        }
        let bytes = Bytes::from(snapshot.to_bytes());
        let outcome = match &version {
            Some(version) => store.put_if_match(&key, bytes, version).await,
            None => store.put_if_absent(&key, bytes).await,
        }
        .map_err(TransformError::store(&key))?;
        fail::fail_point!("transform::after_snapshot");
        if let PutOutcome::Written(_) = outcome {
            return Ok(snapshot);
        }
        tracing::info!(
            key,
            "another transform saved the snapshot first; merging again"
        );
    }
    Err(TransformError::StateContended {
        key,
        attempts: SAVE_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: i64, lu: &str, phone: &str) -> RowVersion {
        RowVersion {
            key,
            last_updated: lu.into(),
            line: format!(r#"{{"address_id":{key},"phone":"{phone}","last_updated":"{lu}"}}"#),
        }
    }

    #[test]
    fn merging_in_any_order_gives_the_same_snapshot() {
        let rows = [
            v(1, "2024-01-01T00:00:00.000000Z", "a"),
            v(1, "2024-02-01T00:00:00.000000Z", "b"),
            v(2, "2024-01-01T00:00:00.000000Z", "c"),
            v(1, "2024-02-01T00:00:00.000000Z", "a-tie"),
        ];
        let mut forward = Snapshot::default();
        rows.iter().cloned().for_each(|r| forward.merge(r));
        let mut backward = Snapshot::default();
        rows.iter().rev().cloned().for_each(|r| backward.merge(r));
        assert_eq!(forward, backward);
        let text = String::from_utf8(forward.to_bytes()).unwrap();
        assert!(text.contains("\"phone\":\"b\""), "{text}");
        assert_eq!(text.lines().count(), 2);
    }
}
