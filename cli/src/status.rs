//! `etl status`: how fresh the warehouse is and what is in flight, from the stores and the
//! warehouse ledger (the same sources of truth the stages use).

use chrono::{DateTime, Utc};
use etl_shared::layout::{MANIFESTS_PREFIX, QUARANTINE_PREFIX, RunId};
use etl_shared::manifest::{BlockingSession, Manifest};
use etl_shared::store::ObjectStore;
use etl_shared::watermark;
use serde::Serialize;

use crate::local::Local;

/// How many recent runs per stage are shown.
const RECENT: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct RunLine {
    pub run_id: String,
    pub rows: u64,
    pub bytes: u64,
    /// When the run was extracted (extract, transform) or loaded (load).
    pub at: String,
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
    pub quarantined: Vec<Quarantined>,
}

async fn manifests(store: &dyn ObjectStore) -> anyhow::Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for key in store.list(MANIFESTS_PREFIX).await? {
        if let Some(object) = store.get(&key).await? {
            out.push(Manifest::from_json(&key, &object.bytes)?);
        }
    }
    Ok(out)
}

fn line(m: &Manifest) -> RunLine {
    RunLine {
        run_id: m.run_id.to_string(),
        rows: m.total_rows(),
        bytes: m.total_bytes(),
        at: etl_shared::time::format_micros(m.created_at),
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

/// Gathers the status. The warehouse part is left empty when no warehouse is configured.
pub async fn status(local: &Local) -> anyhow::Result<Status> {
    let landing = local.landing.as_ref();
    let processed = local.processed.as_ref();
    let mark = watermark::load(landing).await?.watermark;
    let now = Utc::now();
    let extracted = manifests(landing).await?;
    let transformed = manifests(processed).await?;
    let transformed_ids: Vec<&RunId> = transformed.iter().map(|m| &m.run_id).collect();
    let quarantined = quarantined(processed).await?;
    let is_quarantined = |run: &RunId, stage: &str| {
        quarantined
            .iter()
            .any(|q| q.run_id == run.as_str() && q.stage == stage)
    };

    let (load, loaded_ids) = match &local.config.warehouse {
        Some(_) => {
            let client = local.warehouse_read_only().await?;
            // A warehouse nothing has loaded into yet has no ledger: it is shown as such, not
            // migrated into existence by a command that only looks.
            let has_ledger: bool = client
                .query_one("SELECT to_regclass('etl_load_ledger') IS NOT NULL", &[])
                .await?
                .get(0);
            let rows = if has_ledger {
                client
                    .query(
                        "SELECT run_id, (SELECT coalesce(sum(value::bigint), 0) FROM jsonb_each_text(rows))::bigint, loaded_at \
                         FROM etl_load_ledger ORDER BY run_id",
                        &[],
                    )
                    .await?
            } else {
                Vec::new()
            };
            let lines: Vec<RunLine> = rows
                .iter()
                .map(|r| RunLine {
                    run_id: r.get(0),
                    rows: r.get::<_, i64>(1) as u64,
                    bytes: 0,
                    at: etl_shared::time::format_micros(r.get::<_, DateTime<Utc>>(2)),
                })
                .collect();
            let ids: Vec<String> = lines.iter().map(|l| l.run_id.clone()).collect();
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
    let pending_load = match &loaded_ids {
        Some(loaded) => transformed
            .iter()
            .map(|m| &m.run_id)
            .filter(|id| !loaded.iter().any(|l| l == id.as_str()) && !is_quarantined(id, "load"))
            .map(ToString::to_string)
            .collect(),
        None => Vec::new(),
    };
    Ok(Status {
        watermark: mark.as_ref().map(|w| etl_shared::time::format_micros(w.to)),
        lag_secs: mark
            .as_ref()
            .map(|w| (now - w.to).num_milliseconds() as f64 / 1000.0),
        last_checked: mark
            .as_ref()
            .map(|w| etl_shared::time::format_micros(w.checked_at)),
        held_by: mark.and_then(|w| w.held_by),
        extract: recent(extracted.iter().map(line).collect()),
        transform: recent(transformed.iter().map(line).collect()),
        load: recent(load),
        pending_transform,
        pending_load,
        quarantined,
    })
}

/// Prints the status for a person.
pub fn print(status: &Status) {
    match (&status.watermark, status.lag_secs) {
        (Some(mark), Some(lag)) => println!("watermark {mark}  (lag {lag:.1}s)"),
        _ => println!("watermark none: nothing extracted yet"),
    }
    if let Some(s) = &status.held_by {
        println!(
            "held back by pid {} ({}, {}) in a transaction since {}",
            s.pid,
            s.user.as_deref().unwrap_or("?"),
            s.application.as_deref().unwrap_or("?"),
            etl_shared::time::format_micros(s.transaction_started)
        );
    }
    for (stage, lines) in [
        ("extract", &status.extract),
        ("transform", &status.transform),
        ("load", &status.load),
    ] {
        for l in lines {
            println!("{stage:<9} {}  rows {:>9}  at {}", l.run_id, l.rows, l.at);
        }
    }
    println!(
        "pending: {} to transform, {} to load",
        status.pending_transform.len(),
        status.pending_load.len()
    );
    for q in &status.quarantined {
        println!("quarantined {} ({}): {}", q.run_id, q.stage, q.error);
    }
}
