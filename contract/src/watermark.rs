//! The extract watermark: the end of the last window extract committed, as stored (JSON) at
//! `layout::WATERMARK_KEY` in the landing store. How it is read and swapped is the adapters'
//! `watermark` module.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::layout::RunId;
use crate::manifest::{BlockingSession, TiePosition};
use crate::time::micros;

/// Format 2 added [`Watermark::tie`], format 3 [`Watermark::first_load`]; older formats are
/// read as a watermark without them. An older build refuses format 3: it would take a first
/// load in progress for a complete one and skip the rest of it.
pub const WATERMARK_FORMAT: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub format: u32,
    /// Every source row with `last_updated < to` has landed, and those stamped exactly `to`
    /// up to [`Watermark::tie`]; while [`Watermark::first_load`] is set, only the rows it
    /// records of those stamped at or before `to`.
    #[serde(with = "micros")]
    pub to: DateTime<Utc>,
    /// Where the last run stopped inside the rows stamped exactly `to` (a tie larger than a
    /// run); `None`: every row stamped `to` has landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie: Option<TiePosition>,
    /// The last run that landed data (an empty window advances `to` without a run).
    pub last_run_id: Option<RunId>,
    /// When extract last checked the source, with or without changes.
    #[serde(with = "micros")]
    pub checked_at: DateTime<Utc>,
    /// The session holding the horizon back at the last check, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<BlockingSession>,
    /// Per source table, the rows stamped ahead of the source's clock at the last check
    /// (absent: none). Extract defers them until the clock passes their `last_updated`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub future: BTreeMap<String, FutureRows>,
    /// A first load not yet complete: how far it has read each table, in primary-key order, of
    /// the rows stamped at or before `to` (its snapshot's horizon). A table it does not name
    /// has not been started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_load: Option<BTreeMap<String, TableProgress>>,
}

/// How far a first load has landed one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableProgress {
    /// Every row with a primary key up to and including this one.
    Through(i64),
    /// All of it.
    Done,
}

/// Rows of one table whose `last_updated` is ahead of the source's clock: a writer with a
/// wrong clock or a bad backfill. They are not lost, only deferred, which nobody would notice
/// without this (docs/architecture.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FutureRows {
    pub rows: u64,
    /// How far the furthest of them is ahead of the source's clock, in whole seconds.
    pub ahead_secs: i64,
    /// Whether a person has been alerted. Once per table: it stays set while the table has
    /// such rows, and a table that has none again is dropped from the map.
    pub alerted: bool,
}

/// A watermark of any format this build reads (1 to 3).
pub fn parse(bytes: &[u8]) -> Result<Watermark, String> {
    let watermark: Watermark = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if !(1..=WATERMARK_FORMAT).contains(&watermark.format) {
        return Err(format!("unknown format {}", watermark.format));
    }
    Ok(watermark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_1_reads_as_a_watermark_without_a_tie_and_unknown_formats_are_refused() {
        let v1 = br#"{"format":1,"to":"2026-12-01T10:00:00.000000Z","last_run_id":null,
                      "checked_at":"2026-12-01T10:00:01.000000Z"}"#;
        let mark = parse(v1).unwrap();
        assert_eq!(mark.tie, None);
        assert!(mark.future.is_empty());
        assert_eq!(mark.first_load, None);
        let v4 = String::from_utf8_lossy(v1).replace("\"format\":1", "\"format\":4");
        assert_eq!(parse(v4.as_bytes()).unwrap_err(), "unknown format 4");

        let tied = Watermark {
            format: WATERMARK_FORMAT,
            tie: Some(TiePosition {
                table: "payment".into(),
                key: 42,
            }),
            ..mark
        };
        let back = parse(&serde_json::to_vec(&tied).unwrap()).unwrap();
        assert_eq!(back, tied);

        let loading = Watermark {
            tie: None,
            first_load: Some(BTreeMap::from([
                ("address".to_owned(), TableProgress::Done),
                ("payment".to_owned(), TableProgress::Through(41)),
            ])),
            ..tied
        };
        let json = serde_json::to_string(&loading).unwrap();
        assert!(
            json.contains(r#""first_load":{"address":"done","payment":{"through":41}}"#),
            "{json}"
        );
        assert_eq!(parse(json.as_bytes()).unwrap(), loading);
    }
}
