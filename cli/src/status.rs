//! `etl status`: how fresh the warehouse is and what is in flight, from the stores and the
//! warehouse ledger (the same sources of truth the stages use).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use etl_adapters::store::ObjectStore;
use etl_adapters::watermark;
use etl_contract::layout::{MANIFESTS_PREFIX, QUARANTINE_PREFIX, RunId};
use etl_contract::manifest::{BlockingSession, Manifest};
use etl_contract::time::human_secs as human;
use etl_contract::watermark::{FutureRows, TableProgress};
use serde::Serialize;

use crate::local::Local;

/// How many recent runs per stage are shown.
const RECENT: usize = 5;

/// The first thing an operator needs: is the pipeline all right?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Fresh within the objective and nothing quarantined.
    Healthy,
    /// Nothing is broken, but the watermark is older than the objective (an idle source, a
    /// session holding the horizon back, a stopped schedule).
    Stale,
    /// A run is quarantined: a person must look.
    Failing,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub health: Health,
    /// One line each, most important first.
    pub reasons: Vec<String>,
    pub freshness_slo_secs: f64,
}

/// The verdict on `status` against a freshness objective. Pure, so every case is tested
/// without a pipeline.
pub fn verdict(status: &Status, slo: std::time::Duration) -> Verdict {
    let slo_secs = slo.as_secs_f64();
    let mut reasons = Vec::new();
    for q in &status.quarantined {
        let first_line = q.error.lines().next().unwrap_or("");
        reasons.push(format!(
            "run {} is quarantined at {}: {first_line}",
            q.run_id, q.stage
        ));
    }
    let stale = match status.lag_secs {
        None => {
            reasons.push("nothing has been extracted yet".into());
            true
        }
        Some(lag) if lag > slo_secs => {
            reasons.push(format!(
                "the watermark is {} old, past the {} objective",
                human(lag),
                human(slo_secs)
            ));
            true
        }
        Some(_) => false,
    };
    // The watermark of a first load in progress is its horizon, not what has landed.
    let loading = status.first_load.is_some_and(|(done, tables)| {
        reasons.push(format!(
            "the first load is in progress: {done} of {tables} source tables read whole"
        ));
        true
    });
    if let Some(s) = &status.held_by {
        reasons.push(format!(
            "the horizon is held back by pid {} (user {}, application {}), in a transaction \
             since {}",
            s.pid,
            s.user.as_deref().unwrap_or("?"),
            s.application.as_deref().unwrap_or("?"),
            etl_contract::time::format_micros(s.transaction_started)
        ));
    }
    let mut far_ahead = false;
    for (table, rows) in &status.future {
        far_ahead |= rows.alerted;
        reasons.push(format!(
            "{} row(s) of {table} are stamped up to {} ahead of the source clock: they reach \
             the warehouse only when the clock passes them (correct their last_updated)",
            rows.rows,
            human(rows.ahead_secs as f64)
        ));
    }
    let health = if !status.quarantined.is_empty() {
        Health::Failing
    } else if stale || far_ahead || loading {
        Health::Stale
    } else {
        Health::Healthy
    };
    if health == Health::Healthy {
        reasons.insert(
            0,
            format!(
                "the watermark is {} old, within the {} objective",
                human(status.lag_secs.unwrap_or(0.0)),
                human(slo_secs)
            ),
        );
    }
    Verdict {
        health,
        reasons,
        freshness_slo_secs: slo_secs,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunLine {
    pub run_id: String,
    pub rows: u64,
    pub bytes: u64,
    /// When the run was extracted (extract, transform) or loaded (load).
    pub at: String,
    /// Seconds since `at`.
    pub age_secs: f64,
}

/// One stage at a glance: its last run, the work waiting for it, what it quarantined.
#[derive(Debug, Clone, Serialize)]
pub struct StageLine {
    pub stage: String,
    pub last: Option<RunLine>,
    /// Runs waiting for this stage (extract: none, it is driven by the schedule).
    pub pending: usize,
    pub quarantined: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub run_id: String,
    pub stage: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Every source row changed up to here has landed.
    pub watermark: Option<String>,
    /// Now minus the watermark: how stale the warehouse can be, at most, once pending runs load.
    pub lag_secs: Option<f64>,
    pub last_checked: Option<String>,
    /// The open source transaction holding the watermark back, if any.
    pub held_by: Option<BlockingSession>,
    pub extract: Vec<RunLine>,
    pub transform: Vec<RunLine>,
    pub load: Vec<RunLine>,
    pub pending_transform: Vec<String>,
    pub pending_load: Vec<String>,
    /// Runs published to the lake (`ETL_LAKE`), when it is set: when each was published and
    /// the rows it holds.
    pub lake: Option<Vec<RunLine>>,
    /// Processed runs the lake does not hold yet.
    pub pending_lake: Vec<String>,
    pub quarantined: Vec<Quarantined>,
    /// Source rows stamped ahead of the source's clock at the last extract, per table.
    pub future: BTreeMap<String, FutureRows>,
    /// While the first load is in progress (its rows up to the watermark have not all landed):
    /// the source tables it has read whole, and every table it reads.
    pub first_load: Option<(usize, usize)>,
}

impl Status {
    /// Per stage: last run, age, rows, pending and quarantined counts.
    pub fn stages(&self) -> Vec<StageLine> {
        let quarantined =
            |stage: &str| self.quarantined.iter().filter(|q| q.stage == stage).count();
        [
            ("extract", Some(&self.extract), 0),
            (
                "transform",
                Some(&self.transform),
                self.pending_transform.len(),
            ),
            ("load", Some(&self.load), self.pending_load.len()),
            ("lake", self.lake.as_ref(), self.pending_lake.len()),
        ]
        .into_iter()
        .filter_map(|(stage, lines, pending)| Some((stage, lines?, pending)))
        .map(|(stage, lines, pending)| StageLine {
            stage: stage.to_owned(),
            last: lines.last().cloned(),
            pending,
            quarantined: quarantined(stage),
        })
        .collect()
    }

    /// The JSON `etl status --json` prints: the status, its verdict and the per-stage view.
    pub fn to_json(&self, verdict: &Verdict) -> serde_json::Value {
        let mut json = serde_json::to_value(self).unwrap_or_default();
        json["verdict"] = serde_json::to_value(verdict).unwrap_or_default();
        json["stages"] = serde_json::to_value(self.stages()).unwrap_or_default();
        json
    }
}

/// Every manifest of a store, oldest first.
pub(crate) async fn manifests(store: &dyn ObjectStore) -> anyhow::Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for key in store.list(MANIFESTS_PREFIX).await? {
        if let Some(object) = store.get(&key).await? {
            out.push(Manifest::from_json(&key, &object.bytes)?);
        }
    }
    Ok(out)
}

fn line(m: &Manifest, now: DateTime<Utc>) -> RunLine {
    run_line(
        m.run_id.to_string(),
        m.total_rows(),
        m.total_bytes(),
        m.created_at,
        now,
    )
}

fn run_line(
    run_id: String,
    rows: u64,
    bytes: u64,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RunLine {
    RunLine {
        run_id,
        rows,
        bytes,
        at: etl_contract::time::format_micros(at),
        age_secs: (now - at).num_milliseconds() as f64 / 1000.0,
    }
}

fn recent(mut lines: Vec<RunLine>) -> Vec<RunLine> {
    let skip = lines.len().saturating_sub(RECENT);
    lines.drain(..skip);
    lines
}

async fn quarantined(store: &dyn ObjectStore) -> anyhow::Result<Vec<Quarantined>> {
    let mut out = Vec::new();
    for key in store.list(QUARANTINE_PREFIX).await? {
        // quarantine/<run_id>/<stage>/error.txt
        let parts: Vec<&str> = key.split('/').collect();
        if let [_, run_id, stage, "error.txt"] = parts.as_slice()
            && let Some(object) = store.get(&key).await?
        {
            out.push(Quarantined {
                run_id: run_id.to_string(),
                stage: stage.to_string(),
                error: String::from_utf8_lossy(&object.bytes).trim().to_string(),
            });
        }
    }
    Ok(out)
}

/// One run in the warehouse's load ledger.
pub(crate) struct Loaded {
    pub run_id: String,
    pub rows: u64,
    pub loaded_at: DateTime<Utc>,
}

/// The load ledger, oldest run first; `None` when no warehouse is configured. A warehouse
/// nothing has loaded into yet has no ledger: it is shown as empty, not migrated into existence
/// by a command that only looks.
async fn ledger(local: &Local) -> anyhow::Result<Option<Vec<Loaded>>> {
    if local.config.warehouse.is_none() {
        return Ok(None);
    }
    let client = local.warehouse_read_only().await?;
    let has_ledger: bool = client
        .query_one("SELECT to_regclass('etl_load_ledger') IS NOT NULL", &[])
        .await?
        .get(0);
    if !has_ledger {
        return Ok(Some(Vec::new()));
    }
    let rows = client
        .query(
            "SELECT run_id, (SELECT coalesce(sum(value::bigint), 0) FROM jsonb_each_text(rows))::bigint, loaded_at \
             FROM etl_load_ledger ORDER BY run_id",
            &[],
        )
        .await?;
    Ok(Some(
        rows.iter()
            .map(|r| Loaded {
                run_id: r.get(0),
                rows: r.get::<_, i64>(1).max(0) as u64,
                loaded_at: r.get(2),
            })
            .collect(),
    ))
}

/// What the status is computed from, read once: the manifests of both stores, oldest first,
/// and the load ledger (`None` without a warehouse). `etl report` charts the same reads.
pub(crate) struct Sources {
    pub extracted: Vec<Manifest>,
    pub transformed: Vec<Manifest>,
    pub ledger: Option<Vec<Loaded>>,
}

impl Sources {
    pub(crate) async fn read(local: &Local) -> anyhow::Result<Sources> {
        Ok(Sources {
            extracted: manifests(local.landing.as_ref()).await?,
            transformed: manifests(local.processed.as_ref()).await?,
            ledger: ledger(local).await?,
        })
    }
}

/// Gathers the status. The warehouse part is left empty when no warehouse is configured.
pub async fn status(local: &Local) -> anyhow::Result<Status> {
    status_of(local, &Sources::read(local).await?).await
}

/// The status from sources already read.
pub(crate) async fn status_of(local: &Local, sources: &Sources) -> anyhow::Result<Status> {
    let landing = local.landing.as_ref();
    let processed = local.processed.as_ref();
    let mark = watermark::load(landing).await?.watermark;
    let now = Utc::now();
    let (extracted, transformed) = (&sources.extracted, &sources.transformed);
    let transformed_ids: Vec<&RunId> = transformed.iter().map(|m| &m.run_id).collect();
    let quarantined = quarantined(processed).await?;
    let is_quarantined = |run: &RunId, stage: &str| {
        quarantined
            .iter()
            .any(|q| q.run_id == run.as_str() && q.stage == stage)
    };

    let (load, loaded_ids) = match &sources.ledger {
        Some(entries) => {
            let ids: BTreeSet<&str> = entries.iter().map(|e| e.run_id.as_str()).collect();
            let lines = entries
                .iter()
                .map(|e| run_line(e.run_id.clone(), e.rows, 0, e.loaded_at, now))
                .collect();
            (lines, Some(ids))
        }
        None => (Vec::new(), None),
    };

    let pending_transform = extracted
        .iter()
        .map(|m| &m.run_id)
        .filter(|id| !transformed_ids.contains(id) && !is_quarantined(id, "transform"))
        .map(ToString::to_string)
        .collect();
    let (lake, pending_lake) = match &local.lake {
        Some(lake) => {
            let published = lake.published().await?;
            let rows: BTreeMap<&RunId, u64> = transformed
                .iter()
                .map(|m| (&m.run_id, m.total_rows()))
                .collect();
            let held: BTreeSet<&RunId> = published.iter().map(|(run, _)| run).collect();
            let lines = published
                .iter()
                .map(|(run, at)| {
                    let rows = rows.get(run).copied().unwrap_or(0);
                    run_line(run.to_string(), rows, 0, *at, now)
                })
                .collect();
            let pending = transformed
                .iter()
                .map(|m| &m.run_id)
                .filter(|id| !held.contains(id))
                .map(ToString::to_string)
                .collect();
            (Some(recent(lines)), pending)
        }
        None => (None, Vec::new()),
    };
    let pending_load = match &loaded_ids {
        Some(loaded) => transformed
            .iter()
            .map(|m| &m.run_id)
            .filter(|id| !loaded.contains(&id.as_str()) && !is_quarantined(id, "load"))
            .map(ToString::to_string)
            .collect(),
        None => Vec::new(),
    };
    Ok(Status {
        watermark: mark
            .as_ref()
            .map(|w| etl_contract::time::format_micros(w.to)),
        lag_secs: mark
            .as_ref()
            .map(|w| (now - w.to).num_milliseconds() as f64 / 1000.0),
        last_checked: mark
            .as_ref()
            .map(|w| etl_contract::time::format_micros(w.checked_at)),
        future: mark.as_ref().map(|w| w.future.clone()).unwrap_or_default(),
        first_load: mark
            .as_ref()
            .and_then(|w| w.first_load.as_ref())
            .map(|tables| {
                let done = tables
                    .values()
                    .filter(|t| **t == TableProgress::Done)
                    .count();
                (done, etl_contract::catalog::SOURCE_TABLES.len())
            }),
        held_by: mark.and_then(|w| w.held_by),
        extract: recent(extracted.iter().map(|m| line(m, now)).collect()),
        transform: recent(transformed.iter().map(|m| line(m, now)).collect()),
        load: recent(load),
        pending_transform,
        pending_load,
        lake,
        pending_lake,
        quarantined,
    })
}

/// Prints the verdict, then the status, for a person; colours only on a terminal.
pub fn print(verdict: &Verdict, status: &Status) {
    use std::io::IsTerminal;
    print!(
        "{}",
        render(verdict, status, std::io::stdout().is_terminal())
    );
}

/// The text `etl status` prints: the verdict line and its reasons, then the facts.
pub fn render(verdict: &Verdict, status: &Status, colour: bool) -> String {
    use std::fmt::Write;
    let (on, off) = match (colour, verdict.health) {
        (false, _) => ("", ""),
        (true, Health::Healthy) => ("\x1b[32m", "\x1b[0m"),
        (true, Health::Stale) => ("\x1b[33m", "\x1b[0m"),
        (true, Health::Failing) => ("\x1b[31m", "\x1b[0m"),
    };
    let health = match verdict.health {
        Health::Healthy => "HEALTHY",
        Health::Stale => "STALE",
        Health::Failing => "FAILING",
    };
    let mut out = String::new();
    // Writing to a String cannot fail: the results below are infallible.
    let _ = writeln!(
        out,
        "{on}{health}{off}: {}",
        verdict.reasons.first().map(String::as_str).unwrap_or("")
    );
    for reason in verdict.reasons.iter().skip(1) {
        let _ = writeln!(out, "  {reason}");
    }
    let _ = writeln!(out);
    let _ = match (&status.watermark, status.lag_secs, status.first_load) {
        (Some(mark), _, Some((done, tables))) => writeln!(
            out,
            "watermark {mark}  (first load in progress: {done} of {tables} tables read whole)"
        ),
        (Some(mark), Some(lag), None) => {
            writeln!(out, "watermark {mark}  (lag {})", human(lag))
        }
        _ => writeln!(out, "watermark none: nothing extracted yet"),
    };
    if let Some(s) = &status.held_by {
        let _ = writeln!(
            out,
            "horizon held back by pid {} (user {}, application {}, {}) since {}",
            s.pid,
            s.user.as_deref().unwrap_or("?"),
            s.application.as_deref().unwrap_or("?"),
            s.state.as_deref().unwrap_or("?"),
            etl_contract::time::format_micros(s.transaction_started)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<9}  {:<32}  {:>8}  {:>9}  {:>7}  {:>11}",
        "stage", "last run", "age", "rows", "pending", "quarantined"
    );
    for stage in status.stages() {
        let (run, age, rows) = match &stage.last {
            Some(l) => (l.run_id.as_str(), human(l.age_secs), l.rows.to_string()),
            None => ("-", "-".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "{:<9}  {run:<32}  {age:>8}  {rows:>9}  {:>7}  {:>11}",
            stage.stage, stage.pending, stage.quarantined
        );
    }
    if !status.quarantined.is_empty() {
        let _ = writeln!(out, "\nquarantined:");
        for q in &status.quarantined {
            let _ = writeln!(
                out,
                "  {} at {}: {}",
                q.run_id,
                q.stage,
                q.error.lines().next().unwrap_or("")
            );
        }
    }
    if !status.future.is_empty() {
        let _ = writeln!(out, "\nsource rows stamped in the future (deferred):");
        for (table, rows) in &status.future {
            let _ = writeln!(
                out,
                "  {table:<16} {:>9} row(s), up to {} ahead{}",
                rows.rows,
                human(rows.ahead_secs as f64),
                if rows.alerted { " (alerted)" } else { "" }
            );
        }
    }
    let _ = writeln!(out, "\nrecent runs:");
    for (stage, lines) in [
        ("extract", Some(&status.extract)),
        ("transform", Some(&status.transform)),
        ("load", Some(&status.load)),
        ("lake", status.lake.as_ref()),
    ]
    .into_iter()
    .filter_map(|(stage, lines)| Some((stage, lines?)))
    {
        for l in lines {
            let _ = writeln!(
                out,
                "  {stage:<9} {}  rows {:>9}  at {}",
                l.run_id, l.rows, l.at
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn status(lag: Option<f64>) -> Status {
        Status {
            watermark: lag.map(|_| "2026-12-01T10:00:00.000000Z".into()),
            lag_secs: lag,
            last_checked: None,
            held_by: None,
            extract: Vec::new(),
            transform: Vec::new(),
            load: Vec::new(),
            pending_transform: Vec::new(),
            pending_load: Vec::new(),
            lake: None,
            pending_lake: Vec::new(),
            quarantined: Vec::new(),
            future: BTreeMap::new(),
            first_load: None,
        }
    }

    const SLO: Duration = Duration::from_secs(30 * 60);

    #[test]
    fn the_lake_has_a_line_of_its_own_only_when_it_is_set() {
        let mut s = status(Some(60.0));
        let stages = |s: &Status| s.stages().into_iter().map(|l| l.stage).collect::<Vec<_>>();
        assert_eq!(stages(&s), ["extract", "transform", "load"]);
        assert!(!render(&verdict(&s, SLO), &s, false).contains("lake"));

        s.lake = Some(vec![RunLine {
            run_id: "20261201T100000.000000Z-0a1b2c3d".into(),
            rows: 42,
            bytes: 0,
            at: "2026-12-01T10:00:05.000000Z".into(),
            age_secs: 60.0,
        }]);
        s.pending_lake = vec!["20261201T101000.000000Z-0a1b2c3e".into()];
        assert_eq!(stages(&s), ["extract", "transform", "load", "lake"]);
        let lake = s.stages().pop().unwrap();
        assert_eq!((lake.pending, lake.last.unwrap().rows), (1, 42));
        let text = render(&verdict(&s, SLO), &s, false);
        assert!(
            text.contains("lake       20261201T100000.000000Z-0a1b2c3d"),
            "{text}"
        );
        assert!(
            text.contains("  lake      20261201T100000.000000Z-0a1b2c3d  rows        42"),
            "{text}"
        );
    }

    #[test]
    fn a_first_load_in_progress_is_stale_however_recent_its_horizon() {
        let mut s = status(Some(5.0));
        s.first_load = Some((4, 11));
        let v = verdict(&s, SLO);
        assert_eq!(v.health, Health::Stale);
        assert_eq!(
            v.reasons,
            ["the first load is in progress: 4 of 11 source tables read whole"]
        );
        let text = render(&v, &s, false);
        assert!(
            text.contains("(first load in progress: 4 of 11 tables read whole)"),
            "{text}"
        );
    }

    #[test]
    fn fresh_and_clean_is_healthy() {
        let v = verdict(&status(Some(125.0)), SLO);
        assert_eq!(v.health, Health::Healthy);
        assert_eq!(
            v.reasons,
            ["the watermark is 2m 5s old, within the 30m 0s objective"]
        );
        let text = render(&v, &status(Some(125.0)), false);
        assert!(
            text.starts_with("HEALTHY: the watermark is 2m 5s old"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour off a terminal");
        assert!(render(&v, &status(Some(125.0)), true).starts_with("\x1b[32mHEALTHY"));
    }

    #[test]
    fn past_the_objective_is_stale_and_names_the_holding_session() {
        let mut s = status(Some(2.0 * 3600.0 + 60.0));
        s.held_by = Some(BlockingSession {
            pid: 4242,
            user: Some("app".into()),
            application: Some("psql".into()),
            transaction_started: chrono::DateTime::from_timestamp(1_764_583_200, 0)
                .unwrap_or_default(),
            state: Some("idle in transaction".into()),
        });
        let v = verdict(&s, SLO);
        assert_eq!(v.health, Health::Stale);
        assert_eq!(
            v.reasons[0],
            "the watermark is 2h 1m old, past the 30m 0s objective"
        );
        assert!(
            v.reasons[1].contains("pid 4242 (user app, application psql)"),
            "{v:?}"
        );
        assert_eq!(verdict(&status(None), SLO).health, Health::Stale);
    }

    #[test]
    fn rows_far_in_the_future_make_a_fresh_pipeline_stale_and_are_listed() {
        let mut s = status(Some(5.0));
        s.future.insert(
            "payment".into(),
            FutureRows {
                rows: 3,
                ahead_secs: 30_000_000_000,
                alerted: true,
            },
        );
        let v = verdict(&s, SLO);
        assert_eq!(v.health, Health::Stale);
        assert!(
            v.reasons[0].starts_with("3 row(s) of payment are stamped up to 951y"),
            "{v:?}"
        );
        let text = render(&v, &s, false);
        assert!(
            text.contains("payment                  3 row(s), up to 951y"),
            "{text}"
        );
        assert!(text.contains("(alerted)"), "{text}");
        // Within the skew the lookback allows for: listed, still healthy.
        s.future.get_mut("payment").unwrap().alerted = false;
        assert_eq!(verdict(&s, SLO).health, Health::Healthy);
    }

    #[test]
    fn each_stage_shows_its_last_run_pending_and_quarantined() {
        let mut s = status(Some(5.0));
        s.transform.push(RunLine {
            run_id: "20261201T100000.000000Z-0a1b2c3d".into(),
            rows: 120,
            bytes: 9,
            at: "2026-12-01T10:00:00.000000Z".into(),
            age_secs: 125.0,
        });
        s.pending_load
            .push("20261201T100000.000000Z-0a1b2c3d".into());
        let stages = s.stages();
        assert_eq!(stages[1].last.as_ref().unwrap().rows, 120);
        assert_eq!((stages[2].pending, stages[2].quarantined), (1, 0));
        let text = render(&verdict(&s, SLO), &s, false);
        let row = text.lines().find(|l| l.starts_with("transform ")).unwrap();
        assert!(
            row.contains("20261201T100000.000000Z-0a1b2c3d")
                && row.contains("2m 5s")
                && row.contains("120"),
            "{row}"
        );
        let json = s.to_json(&verdict(&s, SLO));
        assert_eq!(json["stages"][2]["pending"], 1);
        assert_eq!(json["verdict"]["health"], "healthy");
    }

    #[test]
    fn a_quarantined_run_is_failing_whatever_the_freshness() {
        let mut s = status(Some(5.0));
        s.quarantined.push(Quarantined {
            run_id: "20261201T100000.000000Z-0a1b2c3d".into(),
            stage: "transform".into(),
            error: "data/design/x/part-00000.jsonl line 1: field is missing\nmore".into(),
        });
        let v = verdict(&s, SLO);
        assert_eq!(v.health, Health::Failing);
        assert_eq!(
            v.reasons,
            [
                "run 20261201T100000.000000Z-0a1b2c3d is quarantined at transform: \
              data/design/x/part-00000.jsonl line 1: field is missing"
            ]
        );
    }
}
