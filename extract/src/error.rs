//! What can go wrong in an extract run, with the context an operator needs.

use etl_adapters::DbError;
use etl_adapters::error::{describe_postgres, postgres_disposition};
use etl_adapters::store::StoreError;
use etl_adapters::watermark::WatermarkError;
use etl_contract::catalog::Drift;
use etl_contract::landing::PartCodecError;
use etl_contract::{Classify, Disposition};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExtractError {
    #[error(transparent)]
    Connect(#[from] DbError),
    #[error("extract failed while {step}: {}", describe_postgres(source))]
    Query {
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "source schema drift: {}. Nothing was written and the watermark is unchanged: \
         update the source catalog (contract/src/catalog.rs) and the stages for the new schema, \
         or revert the change in the source",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Drift(Vec<Drift>),
    #[error("writing {key} to the landing store: {source}")]
    Store {
        key: String,
        #[source]
        source: StoreError,
    },
    #[error(
        "source row {table} {key}: column {column} {reason}; the run holding it was not committed: \
         fix the value in the source (or the catalog, contract/src/catalog.rs, if the column \
         changed type)"
    )]
    Encode {
        table: &'static str,
        key: i64,
        column: &'static str,
        reason: String,
    },
    #[error(
        "a reader of source table {table} stopped before the end of its window without saying \
         why; nothing of the unfinished run was committed: run extract again"
    )]
    ReaderLost { table: &'static str },
    #[error(
        "the upload of {key} to the landing store stopped without saying why; nothing of the \
         unfinished run was committed: run extract again"
    )]
    UploadsStopped { key: String },
    #[error(
        "a landing part of {table}: {source}; nothing of the unfinished run was committed: \
         run extract again"
    )]
    Compress {
        table: &'static str,
        #[source]
        source: PartCodecError,
    },
    #[error(transparent)]
    Watermark(#[from] WatermarkError),
    #[error(
        "manifest {key} already exists: run ids must be unique (is the clock going backwards?)"
    )]
    ManifestExists { key: String },
}

impl ExtractError {
    pub(crate) fn query(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let step = step.into();
        move |source| ExtractError::Query { step, source }
    }

    pub(crate) fn compress(table: &'static str) -> impl FnOnce(PartCodecError) -> Self {
        move |source| ExtractError::Compress { table, source }
    }
}

impl Classify for ExtractError {
    fn disposition(&self) -> Disposition {
        match self {
            ExtractError::Connect(e) => e.disposition(),
            ExtractError::Query { source, .. } => postgres_disposition(source),
            // Extract has no input of its own to quarantine: a drifted source or a clash of
            // run ids needs a person.
            ExtractError::Drift(_)
            | ExtractError::ManifestExists { .. }
            | ExtractError::Encode { .. } => Disposition::Fail,
            ExtractError::Store { source, .. } => source.disposition(),
            // A reader task or the uploads that ended without an error of their own (it panicked, or the
            // runtime is shutting down): nothing was committed, and another try starts over.
            ExtractError::ReaderLost { .. } | ExtractError::UploadsStopped { .. } => {
                Disposition::RetryRunLater
            }
            ExtractError::Compress { source, .. } => source.disposition(),
            ExtractError::Watermark(e) => e.disposition(),
        }
    }
}
