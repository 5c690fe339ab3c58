//! The first load: every row stamped at or before the first snapshot's horizon, read table by
//! table in primary-key order instead of in `(last_updated, table, primary key)` order.
//!
//! A window in time order costs Postgres a sort of each table, spilled to disk at scale, before
//! the first row arrives; a first load holds every row, so it reads along each primary key's
//! index instead, which needs no sort. The tables are taken a batch at a time in turn
//! (`readers::next_in_turn`), so every reader keeps fetching, and the runs depend only on the
//! batches, not on the number of readers. Runs are cut at `row_budget` rows, anywhere.
//!
//! Progress is per table: the watermark keeps the first snapshot's horizon in `to` and, in
//! `first_load`, the last key landed of each table (or that it is done). An invocation that
//! resumes a first load (after a deadline or a crash) takes a snapshot of its own but reads only
//! up to that horizon and above those keys: every row stamped at or before the horizon was
//! visible when it was chosen (`crate::horizon`), and a row changed since is stamped after it
//! and comes with the window that follows. When every table is done, the watermark drops
//! `first_load` and the next window starts at the horizon.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use etl_adapters::watermark::Advance;
use etl_contract::catalog::SourceTable;
use etl_contract::manifest::{ExtractDetails, KeyRange, Window};
use etl_contract::watermark::TableProgress;
use tokio::time::Instant;

use crate::error::ExtractError;
use crate::parts::Uploads;
use crate::readers::{self, Cursor, Read};
use crate::run::{ExtractOptions, OpenRun, Progress, RunSummary, Stop};
use crate::tie::Position;

/// What to read of each table (in `tables` order) to go on from `progress`.
pub(crate) fn reads(
    tables: &[SourceTable],
    progress: &BTreeMap<String, TableProgress>,
) -> Vec<Option<Read>> {
    tables
        .iter()
        .map(|t| match progress.get(t.name) {
            None => Some(Read::ByKey { after: None }),
            Some(TableProgress::Through(key)) => Some(Read::ByKey { after: Some(*key) }),
            Some(TableProgress::Done) => None,
        })
        .collect()
}

/// Reads `cursors` (started with [`reads`]) into runs, each committed with the first load's
/// progress. The stop when the invocation stops early; `None` when the first load is complete:
/// the watermark is then `at`, with no position and no `first_load`.
pub(crate) async fn read(
    options: &ExtractOptions,
    cursors: &mut [Cursor],
    at: DateTime<Utc>,
    details: &ExtractDetails,
    state: &mut Progress<'_>,
    uploads: &Uploads,
) -> Result<(Vec<RunSummary>, Option<Stop>), ExtractError> {
    let mut progress = state.first_load.clone().unwrap_or_default();
    // Per table, the last key in the runs committed and in the open run.
    let mut landed: Vec<Option<i64>> = options
        .tables
        .iter()
        .map(|t| match progress.get(t.name) {
            Some(TableProgress::Through(key)) => Some(*key),
            _ => None,
        })
        .collect();
    let mut written = landed.clone();
    let mut runs = Vec::new();
    let mut run: Option<OpenRun> = None;
    let mut line = Vec::new();
    // The turn passes before a batch is taken: the first table's batch comes first.
    let mut turn = cursors.len().saturating_sub(1);
    let mark = Position { at, tie: None };
    loop {
        if let Some(i) = readers::next_in_turn(cursors, &mut turn).await? {
            let Some((_, row)) = cursors[i].pop() else {
                continue;
            };
            let open = run.get_or_insert_with(|| OpenRun::new(options));
            line.clear();
            let key: i64 = row.get(1);
            cursors[i]
                .encoder
                .encode(&row, &mut line)
                .map_err(|e| ExtractError::Encode {
                    table: options.tables[i].name,
                    key,
                    column: e.column,
                    reason: e.reason,
                })?;
            open.writers[i].push(&line, &open.run_id, uploads).await?;
            open.rows += 1;
            written[i] = Some(key);
            if open.rows < options.row_budget {
                continue;
            }
        }
        // A run is full, or every table is read: commit what is open.
        for (i, table) in options.tables.iter().enumerate() {
            if cursors[i].is_done() {
                progress.insert(table.name.to_owned(), TableProgress::Done);
            } else if let Some(key) = written[i] {
                progress.insert(table.name.to_owned(), TableProgress::Through(key));
            }
        }
        let complete = cursors.iter().all(Cursor::is_done);
        state.first_load = (!complete).then(|| progress.clone());
        let advanced = match run.take() {
            Some(open) => {
                let keys = options
                    .tables
                    .iter()
                    .enumerate()
                    .filter_map(|(i, table)| {
                        let last = written[i].filter(|_| written[i] != landed[i])?;
                        let range = KeyRange {
                            after: landed[i],
                            last,
                        };
                        Some((table.name.to_owned(), range))
                    })
                    .collect();
                let window = Window {
                    from: None,
                    from_tie: None,
                    to: at,
                    to_tie: None,
                    keys: Some(keys),
                };
                match open
                    .commit(window, mark.clone(), details, state, uploads)
                    .await?
                {
                    Some(summary) => {
                        runs.push(summary);
                        true
                    }
                    None => false,
                }
            }
            // Nothing left to land: the watermark records the first load complete.
            None => matches!(state.record(at, None).await?, Advance::Advanced(_)),
        };
        if !advanced {
            return Ok((runs, Some(Stop::LostRace)));
        }
        landed.clone_from(&written);
        if complete {
            return Ok((runs, None));
        }
        if options.max_runs.is_some_and(|max| runs.len() >= max) {
            return Ok((runs, Some(Stop::RunLimit)));
        }
        if options.deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok((runs, Some(Stop::Deadline)));
        }
    }
}
