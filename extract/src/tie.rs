//! Positions in extract's read order, `(last_updated, table, primary key)`, so that runs can be
//! cut anywhere, even inside a tie: one bulk `UPDATE` stamps every row it touches with the same
//! `last_updated` (its transaction's start), and a run that had to hold a whole tie would grow
//! with the data (docs/architecture.md §5).
//!
//! Cutting inside a tie is safe because every row stamped at or below the horizon is already
//! visible in the snapshot (`crate::horizon`): no later commit can add a row to a tie the
//! watermark has entered, so the rest of it is exactly the rows after the position.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use etl_contract::catalog::SourceTable;
use etl_contract::manifest::TiePosition;

/// Where in the read order a run or the watermark stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub at: DateTime<Utc>,
    /// Inside the tie at `at`; `None`: past all of it.
    pub tie: Option<TiePosition>,
}

/// The order of positions among `tables` (the catalog's order is the tie order). A table the
/// catalog no longer has sorts before every other: its tie is read again, never skipped.
pub fn compare(tables: &[SourceTable], a: &Position, b: &Position) -> Ordering {
    let rank = |tie: &Option<TiePosition>| {
        tie.as_ref().map(|t| {
            let index = tables.iter().position(|s| s.name == t.table);
            (index.map_or(0, |i| i + 1), t.key)
        })
    };
    a.at.cmp(&b.at)
        .then_with(|| match (rank(&a.tie), rank(&b.tie)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.cmp(&y),
        })
}

/// How one table's read resumes at the watermark's timestamp: whether rows stamped exactly then
/// are read, and above which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub include_equal: bool,
    pub key_after: Option<i64>,
}

/// Per table (in `tables` order), how the window's reads start after a watermark that stopped
/// inside a tie. With a lookback the reads start earlier and take every row again.
pub fn resume(tables: &[SourceTable], tie: Option<&TiePosition>, lookback: bool) -> Vec<Resume> {
    let from_start = Resume {
        include_equal: false,
        key_after: None,
    };
    let Some(tie) = tie.filter(|_| !lookback) else {
        return vec![from_start; tables.len()];
    };
    let Some(at) = tables.iter().position(|t| t.name == tie.table) else {
        // The table left the catalog: read the whole tie again (loads are idempotent).
        return vec![
            Resume {
                include_equal: true,
                key_after: None,
            };
            tables.len()
        ];
    };
    (0..tables.len())
        .map(|i| match i.cmp(&at) {
            Ordering::Less => from_start,
            Ordering::Equal => Resume {
                include_equal: true,
                key_after: Some(tie.key),
            },
            Ordering::Greater => Resume {
                include_equal: true,
                key_after: None,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use etl_contract::catalog::SOURCE_TABLES;

    fn tie(table: &str, key: i64) -> Option<TiePosition> {
        Some(TiePosition {
            table: table.into(),
            key,
        })
    }

    #[test]
    fn positions_order_by_time_then_table_then_key_and_a_whole_tie_comes_last() {
        let t = Utc.timestamp_opt(1_000, 0).unwrap();
        let at = |tie| Position { at: t, tie };
        let tables = &SOURCE_TABLES[..];
        let (first, second) = (tables[0].name, tables[1].name);
        assert_eq!(
            compare(tables, &at(tie(first, 9)), &at(tie(second, 1))),
            Ordering::Less
        );
        assert_eq!(
            compare(tables, &at(tie(first, 1)), &at(tie(first, 2))),
            Ordering::Less
        );
        assert_eq!(
            compare(tables, &at(None), &at(tie(second, 99))),
            Ordering::Greater
        );
        let later = Position {
            at: t + chrono::TimeDelta::microseconds(1),
            tie: tie(first, 0),
        };
        assert_eq!(compare(tables, &later, &at(None)), Ordering::Greater);
        assert_eq!(
            compare(tables, &at(tie("gone", 5)), &at(tie(first, 0))),
            Ordering::Less,
            "a table the catalog lost sorts first"
        );
    }

    #[test]
    fn reads_resume_after_the_position_table_by_table() {
        let tables = &SOURCE_TABLES[..];
        let r = resume(tables, tie(tables[2].name, 41).as_ref(), false);
        assert!(!r[0].include_equal && !r[1].include_equal, "taken already");
        assert_eq!(
            r[2],
            Resume {
                include_equal: true,
                key_after: Some(41)
            }
        );
        assert!(
            r[3..]
                .iter()
                .all(|x| x.include_equal && x.key_after.is_none())
        );

        let none = resume(tables, None, false);
        assert!(none.iter().all(|x| !x.include_equal));
        let lookback = resume(tables, tie(tables[2].name, 41).as_ref(), true);
        assert_eq!(lookback, none, "a lookback re-reads from earlier anyway");
        let gone = resume(tables, tie("gone", 1).as_ref(), false);
        assert!(
            gone.iter()
                .all(|x| x.include_equal && x.key_after.is_none())
        );
    }
}
