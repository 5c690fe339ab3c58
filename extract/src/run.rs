//! One extract invocation: probe, snapshot, drift check, then as many bounded runs as the window
//! and the deadline allow, each committed by its manifest and then the watermark.
//!
//! All runs of an invocation read from one `REPEATABLE READ READ ONLY` snapshot, which this
//! connection holds and exports to the reader connections (`crate::readers`), one server-side
//! portal per table ordered by `last_updated`. The portals are merged in
//! `(last_updated, table, primary key)` order and cut into runs of `row_budget` rows, wherever
//! the budget falls, inside a tie of equal `last_updated` too (`crate::tie`): a run never holds
//! more than the budget, however many rows one bulk UPDATE stamped alike. Postgres sorts each
//! table once per invocation, however many runs it yields.
//!
//! Until the first load is complete (no watermark yet, or one that records its progress), the
//! invocation reads it first, by primary key (`crate::first_load`), and then the window after
//! its horizon as above.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use etl_adapters::store::{ObjectStore, PutOutcome, Version};
use etl_adapters::watermark::{self, Advance};
use etl_contract::catalog::{LiveColumn, SourceTable, drift};
use etl_contract::layout::{RunId, manifest_key};
use etl_contract::manifest::{
    BlockingSession, ExtractDetails, HorizonBasis, MANIFEST_FORMAT, Manifest, Stage, TiePosition,
    Window,
};
use etl_contract::watermark::{FutureRows, TableProgress, WATERMARK_FORMAT, Watermark};
use futures_util::future::try_join_all;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_postgres::{Client, Transaction};

use crate::error::ExtractError;
use crate::first_load;
use crate::future::{self, Seen};
use crate::horizon::{Horizon, Probe, horizon};
use crate::parts::{self, PartWriter, Uploads};
use crate::readers::{self, Read};
use crate::source::Source;
use crate::sql;
use crate::tie::{self, Position};

/// How an invocation extracts.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// The source tables to read (the totesys catalog in production).
    pub tables: &'static [SourceTable],
    /// Rows per run (the first run of an invocation also holds what the lookback re-reads).
    pub row_budget: u64,
    /// Re-read this much before the watermark each time (a guard against writers' clock skew).
    pub lookback: Duration,
    /// Upper bound of one NDJSON part.
    pub part_max_bytes: usize,
    /// Rows fetched from a portal per round trip.
    pub fetch_rows: i32,
    /// Connections that read the tables in parallel, besides the coordinator's (at least 1).
    pub readers: usize,
    /// Take no new run after this instant (a Lambda's deadline minus a safety margin).
    pub deadline: Option<Instant>,
    /// Take at most this many runs.
    pub max_runs: Option<usize>,
    /// Told each run's id as soon as its manifest is written, so a consumer in the same
    /// process (`etl run`) can transform it while extract reads the next; the cloud has S3's
    /// notification instead.
    pub committed: Option<UnboundedSender<RunId>>,
}

impl ExtractOptions {
    pub fn new(tables: &'static [SourceTable]) -> Self {
        ExtractOptions {
            tables,
            row_budget: etl_contract::config::DEFAULT_ROW_BUDGET,
            lookback: Duration::from_secs(etl_contract::config::DEFAULT_LOOKBACK_SECS),
            part_max_bytes: 8 << 20,
            fetch_rows: 2_000,
            readers: etl_contract::config::DEFAULT_SOURCE_READERS as usize,
            deadline: None,
            max_runs: None,
            committed: None,
        }
    }
}

/// A committed run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: RunId,
    pub manifest_key: String,
    pub window: Window,
    pub rows: BTreeMap<String, u64>,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl RunSummary {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// Why an invocation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Everything up to the horizon has landed.
    CaughtUp,
    /// The window was empty; the watermark recorded the check.
    NothingNew,
    /// The deadline came; the rest is taken next time.
    Deadline,
    /// `max_runs` runs were taken.
    RunLimit,
    /// Another extract advanced the watermark first; this one stopped without advancing it.
    LostRace,
}

