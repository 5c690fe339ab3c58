//! Quarantine: where a stage puts an input it cannot process, so that the run stops being
//! retried, the evidence is kept, and later runs go on. `quarantine/<run_id>/<stage>/` holds a
//! copy of every input object (under its original key) and `error.txt`. Replaying the run after
//! a fix clears the record.

use bytes::Bytes;

use crate::layout::{QUARANTINE_PREFIX, RunId};
use crate::manifest::Stage;
use crate::store::{ObjectStore, StoreError};

/// The folder of a stage's quarantine record for a run.
pub fn prefix(run_id: &RunId, stage: Stage) -> String {
    format!("{QUARANTINE_PREFIX}{run_id}/{stage}/")
}

/// The key of the error text of a stage's quarantine record.
pub fn error_key(run_id: &RunId, stage: Stage) -> String {
    format!("{}error.txt", prefix(run_id, stage))
}

/// Copies `keys` (those that exist) from `from` into the quarantine folder in `to`, then writes
/// the error text, which marks the run as quarantined. Returns the folder.
pub async fn record(
    from: &dyn ObjectStore,
    keys: &[String],
    to: &dyn ObjectStore,
    run_id: &RunId,
    stage: Stage,
    error: &str,
) -> Result<String, StoreError> {
    let folder = prefix(run_id, stage);
    for key in keys {
        if let Some(object) = from.get(key).await? {
            to.put(&format!("{folder}input/{key}"), object.bytes)
                .await?;
        }
    }
    to.put(
        &error_key(run_id, stage),
        Bytes::from(format!("{stage} of run {run_id} failed: {error}\n")),
    )
    .await?;
    tracing::error!(%run_id, %stage, error, quarantine = %folder, "run quarantined");
    Ok(folder)
}

/// The error text of the run's quarantine record, if it has one.
pub async fn error_of(
    store: &dyn ObjectStore,
    run_id: &RunId,
    stage: Stage,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .get(&error_key(run_id, stage))
        .await?
        .map(|o| String::from_utf8_lossy(&o.bytes).into_owned()))
}

/// Removes the run's quarantine record (before a replay).
pub async fn clear(
    store: &dyn ObjectStore,
    run_id: &RunId,
    stage: Stage,
) -> Result<(), StoreError> {
    for key in store.list(&prefix(run_id, stage)).await? {
        store.delete(&key).await?;
    }
    Ok(())
}
