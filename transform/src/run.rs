//! One transform run: a landing manifest in, Parquet per warehouse table and a processed
//! manifest out (the manifest last: it is the commit point load is triggered by).
//!
//! The output is a function of the landing run and the merged snapshots only: transforming the
//! same manifest again writes the same keys with the same bytes. An input that cannot be trusted
//! (missing or altered file, malformed line, bad value) is a permanent error: the run's inputs
//! are copied under `quarantine/<run_id>/` in the processed store with the error text, no
//! processed manifest is written, and later runs go on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use etl_adapters::quarantine;
use etl_adapters::store::ObjectStore;
use etl_contract::catalog::source_table;
use etl_contract::landing::decode_part;
use etl_contract::layout::{
    MANIFESTS_PREFIX, RunId, manifest_key, processed_table_key, run_id_of_manifest_key,
};
use etl_contract::manifest::{
    MANIFEST_FORMAT, Manifest, Part, SourceRun, Stage, TableFiles, sha256_hex,
};
use etl_contract::warehouse::{
    Grain, TableKind, WAREHOUSE_TABLES, WarehouseType, current_state_tables, warehouse_table,
};
use etl_contract::{Classify, Disposition};
use polars::prelude::DataFrame;

use crate::error::TransformError;
use crate::model;
use crate::parquet_out::to_parquet;
use crate::read::SourceRows;
use crate::state::{self, RowVersion, Snapshot};