#[derive(Debug, Clone)]
pub struct ExtractOutcome {
    pub runs: Vec<RunSummary>,
    pub stop: Stop,
    pub horizon: Horizon,
    /// The watermark when the invocation ended.
    pub watermark: Option<DateTime<Utc>>,
    /// Source rows stamped ahead of the source's clock, per table, in this snapshot.
    pub future: BTreeMap<String, FutureRows>,
    /// Tables to alert about: newly far in the future, and recorded as alerted in the
    /// watermark this invocation wrote (so exactly one invocation alerts).
    pub future_alerts: Vec<String>,
}

impl ExtractOutcome {
    pub fn total_rows(&self) -> u64 {
        self.runs.iter().map(RunSummary::total_rows).sum()
    }
}

/// Runs one extract invocation against `client` (the coordinator, which holds the snapshot),
/// reading through `options.readers` more connections from `source`, writing to `store`.
pub async fn extract(
    client: &mut Client,
    source: &Source<'_>,
    store: &dyn ObjectStore,
    options: &ExtractOptions,
) -> Result<ExtractOutcome, ExtractError> {
    let current = watermark::load(store).await?;
    let previous = current.watermark.clone();

    // The probe must precede the snapshot (see `horizon`): it runs in its own transaction.
    let probe = probe(client).await?;
    let horizon = horizon(&probe);
    log_horizon(&horizon, &probe, options.lookback);

    let tx = readers::read_only_snapshot(client, "opening the snapshot transaction").await?;
    // The first statement takes the snapshot; no row is read before the schema is checked.
    check_drift(&tx, options.tables).await?;
    let previous_future = previous
        .as_ref()
        .map(|w| w.future.clone())
        .unwrap_or_default();
    let mut state = Progress {
        store,
        version: current.version.clone(),
        last_run_id: previous.as_ref().and_then(|w| w.last_run_id.clone()),
        tables: options.tables,
        // Where this invocation starts: the watermark's position, inside a tie or past it.
        watermark: previous.as_ref().map(|w| Position {
            at: w.to,
            tie: w.tie.clone(),
        }),
        held_by: horizon.held_by.clone(),
        future: BTreeMap::new(),
        recorded: false,
        committed: options.committed.as_ref(),
        // With no watermark at all, this is the first load.
        first_load: match &previous {
            None => Some(BTreeMap::new()),
            Some(w) => w.first_load.clone(),
        },
    };
    // The tables to alert about, once a first load has counted this snapshot's future rows.
    let mut alert = None;
    let mut runs = Vec::new();

    if let Some(progress) = state.first_load.clone() {
        // A first load reads up to the horizon of the snapshot it began in, resumed or not:
        // every row stamped at or before it was visible then, and still is.
        let at = previous.as_ref().map_or(horizon.to, |w| w.to);
        let clients = try_join_all((0..options.readers.max(1)).map(|_| source.connect())).await?;
        let (readers, mut cursors) = readers::start(
            &tx,
            clients,
            options.tables,
            &first_load::reads(options.tables, &progress),
            at,
            options.fetch_rows,
        )
        .await?;
        let seen = future_rows(&tx, options.tables, probe.probed_at).await?;
        let counted = state.assess(&seen, &previous_future, options.lookback);
        let details = ExtractDetails {
            horizon_basis: horizon.basis,
            read_from: None,
            lookback_secs: options.lookback.as_secs(),
            held_by: horizon.held_by.clone(),
        };
        let (uploads, queue) = parts::uploads();
        let read = async {
            let read =
                first_load::read(options, &mut cursors, at, &details, &mut state, &uploads).await;
            // The queue closes, and `upload` returns once the last part is written.
            drop(uploads);
            read
        };
        let ((loaded, stop), ()) = tokio::try_join!(read, parts::upload(store, queue))?;
        drop(cursors);
        readers.finish().await;
        runs = loaded;
        let stop = match stop {
            Some(stop) => Some(stop),
            // Complete: what changed after its horizon is a window like any other's.
            None if horizon.to <= at => Some(if runs.is_empty() {
                Stop::NothingNew
            } else {
                Stop::CaughtUp
            }),
            None => None,
        };
        if let Some(stop) = stop {
            tx.commit()
                .await
                .map_err(ExtractError::query("closing the snapshot"))?;
            return Ok(state.outcome(runs, stop, horizon, counted));
        }
        alert = Some(counted);
    }

    let start = state.watermark.clone();
    let from = start.as_ref().map(|s| s.at);
    if let Some(start) = start.as_ref().filter(|s| horizon.to <= s.at) {
        // An open transaction holds the horizon at or behind the watermark: nothing can be
        // read safely yet. Record the check so freshness reporting knows why.
        let seen = future_rows(&tx, options.tables, probe.probed_at).await?;
        let alert = state.assess(&seen, &previous_future, options.lookback);
        let stop = match state.record(start.at, start.tie.clone()).await? {
            Advance::Advanced(_) => Stop::NothingNew,
            Advance::LostRace => Stop::LostRace,
        };
        tx.commit()
            .await
            .map_err(ExtractError::query("closing the snapshot"))?;
        return Ok(state.outcome(runs, stop, horizon, alert));
    }

    let lookback = chrono::Duration::from_std(options.lookback).unwrap_or_default();
    let read_from = from.map(|f| f - lookback);
    let details = ExtractDetails {
        horizon_basis: horizon.basis,
        read_from,
        lookback_secs: options.lookback.as_secs(),
        held_by: horizon.held_by.clone(),
    };

    let reads: Vec<_> = tie::resume(
        options.tables,
        start.as_ref().and_then(|s| s.tie.as_ref()),
        lookback > chrono::Duration::zero(),
    )
    .into_iter()
    .map(|resume| {
        Some(Read::ByTime {
            from: read_from,
            resume,
        })
    })
    .collect();
    let clients = try_join_all((0..options.readers.max(1)).map(|_| source.connect())).await?;
    let (readers, mut cursors) = readers::start(
        &tx,
        clients,
        options.tables,
        &reads,
        horizon.to,
        options.fetch_rows,
    )
    .await?;
    // Counting the future rows takes a scan of every table: the coordinator's connection does
    // it while the readers sort their windows (unless a first load counted them already).
    let (alert, _) = tokio::try_join!(
        async {
            match alert {
                Some(alert) => Ok(alert),
                None => {
                    let seen = future_rows(&tx, options.tables, probe.probed_at).await?;
                    Ok(state.assess(&seen, &previous_future, options.lookback))
                }
            }
        },
        readers::next_cursor(&mut cursors)
    )?;

    let mut run: Option<OpenRun> = None;
    let mut line = Vec::new();
    // Where the next run starts: the watermark's position, then each cut's.
    let mut run_from = start;
    let (uploads, queue) = parts::uploads();
    let merge = async {
        let stop = loop {
            let Some(i) = readers::next_cursor(&mut cursors).await? else {
                // Every portal is drained: the last run reaches the horizon.
                let to = Position {
                    at: horizon.to,
                    tie: None,
                };
                match run.take() {
                    Some(open) => match open
                        .commit(
                            time_window(run_from, &to),
                            to,
                            &details,
                            &mut state,
                            &uploads,
                        )
                        .await?
                    {
                        Some(summary) => runs.push(summary),
                        None => break Stop::LostRace,
                    },
                    None => {
                        if state.record(horizon.to, None).await? == Advance::LostRace {
                            break Stop::LostRace;
                        }
                    }
                }
                break if runs.is_empty() {
                    Stop::NothingNew
                } else {
                    Stop::CaughtUp
                };
            };
            let Some((last_updated, row)) = cursors[i].pop() else {
                continue;
            };
            let open = run.get_or_insert_with(|| OpenRun::new(options));
            line.clear();
            cursors[i]
                .encoder
                .encode(&row, &mut line)
                .map_err(|e| ExtractError::Encode {
                    table: options.tables[i].name,
                    key: row.get(1),
                    column: e.column,
                    reason: e.reason,
                })?;
            open.writers[i].push(&line, &open.run_id, &uploads).await?;
            open.rows += 1;
            if open.rows < options.row_budget {
                continue;
            }
            // The budget is reached: close the run after this row, inside a tie when the next row
            // shares its `last_updated`.
            let Some(next) = readers::next_cursor(&mut cursors).await? else {
                continue;
            };
            // The row's own `last_updated` was just encoded, so it is a finite instant in 1-9999.
            let Some(at) = last_updated.instant() else {
                return Err(ExtractError::Encode {
                    table: options.tables[i].name,
                    key: row.get(1),
                    column: "last_updated",
                    reason: "is not a finite timestamp".to_owned(),
                });
            };
            let to = Position {
                at,
                tie: (cursors[next].peek() == Some(last_updated)).then(|| TiePosition {
                    table: options.tables[i].name.to_owned(),
                    key: row.get::<_, i64>(1),
                }),
            };
            // Rows the lookback re-read, up to the watermark, belong to the first run.
            if run_from
                .as_ref()
                .is_some_and(|f| tie::compare(options.tables, &to, f) != Ordering::Greater)
            {
                continue;
            }
            let Some(open) = run.take() else { continue };
            let Some(summary) = open
                .commit(
                    time_window(run_from.clone(), &to),
                    to.clone(),
                    &details,
                    &mut state,
                    &uploads,
                )
                .await?
            else {
                break Stop::LostRace;
            };
            runs.push(summary);
            run_from = Some(to);
            if options.max_runs.is_some_and(|max| runs.len() >= max) {
                break Stop::RunLimit;
            }
            if options.deadline.is_some_and(|d| Instant::now() >= d) {
                break Stop::Deadline;
            }
        };
        // The queue closes, and `upload` returns once the last part is written.
        drop(uploads);
        Ok::<_, ExtractError>((runs, stop))
    };
    let ((runs, stop), ()) = tokio::try_join!(merge, parts::upload(store, queue))?;
    // Readers stopped early (a deadline, a run limit) see their cursors go and stop too.
    drop(cursors);
    readers.finish().await;
    tx.commit()
        .await
        .map_err(ExtractError::query("closing the snapshot"))?;
    Ok(state.outcome(runs, stop, horizon, alert))
}

