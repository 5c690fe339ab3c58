//! What can go wrong in a load run.

use etl_adapters::DbError;
use etl_adapters::error::{describe_postgres, postgres_disposition};
use etl_adapters::store::StoreError;
use etl_contract::manifest::ManifestError;
use etl_contract::{Classify, Disposition};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Connect(#[from] DbError),
    #[error("applying the warehouse migrations: {0}")]
    Migrate(#[source] refinery::Error),
    #[error("processed manifest {key} does not exist")]
    ManifestMissing { key: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{key} is named by the manifest but does not exist")]
    FileMissing { key: String },
    #[error(transparent)]
    FileMismatch(#[from] etl_contract::manifest::PartMismatch),
    #[error("{key}: {reason}")]
    BadParquet { key: String, reason: String },
    #[error("{key}, column {column}: {reason}")]
    BadColumn {
        key: String,
        column: String,
        reason: String,
    },
    #[error(
        "loading run {run_id} failed while {step}: {}",
        describe_postgres(source)
    )]
    Query {
        run_id: String,
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "run {run_id}: {fact}.{column} = {key} has no row in {dimension} after inferred members \
         were added (a bug in load: report it with this run)"
    )]
    DanglingReference {
        run_id: String,
        fact: &'static str,
        column: &'static str,
        dimension: &'static str,
        key: String,
    },
    #[error(
        "run {run_id} was quarantined by an earlier attempt ({error}): fix the cause, then \
         `etl replay {run_id} --stage load`"
    )]
    Quarantined { run_id: String, error: String },
    #[error("object store, {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: StoreError,
    },
}

impl LoadError {
    pub(crate) fn store(key: &str) -> impl FnOnce(StoreError) -> Self + '_ {
        move |source| LoadError::Store {
            key: key.to_owned(),
            source,
        }
    }
}

impl LoadError {
    /// Whether the run's input is quarantined: errors of the input itself, not the warehouse
    /// rejecting a statement (a constraint or permission problem, fixed there).
    pub fn quarantines_input(&self) -> bool {
        self.disposition() == Disposition::QuarantineInput
    }
}

impl Classify for LoadError {
    fn disposition(&self) -> Disposition {
        match self {
            LoadError::Connect(e) => e.disposition(),
            LoadError::Query { source, .. } => postgres_disposition(source),
            LoadError::Store { source, .. } => source.disposition(),
            LoadError::Migrate(_) => Disposition::RetryRunLater,
            LoadError::ManifestMissing { .. }
            | LoadError::Manifest(_)
            | LoadError::FileMissing { .. }
            | LoadError::FileMismatch(_)
            | LoadError::BadParquet { .. }
            | LoadError::BadColumn { .. }
            | LoadError::Quarantined { .. } => Disposition::QuarantineInput,
            // The inferred members should have made every reference resolve: our bug, not the
            // input's.
            LoadError::DanglingReference { .. } => Disposition::Fail,
        }
    }
}
