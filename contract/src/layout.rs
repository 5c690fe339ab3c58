//! Object key layout and run ids (docs/architecture.md §4). The prefixes are a contract with Terraform
//! (S3 notifications fire on [`MANIFESTS_PREFIX`]); a test checks the two agree.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the files of a run live, under `data/<table>/<run_id>/`.
pub const DATA_PREFIX: &str = "data/";
/// Where manifests live; creating one is a stage's commit point and what triggers the next stage.
pub const MANIFESTS_PREFIX: &str = "manifests/";
/// Pipeline state: the extract watermark in the landing store, transform's snapshots in processed.
pub const STATE_PREFIX: &str = "state/";
/// Inputs a stage could not process, copied with the error text.
pub const QUARANTINE_PREFIX: &str = "quarantine/";
/// The extract watermark, in the landing store.
pub const WATERMARK_KEY: &str = "state/watermark.json";

/// The key of part `n` (0-based) of `table` in run `run_id`:
/// `data/<table>/<run_id>/part-00000.jsonl.zst` (zstd-compressed NDJSON, [`crate::landing`]).
pub fn landing_part_key(table: &str, run_id: &RunId, n: usize) -> String {
    format!(
        "{DATA_PREFIX}{table}/{run_id}/part-{n:05}{}",
        crate::landing::PART_SUFFIX
    )
}

/// The key of a warehouse table's Parquet file for run `run_id`.
pub fn processed_table_key(table: &str, run_id: &RunId) -> String {
    format!("{DATA_PREFIX}{table}/{run_id}.parquet")
}

/// The manifest key of run `run_id`.
pub fn manifest_key(run_id: &RunId) -> String {
    format!("{MANIFESTS_PREFIX}{run_id}.json")
}

/// The run id of a manifest key, if it is one (`manifests/<run_id>.json`).
pub fn run_id_of_manifest_key(key: &str) -> Option<RunId> {
    key.strip_prefix(MANIFESTS_PREFIX)?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// The quarantine folder of a run.
pub fn quarantine_prefix(run_id: &RunId) -> String {
    format!("{QUARANTINE_PREFIX}{run_id}/")
}

/// A run's id: its start time (UTC, microseconds) and 8 random hex digits, e.g.
/// `20261125T081500.123456Z-0a1b2c3d`. Ids sort lexicographically in time order, so listing
/// `manifests/` gives runs in the order they were taken.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

const RUN_TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.6fZ";

impl RunId {
    /// A fresh id for a run starting at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        RunId(format!(
            "{}-{:08x}",
            at.format(RUN_TIME_FORMAT),
            rand::random::<u32>()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When the run started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        let (time, _) = self.0.split_once('-')?;
        NaiveDateTime::parse_from_str(time, RUN_TIME_FORMAT)
            .ok()
            .map(|t| t.and_utc())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text is not a run id.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a run id (expected e.g. 20261125T081500.123456Z-0a1b2c3d)")]
pub struct InvalidRunId(String);

impl FromStr for RunId {
    type Err = InvalidRunId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.split_once('-').is_some_and(|(time, suffix)| {
            NaiveDateTime::parse_from_str(time, RUN_TIME_FORMAT).is_ok()
                && suffix.len() == 8
                && suffix
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        });
        if valid {
            Ok(RunId(s.to_owned()))
        } else {
            Err(InvalidRunId(s.to_owned()))
        }
    }
}

impl TryFrom<String> for RunId {
    type Error = InvalidRunId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn run_ids_sort_in_time_order_and_round_trip() {
        let early = RunId::new(Utc.with_ymd_and_hms(2026, 11, 25, 8, 15, 0).unwrap());
        let late = RunId::new(Utc.with_ymd_and_hms(2026, 11, 25, 8, 15, 1).unwrap());
        assert!(early < late);
        assert!(early.as_str().starts_with("20261125T081500.000000Z-"));
        assert_eq!(early.as_str().parse::<RunId>().unwrap(), early);
        assert_eq!(
            early.started_at(),
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 8, 15, 0).unwrap())
        );
        assert!("2026-11-25".parse::<RunId>().is_err());
        assert!("20261125T081500.000000Z-XYZ".parse::<RunId>().is_err());
    }

    #[test]
    fn keys_follow_the_layout() {
        let id: RunId = "20261125T081500.123456Z-0a1b2c3d".parse().unwrap();
        assert_eq!(
            landing_part_key("sales_order", &id, 3),
            "data/sales_order/20261125T081500.123456Z-0a1b2c3d/part-00003.jsonl.zst"
        );
        assert_eq!(
            manifest_key(&id),
            "manifests/20261125T081500.123456Z-0a1b2c3d.json"
        );
        assert_eq!(run_id_of_manifest_key(&manifest_key(&id)), Some(id.clone()));
        assert_eq!(run_id_of_manifest_key("manifests/notes.txt"), None);
        assert_eq!(
            processed_table_key("fact_payment", &id),
            "data/fact_payment/20261125T081500.123456Z-0a1b2c3d.parquet"
        );
    }
}