/// This snapshot's future rows against the previous watermark's record, each table warned
/// about in the log.
fn assess_future(
    seen: &[Seen],
    previous: &BTreeMap<String, FutureRows>,
    lookback: Duration,
) -> future::Assessment {
    let assessment = future::assess(seen, previous, lookback);
    for (table, rows) in &assessment.future {
        tracing::warn!(
            table,
            rows = rows.rows,
            ahead = %etl_contract::time::human_secs(rows.ahead_secs as f64),
            "source rows are stamped in the future: they are deferred until the source's \
             clock passes their last_updated"
        );
    }
    assessment
}

/// Counts each table's rows stamped ahead of the probe time, in the snapshot.
async fn future_rows(
    tx: &Transaction<'_>,
    tables: &'static [SourceTable],
    probed_at: DateTime<Utc>,
) -> Result<Vec<Seen>, ExtractError> {
    let rows = tx
        .query(&sql::future_rows(tables), &[&probed_at.naive_utc()])
        .await
        .map_err(ExtractError::query("counting rows stamped in the future"))?;
    Ok(rows
        .iter()
        .map(|r| Seen {
            table: r.get(0),
            rows: r.get::<_, i64>(1).max(0) as u64,
            ahead_secs: r.get::<_, f64>(2) as i64,
        })
        .collect())
}

