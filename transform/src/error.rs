//! What can go wrong in a transform run. Input errors name the file, line and column and
//! quarantine the input; losing the snapshot race retries the run; polars and Parquet errors are
//! our bugs and never blame the input.

use etl_adapters::store::StoreError;
use etl_contract::manifest::ManifestError;
use etl_contract::{Classify, Disposition};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TransformError {
    #[error("landing manifest {key} does not exist")]
    ManifestMissing { key: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{key} is named by the manifest but does not exist")]
    PartMissing { key: String },
    #[error(transparent)]
    PartMismatch(#[from] etl_contract::manifest::PartMismatch),
    #[error(transparent)]
    PartUnreadable(#[from] etl_contract::landing::PartCodecError),
    /// A line of a landing part that cannot be read. Its position (line, column) and the row's
    /// primary key say where; `reason` never quotes a value (alerts reach inboxes).
    #[error(
        "{key} line {line}{}: {reason}{}",
        column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default(),
        row.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    BadValue {
        key: String,
        line: u64,
        column: Option<String>,
        /// `<primary key> <id>`, when the line has a readable one.
        row: Option<String>,
        reason: String,
    },
    #[error(
        "currency_id {currency_id} has code {code:?}, which is not an ISO 4217 code this build knows: \
         add it to transform/src/currency.rs"
    )]
    UnknownCurrency { currency_id: i32, code: String },
    #[error("building {table}: {source}")]
    Frame {
        table: &'static str,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("writing Parquet for {table}: {reason}")]
    Parquet { table: &'static str, reason: String },
    #[error(
        "the transform state {key} is unreadable ({reason}): delete it to rebuild from a replay of all runs"
    )]
    StateCorrupt { key: String, reason: String },
    #[error(
        "could not save the transform state {key}: {attempts} concurrent transforms saved it \
         first; the run is retried"
    )]
    StateContended { key: String, attempts: usize },
    #[error(
        "run {run_id} was quarantined by an earlier attempt ({error}): fix the cause, then \
         `etl replay {run_id} --stage transform`"
    )]
    Quarantined { run_id: String, error: String },
    #[error("object store, {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: StoreError,
    },
}

impl TransformError {
    pub(crate) fn store(key: &str) -> impl FnOnce(StoreError) -> Self + '_ {
        move |source| TransformError::Store {
            key: key.to_owned(),
            source,
        }
    }

    pub(crate) fn frame(table: &'static str) -> impl FnOnce(polars::error::PolarsError) -> Self {
        move |source| TransformError::Frame { table, source }
    }
}

impl Classify for TransformError {
    fn disposition(&self) -> Disposition {
        match self {
            TransformError::Store { source, .. } => source.disposition(),
            TransformError::PartUnreadable(e) => e.disposition(),
            TransformError::ManifestMissing { .. }
            | TransformError::Manifest(_)
            | TransformError::PartMissing { .. }
            | TransformError::PartMismatch(_)
            | TransformError::BadValue { .. }
            | TransformError::UnknownCurrency { .. }
            | TransformError::Quarantined { .. } => Disposition::QuarantineInput,
            TransformError::StateContended { .. } => Disposition::RetryRunLater,
            TransformError::Frame { .. }
            | TransformError::Parquet { .. }
            | TransformError::StateCorrupt { .. } => Disposition::Fail,
        }
    }
}
