//! Run manifests (docs/architecture.md §4): the commit point of a stage's run.
//!
//! A manifest is written last, after every file it names, and only if absent. Downstream stages
//! read nothing a manifest does not list, and check each file's row count, size and sha256 before
//! trusting it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::{Classify, Disposition};
use crate::layout::RunId;
use crate::time::micros;

/// The manifest format this build writes: 2 since landing parts are zstd-compressed
/// ([`crate::landing`]); an older build refuses such a run by its format instead of failing on
/// bytes it cannot parse.
pub const MANIFEST_FORMAT: u32 = 2;
/// The oldest format this build still reads: format 1 differs only in its landing parts being
/// plain NDJSON, which their keys say.
pub const OLDEST_MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Extract,
    Transform,
    Load,
    /// Publishing a processed run to the lake's Iceberg tables (`ETL_LAKE`).
    Lake,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Extract => "extract",
            Stage::Transform => "transform",
            Stage::Load => "load",
            Stage::Lake => "lake",
        })
    }
}

/// The source-time window a run covers: rows with `from < last_updated <= to`, in
/// `(last_updated, table, primary key)` order. Many rows can share one `last_updated` (one bulk
/// UPDATE stamps them all with its transaction's start), so a window may begin or end inside
/// such a tie, at a [`TiePosition`] (docs/architecture.md §5).
///
/// A run of a first load ([`Window::keys`]) covers rows stamped at or before `to` too, but only
/// those in its key ranges: a first load reads each table in primary-key order, which needs no
/// sort of the whole source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Exclusive; `None` is the beginning of time.
    #[serde(with = "micros::option")]
    pub from: Option<DateTime<Utc>>,
    /// Rows stamped exactly `from` up to and including this position were in earlier runs; the
    /// rest of them are in this one. `None`: every row stamped `from` was earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_tie: Option<TiePosition>,
    /// Inclusive.
    #[serde(with = "micros")]
    pub to: DateTime<Utc>,
    /// Only the rows stamped exactly `to` up to and including this position are in this run.
    /// `None`: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_tie: Option<TiePosition>,
    /// A run of a first load: per table it holds rows of, the primary keys it covers (of the
    /// rows stamped at or before `to`; `from` is then `None`). `None`: a window in time order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<BTreeMap<String, KeyRange>>,
}

/// The primary keys of one table a first-load run covers: `after < key <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    /// Exclusive; `None`: from the table's first key.
    pub after: Option<i64>,
    /// Inclusive.
    pub last: i64,
}

/// A place among the rows that share one `last_updated`: ordered by the table's place in the
/// source catalog, then by primary key (every totesys key is one integer column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TiePosition {
    pub table: String,
    pub key: i64,
}

/// One file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Part {
    /// Describes `bytes` stored at `key`.
    pub fn describe(key: String, rows: u64, bytes: &[u8]) -> Part {
        Part {
            key,
            rows,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        }
    }
}

/// A file that does not match what its manifest says about it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key} does not match its manifest: {what} is {found}, the manifest says {expected}")]
pub struct PartMismatch {
    pub key: String,
    pub what: &'static str,
    pub expected: String,
    pub found: String,
}

impl Part {
    /// Checks `bytes` read back for this part against its recorded size and sha256 (row counts
    /// depend on the file format and are checked by the reader).
    pub fn check(&self, bytes: &[u8]) -> Result<(), PartMismatch> {
        self.check_count("the size", self.bytes, bytes.len() as u64)?;
        let sha256 = sha256_hex(bytes);
        if sha256 != self.sha256 {
            return Err(self.mismatch("the sha256", self.sha256.clone(), sha256));
        }
        Ok(())
    }

    /// Checks a count read from the file (`what`, e.g. "the row count") against the manifest.
    pub fn check_count(
        &self,
        what: &'static str,
        expected: u64,
        found: u64,
    ) -> Result<(), PartMismatch> {
        if expected == found {
            Ok(())
        } else {
            Err(self.mismatch(what, expected.to_string(), found.to_string()))
        }
    }

    fn mismatch(&self, what: &'static str, expected: String, found: String) -> PartMismatch {
        PartMismatch {
            key: self.key.clone(),
            what,
            expected,
            found,
        }
    }
}

/// The files of one table in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFiles {
    pub rows: u64,
    pub parts: Vec<Part>,
}

/// The session that held the extract horizon back, for the run log and `etl status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingSession {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    #[serde(with = "micros")]
    pub transaction_started: DateTime<Utc>,
    pub state: Option<String>,
}

/// How extract chose the upper end of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HorizonBasis {
    /// No other transaction was open: the time just before the snapshot.
    Snapshot,
    /// The start of the oldest other open transaction.
    OpenTransaction,
    /// Other sessions could not be seen (no pg_read_all_stats): the lookback overlap is the guard.
    UnseenSessions,
}

