//! Rows stamped in the future: a `last_updated` ahead of the source's clock (a writer with a
//! wrong clock, a backfill that typed 2999 for "never") is past every horizon, so extract
//! defers the row until the clock passes it. That is correct but silent; here it is counted per
//! table in each invocation's snapshot, warned about in the log, recorded in the watermark for
//! `etl status`, and alerted once per table when it is further ahead than any clock skew the
//! lookback allows for (docs/architecture.md §5).

use std::collections::BTreeMap;
use std::time::Duration;

use etl_adapters::alert::{self, Alert, AlertSink};
use etl_contract::watermark::FutureRows;

use crate::run::ExtractOutcome;

/// How far past the lookback a row must be before a person is alerted: skew within the
/// lookback is what the lookback is for; beyond it by this much is a wrong stamp, not skew.
pub const ALERT_MARGIN: Duration = Duration::from_secs(5 * 60);

/// One table's count from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub table: String,
    pub rows: u64,
    pub ahead_secs: i64,
}

/// What this invocation records, and the tables to alert about now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    pub future: BTreeMap<String, FutureRows>,
    /// Tables newly past the alert threshold: not alerted for by an earlier invocation.
    pub alert: Vec<String>,
}

/// Combines this snapshot's counts with what the previous watermark recorded: a table keeps
/// its `alerted` mark while it has future rows, and is alerted when it first goes further
/// ahead than `lookback` + [`ALERT_MARGIN`].
pub fn assess(
    seen: &[Seen],
    previous: &BTreeMap<String, FutureRows>,
    lookback: Duration,
) -> Assessment {
    let threshold = (lookback + ALERT_MARGIN).as_secs() as i64;
    let mut out = Assessment::default();
    for s in seen.iter().filter(|s| s.rows > 0) {
        let was_alerted = previous.get(&s.table).is_some_and(|p| p.alerted);
        let past = s.ahead_secs > threshold;
        if past && !was_alerted {
            out.alert.push(s.table.clone());
        }
        out.future.insert(
            s.table.clone(),
            FutureRows {
                rows: s.rows,
                ahead_secs: s.ahead_secs,
                alerted: was_alerted || past,
            },
        );
    }
    out
}

/// The alert's lines for `table`: what was seen and what to do, without any row's values.
pub fn alert_lines(table: &str, rows: &FutureRows) -> Vec<String> {
    vec![
        format!(
            "{} row(s) of source table {table} have a last_updated up to {} ahead of the source \
             database's clock.",
            rows.rows,
            etl_contract::time::human_secs(rows.ahead_secs as f64)
        ),
        "They are not lost: extract defers each until the clock passes its last_updated, so \
         until then the warehouse does not have them."
            .to_owned(),
        format!(
            "Find them with: SELECT * FROM {table} WHERE last_updated > now() + interval '1 \
             second'; then correct their last_updated (a writer's clock or a backfill)."
        ),
        "This alert is sent once per table; `etl status` shows the current count.".to_owned(),
    ]
}

/// Sends the warnings an invocation owes: one per table newly stamped far in the future.
pub async fn alert_future_rows(outcome: &ExtractOutcome, alerts: &dyn AlertSink) {
    for table in &outcome.future_alerts {
        let Some(rows) = outcome.future.get(table) else {
            continue;
        };
        let headline = format!("{} {table} row(s) stamped in the future", rows.rows);
        let alert =
            Alert::warning("extract", &headline, alert_lines(table, rows)).with_lambda_logs();
        alert::send_logged(alerts, &alert).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(table: &str, rows: u64, ahead_secs: i64) -> Seen {
        Seen {
            table: table.into(),
            rows,
            ahead_secs,
        }
    }

    const LOOKBACK: Duration = Duration::from_secs(60);

    #[test]
    fn alerts_once_per_table_past_the_lookback_and_margin() {
        let first = assess(
            &[
                seen("payment", 3, 30_000_000_000),
                seen("address", 2, 30),
                seen("design", 0, 0),
            ],
            &BTreeMap::new(),
            LOOKBACK,
        );
        assert_eq!(first.alert, ["payment"]);
        assert_eq!(first.future.len(), 2, "tables with none are not recorded");
        assert!(first.future["payment"].alerted);
        assert!(
            !first.future["address"].alerted,
            "within skew: warned, not alerted"
        );

        let again = assess(
            &[seen("payment", 4, 30_000_000_000)],
            &first.future,
            LOOKBACK,
        );
        assert!(again.alert.is_empty(), "{again:?}");
        assert_eq!(again.future["payment"].rows, 4);
        assert!(again.future["payment"].alerted);

        // Fixed, then wrong again: a new alert.
        let fixed = assess(&[], &again.future, LOOKBACK);
        assert!(fixed.future.is_empty());
        let back = assess(&[seen("payment", 1, 1_000)], &fixed.future, LOOKBACK);
        assert_eq!(back.alert, ["payment"]);
    }

    #[test]
    fn the_threshold_is_lookback_plus_five_minutes() {
        let at = |ahead| assess(&[seen("t", 1, ahead)], &BTreeMap::new(), LOOKBACK).alert;
        assert!(at(360).is_empty());
        assert_eq!(at(361), ["t"]);
    }

    #[test]
    fn alert_lines_name_the_table_and_never_a_value() {
        let lines = alert_lines(
            "payment",
            &FutureRows {
                rows: 3,
                ahead_secs: 90_000,
                alerted: true,
            },
        );
        assert!(
            lines[0].starts_with("3 row(s) of source table payment"),
            "{lines:?}"
        );
        assert!(lines[0].contains("1d 1h ahead"), "{lines:?}");
    }
}
