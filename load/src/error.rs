//! What can go wrong in a load run.

use etl_shared::error::{describe_postgres, postgres_error_kind};
use etl_shared::manifest::ManifestError;
use etl_shared::store::StoreError;
use etl_shared::{Classify, DbError, ErrorKind};
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
    FileMismatch(#[from] etl_shared::manifest::PartMismatch),
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
    /// Whether the run's input is quarantined: permanent errors of the input itself, not the
    /// warehouse rejecting a statement (a constraint or permission problem, fixed there).
    pub fn quarantines_input(&self) -> bool {
        self.kind() == ErrorKind::Permanent && !matches!(self, LoadError::Query { .. })
    }
}

impl Classify for LoadError {
    fn kind(&self) -> ErrorKind {
        match self {
            LoadError::Connect(e) => e.kind(),
            LoadError::Query { source, .. } => postgres_error_kind(source),
            LoadError::Store { source, .. } => source.kind(),
            LoadError::Migrate(_) => ErrorKind::Retryable,
            LoadError::ManifestMissing { .. }
            | LoadError::Manifest(_)
            | LoadError::FileMissing { .. }
            | LoadError::FileMismatch(_)
            | LoadError::BadParquet { .. }
            | LoadError::BadColumn { .. }
            | LoadError::Quarantined { .. }
            | LoadError::DanglingReference { .. } => ErrorKind::Permanent,
        }
    }
}