/// Reads other sessions' open transactions, before any snapshot is taken.
async fn probe(client: &Client) -> Result<Probe, ExtractError> {
    let rows = client
        .query(sql::PROBE_SESSIONS, &[])
        .await
        .map_err(ExtractError::query("reading pg_stat_activity"))?;
    let mut probe = Probe::default();
    for row in &rows {
        probe.probed_at = row.get::<_, NaiveDateTime>(0).and_utc();
        let Some(pid) = row.get::<_, Option<i32>>(1) else {
            continue;
        };
        if row.get::<_, Option<bool>>(6) == Some(true) {
            probe.hidden_sessions += 1;
            continue;
        }
        if let Some(started) = row.get::<_, Option<NaiveDateTime>>(4) {
            probe.open_transactions.push(BlockingSession {
                pid,
                user: row.get(2),
                application: row.get(3),
                transaction_started: started.and_utc(),
                state: row.get(5),
            });
        }
    }
    probe
        .open_transactions
        .sort_by_key(|s| s.transaction_started);
    Ok(probe)
}

fn log_horizon(horizon: &Horizon, probe: &Probe, lookback: Duration) {
    if let Some(session) = &horizon.held_by {
        tracing::info!(
            pid = session.pid,
            user = session.user.as_deref().unwrap_or("?"),
            application = session.application.as_deref().unwrap_or("?"),
            state = session.state.as_deref().unwrap_or("?"),
            since = %etl_contract::time::format_micros(session.transaction_started),
            "an open transaction holds the extract horizon back"
        );
    }
    if horizon.basis == HorizonBasis::UnseenSessions {
        tracing::warn!(
            hidden_sessions = probe.hidden_sessions,
            lookback_secs = lookback.as_secs(),
            "the extract role cannot see other sessions' transactions (grant it pg_read_all_stats); \
             rows committed late are caught only by the lookback overlap (ETL_LOOKBACK_SECS)"
        );
    }
}