/// Extract's account of its window, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractDetails {
    pub horizon_basis: HorizonBasis,
    /// Rows were read from here (the window start minus the lookback overlap).
    #[serde(with = "micros::option")]
    pub read_from: Option<DateTime<Utc>>,
    pub lookback_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<BlockingSession>,
}

/// The run a processed manifest was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRun {
    pub run_id: RunId,
    pub manifest_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub run_id: RunId,
    pub stage: Stage,
    #[serde(with = "micros")]
    pub created_at: DateTime<Utc>,
    pub window: Window,
    pub tables: BTreeMap<String, TableFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRun>,
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("manifest {key} is not valid JSON for a manifest: {source}")]
    Malformed {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "manifest {key} has format {found}, but this build understands formats \
         {OLDEST_MANIFEST_FORMAT} to {MANIFEST_FORMAT}: upgrade the pipeline before processing it"
    )]
    UnknownFormat { key: String, found: u64 },
}

impl Classify for ManifestError {
    /// A manifest that cannot be read is the input's fault: the run is quarantined.
    fn disposition(&self) -> Disposition {
        Disposition::QuarantineInput
    }
}

impl Manifest {
    pub fn total_rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }

    pub fn total_bytes(&self) -> u64 {
        self.tables
            .values()
            .flat_map(|t| &t.parts)
            .map(|p| p.bytes)
            .sum()
    }

    /// Pretty JSON with a trailing newline; deterministic (tables are in a BTreeMap).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
        json.push(b'\n');
        json
    }

    /// Parses a manifest read from `key`, refusing formats this build does not know.
    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct Header {
            format: u64,
        }
        let header: Header =
            serde_json::from_slice(bytes).map_err(|source| ManifestError::Malformed {
                key: key.to_owned(),
                source,
            })?;
        if !(u64::from(OLDEST_MANIFEST_FORMAT)..=u64::from(MANIFEST_FORMAT))
            .contains(&header.format)
        {
            return Err(ManifestError::UnknownFormat {
                key: key.to_owned(),
                found: header.format,
            });
        }
        serde_json::from_slice(bytes).map_err(|source| ManifestError::Malformed {
            key: key.to_owned(),
            source,
        })
    }
}

/// Lower-case hex sha256, the checksum manifests record.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Manifest {
        let mut tables = BTreeMap::new();
        tables.insert(
            "payment".to_string(),
            TableFiles {
                rows: 2,
                parts: vec![Part::describe(
                    "data/payment/x/part-00000.jsonl.zst".into(),
                    2,
                    b"a\nb\n",
                )],
            },
        );
        Manifest {
            format: MANIFEST_FORMAT,
            run_id: "20261125T081500.123456Z-0a1b2c3d".parse().unwrap(),
            stage: Stage::Extract,
            created_at: Utc.with_ymd_and_hms(2026, 11, 25, 8, 15, 0).unwrap(),
            window: Window {
                from_tie: None,
                to_tie: None,
                from: None,
                keys: None,
                to: Utc.timestamp_micros(1_764_058_500_123_456).unwrap(),
            },
            tables,
            extract: None,
            source: None,
        }
    }

    #[test]
    fn round_trips_with_microsecond_times() {
        let m = sample();
        let json = String::from_utf8(m.to_json()).unwrap();
        assert!(
            json.contains("\"to\": \"2025-11-25T08:15:00.123456Z\""),
            "{json}"
        );
        assert!(json.contains("\"from\": null"), "{json}");
        assert_eq!(Manifest::from_json("k", json.as_bytes()).unwrap(), m);
    }

    #[test]
    fn unknown_formats_and_garbage_are_refused_with_the_key() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let with_format = |n: u32| json.replace("\"format\": 2", &format!("\"format\": {n}"));
        let err = Manifest::from_json("manifests/x.json", with_format(3).as_bytes()).unwrap_err();
        assert!(matches!(err, ManifestError::UnknownFormat { found: 3, .. }));
        assert!(err.to_string().contains("manifests/x.json"));
        let err = Manifest::from_json("manifests/x.json", with_format(0).as_bytes()).unwrap_err();
        assert!(matches!(err, ManifestError::UnknownFormat { found: 0, .. }));
        // Format 1 (plain NDJSON landing parts) is still read.
        let old = Manifest::from_json("manifests/x.json", with_format(1).as_bytes()).unwrap();
        assert_eq!(old.format, 1);
        let err = Manifest::from_json("manifests/y.json", b"{not json").unwrap_err();
        assert!(err.to_string().contains("manifests/y.json"));
    }
}