/// What a transform run wrote.
#[derive(Debug, Clone)]
pub struct TransformOutcome {
    pub run_id: RunId,
    pub manifest_key: String,
    pub input_rows: u64,
    pub rows: BTreeMap<String, u64>,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Transforms landing run `run_id`; quarantines its inputs when they are what failed.
pub async fn transform_run(
    run_id: &RunId,
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> Result<TransformOutcome, TransformError> {
    match transform(run_id, landing, processed).await {
        Err(error) if error.disposition() == Disposition::QuarantineInput => {
            if let Err(quarantine_error) = quarantine(run_id, &error, landing, processed).await {
                tracing::error!(%run_id, error = %quarantine_error, "could not quarantine the run");
            }
            Err(error)
        }
        other => other,
    }
}

/// Landing runs with neither a processed manifest nor a quarantine record, oldest first.
pub async fn pending_runs(
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> Result<Vec<RunId>, TransformError> {
    let done: BTreeSet<RunId> = processed
        .list(MANIFESTS_PREFIX)
        .await
        .map_err(TransformError::store(MANIFESTS_PREFIX))?
        .iter()
        .filter_map(|k| run_id_of_manifest_key(k))
        .collect();
    let mut pending = Vec::new();
    for key in landing
        .list(MANIFESTS_PREFIX)
        .await
        .map_err(TransformError::store(MANIFESTS_PREFIX))?
    {
        let Some(run_id) = run_id_of_manifest_key(&key) else {
            continue;
        };
        if done.contains(&run_id) || is_quarantined(&run_id, processed).await? {
            continue;
        }
        pending.push(run_id);
    }
    Ok(pending)
}

/// Whether the run's inputs were quarantined by transform.
pub async fn is_quarantined(
    run_id: &RunId,
    processed: &dyn ObjectStore,
) -> Result<bool, TransformError> {
    let key = quarantine::error_key(run_id, Stage::Transform);
    Ok(quarantine::error_of(processed, run_id, Stage::Transform)
        .await
        .map_err(TransformError::store(&key))?
        .is_some())
}

async fn transform(
    run_id: &RunId,
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> Result<TransformOutcome, TransformError> {
    let started = Instant::now();
    let key = manifest_key(run_id);
    let manifest_bytes = landing
        .get(&key)
        .await
        .map_err(TransformError::store(&key))?
        .ok_or_else(|| TransformError::ManifestMissing { key: key.clone() })?
        .bytes;
    let manifest = Manifest::from_json(&key, &manifest_bytes)?;

    // I/O is async; parsing, polars and Parquet encoding run on the blocking pool (polars
    // blocks in place, which a current-thread runtime's worker must not do).
    let parts = fetch_parts(&manifest, landing).await?;
    let run = manifest.clone();
    let (frames, changed) = blocking(move || parse_run(&run, parts)).await?;
    let input_rows = manifest.total_rows();

    // Merge the run into the snapshots (those it does not touch are only read).
    let mut snapshots: BTreeMap<&'static str, Snapshot> = BTreeMap::new();
    for table in current_state_tables() {
        let snapshot = match changed.get(table) {
            Some(rows) => state::merge_and_save(processed, table, rows).await?,
            None => state::load(processed, table).await?,
        };
        snapshots.insert(table, snapshot);
    }

    let encoded = blocking(move || {
        let mut snapshot_frames = BTreeMap::new();
        for (table, snapshot) in &snapshots {
            snapshot_frames.insert(*table, snapshot_frame(snapshot, table)?);
        }
        let outputs = build_outputs(&frames, &snapshot_frames)?;
        outputs
            .iter()
            .filter_map(|(name, frame)| warehouse_table(name).map(|t| (t, frame)))
            .map(|(table, frame)| {
                Ok((table.name, frame.height() as u64, to_parquet(table, frame)?))
            })
            .collect::<Result<Vec<_>, TransformError>>()
    })
    .await?;

    let mut tables = BTreeMap::new();
    for (name, rows, bytes) in encoded {
        let key = processed_table_key(name, run_id);
        let part = Part::describe(key.clone(), rows, &bytes);
        processed
            .put(&key, Bytes::from(bytes))
            .await
            .map_err(TransformError::store(&key))?;
        fail::fail_point!("transform::after_parquet");
        tables.insert(
            name.to_string(),
            TableFiles {
                rows: part.rows,
                parts: vec![part],
            },
        );
    }
    let output = Manifest {
        format: MANIFEST_FORMAT,
        run_id: run_id.clone(),
        stage: Stage::Transform,
        // The extract time, not now: the same input always gives the same manifest bytes.
        created_at: manifest.created_at,
        window: manifest.window,
        tables,
        extract: None,
        source: Some(SourceRun {
            run_id: run_id.clone(),
            manifest_sha256: sha256_hex(&manifest_bytes),
        }),
    };
    fail::fail_point!("transform::before_manifest");
    processed
        .put(&key, output.to_json().into())
        .await
        .map_err(TransformError::store(&key))?;
    fail::fail_point!("transform::after_manifest");
    let outcome = TransformOutcome {
        run_id: run_id.clone(),
        manifest_key: key,
        input_rows,
        rows: output
            .tables
            .iter()
            .map(|(t, f)| (t.clone(), f.rows))
            .collect(),
        bytes: output.total_bytes(),
        elapsed: started.elapsed(),
    };
    tracing::info!(
        run_id = %run_id,
        input_rows,
        output_rows = outcome.rows.values().sum::<u64>(),
        bytes = outcome.bytes,
        secs = outcome.elapsed.as_secs_f64(),
        "transform run committed"
    );
    Ok(outcome)
}

type Frames = BTreeMap<&'static str, DataFrame>;
type Changed = BTreeMap<&'static str, Vec<RowVersion>>;

/// Fetches and verifies every part the manifest lists, by table.
async fn fetch_parts(
    manifest: &Manifest,
    landing: &dyn ObjectStore,
) -> Result<Vec<(String, Vec<(Part, Bytes)>)>, TransformError> {
    let mut tables = Vec::new();
    for (name, files) in &manifest.tables {
        let mut parts = Vec::new();
        for part in &files.parts {
            parts.push((part.clone(), read_part(part, landing).await?));
        }
        tables.push((name.clone(), parts));
    }
    Ok(tables)
}

/// Parses verified parts into typed frames; also returns the row versions of the snapshot
/// tables.
fn parse_run(
    manifest: &Manifest,
    parts: Vec<(String, Vec<(Part, Bytes)>)>,
) -> Result<(Frames, Changed), TransformError> {
    let mut frames = BTreeMap::new();
    let mut changed: Changed = BTreeMap::new();
    let snapshot_tables = current_state_tables();
    for (name, table_parts) in parts {
        let table = source_table(&name).ok_or_else(|| TransformError::BadValue {
            key: manifest_key(&manifest.run_id),
            line: 0,
            column: None,
            row: None,
            reason: format!("the manifest names {name:?}, which is not a totesys table"),
        })?;
        let keeps_snapshot = snapshot_tables.contains(&table.name);
        let mut rows = SourceRows::new(table);
        for (part, stored) in &table_parts {
            // One part decoded at a time: the run is held compressed.
            let key = &part.key;
            let bytes = decode_part(key, stored)?;
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
            part.check_count("the row count", part.rows, lines)?;
            let text = std::str::from_utf8(&bytes).map_err(|e| TransformError::BadValue {
                key: key.clone(),
                line: 0,
                column: None,
                row: None,
                reason: format!("not UTF-8: {e}"),
            })?;
            for (i, line) in text.lines().enumerate() {
                rows.push_line(key, i as u64 + 1, line)?;
                if keeps_snapshot && let Some(version) = state::version_of(table.name, line) {
                    changed.entry(table.name).or_default().push(version);
                }
            }
        }
        let expected = manifest.tables.get(&name).map_or(0, |f| f.rows);
        if rows.len() as u64 != expected {
            return Err(TransformError::PartMismatch(
                etl_contract::manifest::PartMismatch {
                    key: manifest_key(&manifest.run_id),
                    what: "the row count of table",
                    expected: expected.to_string(),
                    found: format!("{} ({name})", rows.len()),
                },
            ));
        }
        frames.insert(table.name, rows.into_frame()?);
    }
    Ok((frames, changed))
}

/// Runs CPU-bound work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TransformError> + Send + 'static,
) -> Result<T, TransformError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TransformError::Parquet {
            table: "-",
            reason: format!("the transform worker failed: {e}"),
        })?
}

/// A part's stored bytes, after checking their size and sha256 against the manifest (its rows
/// are counted once decoded, in [`parse_run`]).
async fn read_part(part: &Part, landing: &dyn ObjectStore) -> Result<Bytes, TransformError> {
    let bytes = landing
        .get(&part.key)
        .await
        .map_err(TransformError::store(&part.key))?
        .ok_or_else(|| TransformError::PartMissing {
            key: part.key.clone(),
        })?
        .bytes;
    part.check(&bytes)?;
    Ok(bytes)
}

fn snapshot_frame(snapshot: &Snapshot, table: &'static str) -> Result<DataFrame, TransformError> {
    snapshot.frame(table, &state::snapshot_key(table))
}

/// Every warehouse table the run touches, by name, each derived as its catalog entry says.
fn build_outputs(
    frames: &Frames,
    snapshots: &BTreeMap<&'static str, DataFrame>,
) -> Result<BTreeMap<&'static str, DataFrame>, TransformError> {
    let mut out: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
    let snapshot = |t: &'static str| snapshots.get(t).cloned().unwrap_or_default();
    // The keys of the run's rows of a source table.
    let ids = |t: &'static str| -> Result<Vec<i32>, TransformError> {
        match frames.get(t) {
            Some(frame) => model::int_values(frame, model::primary_key(t), t),
            None => Ok(Vec::new()),
        }
    };
    for table in &WAREHOUSE_TABLES {
        let frame = match table.grain {
            Grain::Fact { source } | Grain::Rows { source } => match frames.get(source) {
                Some(frame) => model::rows(table, frame)?,
                None => continue,
            },
            // The run's own rows plus every row whose parent changed.
            Grain::Current { source, parent } => {
                let key = model::primary_key(source);
                let mut wanted = ids(source)?;
                if let Some(parent) = parent {
                    wanted.extend(model::ids_referring_to(
                        &snapshot(source),
                        key,
                        parent.via,
                        &ids(parent.table)?,
                        table.name,
                    )?);
                    wanted.sort_unstable();
                    wanted.dedup();
                }
                if wanted.is_empty() {
                    continue;
                }
                let parent_rows = parent.map(|p| (p, snapshot(p.table)));
                let parent = parent_rows.as_ref().map(|(p, rows)| (*p, rows));
                model::current(table, key, &snapshot(source), parent, &wanted)?
            }
            Grain::Calendar => continue,
        };
        out.insert(table.name, frame);
    }

    // The calendar rows every emitted fact points at.
    let mut days = BTreeSet::new();
    for table in WAREHOUSE_TABLES
        .iter()
        .filter(|t| t.kind == TableKind::Fact)
    {
        let Some(frame) = out.get(table.name) else {
            continue;
        };
        for column in table.columns.iter().filter(|c| c.ty == WarehouseType::Date) {
            days.extend(model::int_values(frame, column.name, table.name)?);
        }
    }
    if !days.is_empty() {
        let days: Vec<i32> = days.into_iter().collect();
        for table in WAREHOUSE_TABLES
            .iter()
            .filter(|t| t.grain == Grain::Calendar)
        {
            out.insert(table.name, model::calendar(table, &days)?);
        }
    }
    out.retain(|_, frame| frame.height() > 0);
    Ok(out)
}