/// Compares the live source with the catalog; any difference fails the run before it reads.
async fn check_drift(
    tx: &Transaction<'_>,
    tables: &'static [SourceTable],
) -> Result<(), ExtractError> {
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    let rows = tx
        .query(sql::LIVE_COLUMNS, &[&names])
        .await
        .map_err(ExtractError::query("reading the source schema"))?;
    let mut live: BTreeMap<String, Vec<LiveColumn>> = BTreeMap::new();
    for row in rows {
        live.entry(row.get(0)).or_default().push(LiveColumn {
            name: row.get(1),
            data_type: row.get(2),
            udt_name: row.get(3),
            nullable: row.get(4),
            numeric_precision: row.get(5),
            numeric_scale: row.get(6),
            character_maximum_length: row.get(7),
            datetime_precision: row.get(8),
        });
    }
    let differences: Vec<_> = tables
        .iter()
        .flat_map(|t| drift(t, live.get(t.name).map(Vec::as_slice).unwrap_or(&[])))
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(ExtractError::Drift(differences))
    }
}

/// The watermark as this invocation moves it.
pub(crate) struct Progress<'a> {
    store: &'a dyn ObjectStore,
    version: Option<Version>,
    last_run_id: Option<RunId>,
    /// The catalog's order, which is the order within a tie.
    tables: &'static [SourceTable],
    watermark: Option<Position>,
    held_by: Option<BlockingSession>,
    future: BTreeMap<String, FutureRows>,
    /// Whether this invocation wrote the watermark at least once.
    recorded: bool,
    committed: Option<&'a UnboundedSender<RunId>>,
    /// A first load's progress, recorded with the watermark until it is complete (`None`).
    pub first_load: Option<BTreeMap<String, TableProgress>>,
}

impl Progress<'_> {
    /// Takes this snapshot's future rows for the watermark; returns the tables to alert about.
    fn assess(
        &mut self,
        seen: &[Seen],
        previous: &BTreeMap<String, FutureRows>,
        lookback: Duration,
    ) -> Vec<String> {
        let assessment = assess_future(seen, previous, lookback);
        self.future = assessment.future;
        assessment.alert
    }

    fn outcome(
        self,
        runs: Vec<RunSummary>,
        stop: Stop,
        horizon: Horizon,
        alert: Vec<String>,
    ) -> ExtractOutcome {
        ExtractOutcome {
            runs,
            stop,
            horizon,
            watermark: self.watermark.map(|p| p.at),
            // Only the invocation whose watermark recorded the alert sends it.
            future_alerts: if self.recorded { alert } else { Vec::new() },
            future: self.future,
        }
    }

    /// Swaps the watermark to `(to, tie)` (never backwards) with the first load's progress,
    /// recording the check.
    pub(crate) async fn record(
        &mut self,
        to: DateTime<Utc>,
        tie: Option<TiePosition>,
    ) -> Result<Advance, ExtractError> {
        let proposed = Position { at: to, tie };
        let to = match &self.watermark {
            Some(w) if tie::compare(self.tables, w, &proposed) == Ordering::Greater => w.clone(),
            _ => proposed,
        };
        let next = Watermark {
            format: WATERMARK_FORMAT,
            to: to.at,
            tie: to.tie.clone(),
            last_run_id: self.last_run_id.clone(),
            checked_at: Utc::now(),
            held_by: self.held_by.clone(),
            future: self.future.clone(),
            first_load: self.first_load.clone(),
        };
        fail::fail_point!("extract::before_watermark");
        let advance = watermark::advance(self.store, &next, self.version.as_ref()).await?;
        fail::fail_point!("extract::after_watermark");
        match &advance {
            Advance::Advanced(version) => {
                self.version = Some(version.clone());
                self.watermark = Some(to);
                self.recorded = true;
            }
            Advance::LostRace => tracing::warn!(
                "another extract advanced the watermark first: this one stops without advancing it"
            ),
        }
        Ok(advance)
    }
}

