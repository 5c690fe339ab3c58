//! The safe horizon: how far a window may reach without skipping a row that is still being
//! written (docs/architecture.md §5).
//!
//! A row's `last_updated` is its writer's transaction start (`now()`), rounded to the column's
//! millisecond precision, so it can be up to half a millisecond *before* that start. A row that
//! our snapshot cannot see belongs to a transaction that was open when the snapshot was taken;
//! if the horizon stays below the start of every such transaction, the row falls into a later
//! window instead of behind the watermark.
//!
//! The open transactions are read from `pg_stat_activity` in a statement *before* the snapshot
//! is taken. Read inside the snapshot's transaction instead, a writer committing between the
//! snapshot and the read would be invisible to both, and its rows lost. Read before, any writer
//! still open at the snapshot either was open at the probe (and is counted) or began after the
//! probe (so its rows are stamped after the probe time, which also bounds the horizon).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use etl_contract::manifest::{BlockingSession, HorizonBasis};

/// What the probe saw of other sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The probe statement's start: no later than the moment the activity was read.
    pub probed_at: DateTime<Utc>,
    /// Other sessions of this database currently in a transaction, oldest first.
    pub open_transactions: Vec<BlockingSession>,
    /// Other sessions whose details the role may not see (no `pg_read_all_stats`).
    pub hidden_sessions: u32,
}

/// The upper end of the next window and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Horizon {
    pub to: DateTime<Utc>,
    pub basis: HorizonBasis,
    /// The open transaction that holds the horizon back, if one does.
    pub held_by: Option<BlockingSession>,
}

/// The precision of the source's `timestamp(3)` columns.
const COLUMN_PRECISION: TimeDelta = TimeDelta::milliseconds(1);

/// Computes the horizon from a probe: the earlier of the probe time and the oldest open
/// transaction's start, truncated to the column precision and stepped back one unit, so that a
/// row stamped by rounding up to half a unit before its transaction began is still after it.
pub fn horizon(probe: &Probe) -> Horizon {
    let oldest = probe
        .open_transactions
        .iter()
        .min_by_key(|s| s.transaction_started);
    let (base, held_by) = match oldest {
        Some(session) if session.transaction_started < probe.probed_at => {
            (session.transaction_started, Some(session.clone()))
        }
        _ => (probe.probed_at, None),
    };
    let basis = if probe.hidden_sessions > 0 {
        HorizonBasis::UnseenSessions
    } else if held_by.is_some() {
        HorizonBasis::OpenTransaction
    } else {
        HorizonBasis::Snapshot
    };
    let truncated = base.duration_trunc(COLUMN_PRECISION).unwrap_or(base);
    Horizon {
        to: truncated - COLUMN_PRECISION,
        basis,
        held_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(micros: i64) -> DateTime<Utc> {
        Utc.timestamp_micros(micros).unwrap()
    }

    fn session(started: DateTime<Utc>) -> BlockingSession {
        BlockingSession {
            pid: 42,
            user: Some("app".into()),
            application: Some("totesys".into()),
            transaction_started: started,
            state: Some("idle in transaction".into()),
        }
    }

    #[test]
    fn with_no_other_transaction_the_horizon_is_just_below_the_probe() {
        let h = horizon(&Probe {
            probed_at: at(1_000_000_500_700),
            ..Default::default()
        });
        assert_eq!(h.to, at(1_000_000_499_000));
        assert_eq!(h.basis, HorizonBasis::Snapshot);
        assert_eq!(h.held_by, None);
    }

    #[test]
    fn an_open_transaction_holds_the_horizon_below_rows_it_may_still_commit() {
        // The case seen in production: transaction start 10:10:25.063253, row stamped
        // 10:10:25.063 by timestamp(3) rounding. The horizon must stay below the row.
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 10, 10, 25).unwrap()
            + TimeDelta::microseconds(63_253);
        let row_stamp =
            Utc.with_ymd_and_hms(2026, 11, 25, 10, 10, 25).unwrap() + TimeDelta::milliseconds(63);
        let h = horizon(&Probe {
            probed_at: start + TimeDelta::seconds(30),
            open_transactions: vec![session(start + TimeDelta::seconds(5)), session(start)],
            hidden_sessions: 0,
        });
        assert!(h.to < row_stamp, "{} must be before {}", h.to, row_stamp);
        assert_eq!(h.basis, HorizonBasis::OpenTransaction);
        assert_eq!(h.held_by.unwrap().transaction_started, start);

        // Rounding up: a start at .0635 rounds to .064 (never earlier than .063 either way).
        let start = at(1_000_000_063_500);
        let h = horizon(&Probe {
            probed_at: start + TimeDelta::seconds(1),
            open_transactions: vec![session(start)],
            hidden_sessions: 0,
        });
        assert!(h.to < at(1_000_000_063_000));
    }

    #[test]
    fn hidden_sessions_are_flagged() {
        let h = horizon(&Probe {
            probed_at: at(5_000_000),
            open_transactions: vec![],
            hidden_sessions: 2,
        });
        assert_eq!(h.basis, HorizonBasis::UnseenSessions);
    }
}