/// Copies the run's landing manifest and the parts it names into the quarantine record, with
/// the error text.
async fn quarantine(
    run_id: &RunId,
    error: &TransformError,
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> Result<(), TransformError> {
    let key = manifest_key(run_id);
    let mut keys = vec![key.clone()];
    if let Some(object) = landing
        .get(&key)
        .await
        .map_err(TransformError::store(&key))?
        && let Ok(manifest) = Manifest::from_json(&key, &object.bytes)
    {
        keys.extend(
            manifest
                .tables
                .values()
                .flat_map(|t| t.parts.iter().map(|p| p.key.clone())),
        );
    }
    quarantine::record(
        landing,
        &keys,
        processed,
        run_id,
        Stage::Transform,
        &error.to_string(),
    )
    .await
    .map_err(TransformError::store(&key))?;
    Ok(())
}

/// The one way to drive transform (docs/architecture.md §1): the Lambda passes the runs its
/// event announces, `etl run` the pending ones, `etl replay` the one it was given, and tests
/// any. Transforms each run in turn and returns every outcome; reporting them is the caller's
/// (`etl_adapters::report::report_runs`).
pub async fn process(
    runs: &[RunId],
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> Vec<(RunId, Result<TransformOutcome, TransformError>)> {
    let mut results = Vec::new();
    for run_id in runs.iter().cloned() {
        // A redelivered event for a quarantined run (Lambda's retries) must neither redo the
        // work nor alert again; it still fails, so the event reaches the on-failure destination.
        let quarantined = quarantine::error_of(processed, &run_id, Stage::Transform)
            .await
            .map_err(TransformError::store(&quarantine::error_key(
                &run_id,
                Stage::Transform,
            )));
        let result = match quarantined {
            Ok(Some(error)) => Err(TransformError::Quarantined {
                run_id: run_id.to_string(),
                error: error.trim().to_owned(),
            }),
            Ok(None) => transform_run(&run_id, landing, processed).await,
            Err(e) => Err(e),
        };
        results.push((run_id, result));
    }
    results
}