/// The window of a run read in time order, from one position to the next.
fn time_window(from: Option<Position>, to: &Position) -> Window {
    Window {
        from: from.as_ref().map(|f| f.at),
        from_tie: from.and_then(|f| f.tie),
        to: to.at,
        to_tie: to.tie.clone(),
        keys: None,
    }
}

/// A run being written.
pub(crate) struct OpenRun {
    pub run_id: RunId,
    started: Instant,
    pub writers: Vec<PartWriter>,
    pub rows: u64,
}

impl OpenRun {
    pub(crate) fn new(options: &ExtractOptions) -> Self {
        OpenRun {
            run_id: RunId::new(Utc::now()),
            started: Instant::now(),
            writers: options
                .tables
                .iter()
                .map(|t| PartWriter::new(t.name, options.part_max_bytes))
                .collect(),
            rows: 0,
        }
    }

    /// Flushes the parts, writes the manifest of `window` (the commit point), then advances
    /// the watermark to `to`. `None` when another extract advanced the watermark first.
    pub(crate) async fn commit(
        self,
        window: Window,
        to: Position,
        details: &ExtractDetails,
        progress: &mut Progress<'_>,
        uploads: &Uploads,
    ) -> Result<Option<RunSummary>, ExtractError> {
        let store = progress.store;
        let mut tables = BTreeMap::new();
        for writer in self.writers {
            let table = writer.table();
            let files = writer.finish(&self.run_id, uploads).await?;
            if files.rows > 0 {
                tables.insert(table.to_string(), files);
            }
        }
        // The manifest is the commit point: every part it names must be in the store first.
        uploads.written().await?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            run_id: self.run_id.clone(),
            stage: Stage::Extract,
            created_at: Utc::now(),
            window,
            tables,
            extract: Some(details.clone()),
            source: None,
        };
        let key = manifest_key(&self.run_id);
        fail::fail_point!("extract::before_manifest");
        match store
            .put_if_absent(&key, manifest.to_json().into())
            .await
            .map_err(|source| ExtractError::Store {
                key: key.clone(),
                source,
            })? {
            PutOutcome::Written(_) => {}
            PutOutcome::ConditionFailed => return Err(ExtractError::ManifestExists { key }),
        }
        fail::fail_point!("extract::after_manifest");
        if let Some(committed) = progress.committed {
            // A consumer that went away has stopped taking runs; they stay pending.
            let _ = committed.send(self.run_id.clone());
        }
        progress.last_run_id = Some(self.run_id.clone());
        if progress.record(to.at, to.tie).await? == Advance::LostRace {
            return Ok(None);
        }
        let summary = RunSummary {
            run_id: self.run_id,
            manifest_key: key,
            window: manifest.window.clone(),
            rows: manifest
                .tables
                .iter()
                .map(|(t, f)| (t.clone(), f.rows))
                .collect(),
            bytes: manifest.total_bytes(),
            elapsed: self.started.elapsed(),
        };
        tracing::info!(
            run_id = %summary.run_id,
            rows = summary.total_rows(),
            bytes = summary.bytes,
            from = summary.window.from.map(etl_contract::time::format_micros).unwrap_or_default(),
            to = %etl_contract::time::format_micros(summary.window.to),
            inside_a_tie = summary.window.to_tie.is_some(),
            secs = summary.elapsed.as_secs_f64(),
            "extract run committed"
        );
        Ok(Some(summary))
    }
}
