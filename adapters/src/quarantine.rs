//! Quarantine: where a stage puts an input it cannot process, so that the run stops being
//! retried, the evidence is kept, and later runs go on. `quarantine/<run_id>/<stage>/` holds a
//! copy of every input object (under its original key), `error.txt` (written last: it is what
//! marks the run as quarantined) and, once the Lambda has published the run's alert, `alerted`.
//! Replaying the run after a fix clears the record.
//!
//! The alert is at least once: a crash after the record and before the alert leaves no
//! `alerted`, so the redelivered event alerts; a crash between publishing and writing `alerted`
//! alerts twice. A run is never quarantined silently.

use bytes::Bytes;

use crate::store::{ObjectStore, StoreError};
use etl_contract::layout::{QUARANTINE_PREFIX, RunId};
use etl_contract::manifest::Stage;

/// The folder of a stage's quarantine record for a run.
pub fn prefix(run_id: &RunId, stage: Stage) -> String {
    format!("{QUARANTINE_PREFIX}{run_id}/{stage}/")
}

/// The key of the error text of a stage's quarantine record.
pub fn error_key(run_id: &RunId, stage: Stage) -> String {
    format!("{}error.txt", prefix(run_id, stage))
}

/// The key that says the run's alert was published.
pub fn alerted_key(run_id: &RunId, stage: Stage) -> String {
    format!("{}alerted", prefix(run_id, stage))
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
    fail::fail_point!("quarantine::before_copy");
    for key in keys {
        if let Some(object) = from.get(key).await? {
            to.put(&format!("{folder}input/{key}"), object.bytes)
                .await?;
        }
    }
    fail::fail_point!("quarantine::before_error_text");
    to.put(
        &error_key(run_id, stage),
        Bytes::from(format!("{stage} of run {run_id} failed: {error}\n")),
    )
    .await?;
    tracing::error!(%run_id, %stage, error, quarantine = %folder, "run quarantined");
    fail::fail_point!("quarantine::after_error_text");
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

/// Whether the run's alert was published (by an earlier delivery of its event).
pub async fn was_alerted(
    store: &dyn ObjectStore,
    run_id: &RunId,
    stage: Stage,
) -> Result<bool, StoreError> {
    Ok(store.get(&alerted_key(run_id, stage)).await?.is_some())
}

/// Records that the run's alert was published, so redeliveries do not publish it again.
pub async fn mark_alerted(
    store: &dyn ObjectStore,
    run_id: &RunId,
    stage: Stage,
) -> Result<(), StoreError> {
    store
        .put(
            &alerted_key(run_id, stage),
            Bytes::from_static(b"alerted\n"),
        )
        .await
        .map(|_| ())
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
