use etl_adapters::store::StoreError;
use etl_contract::error::{Classify, Disposition};
use etl_contract::layout::RunId;
use etl_contract::manifest::{ManifestError, PartMismatch};
use thiserror::Error;

/// Why a run could not be published to the lake. Messages name the run, the table and the file,
/// never a row's values.
#[derive(Debug, Error)]
pub enum LakeError {
    #[error("reading {key} from the processed store: {source}")]
    Processed {
        key: String,
        #[source]
        source: StoreError,
    },
    #[error("writing {key} in the lake: {source}")]
    Lake {
        key: String,
        #[source]
        source: StoreError,
    },
    #[error(
        "processed run {run_id} has no manifest at {key}: transform has not written it, or it \
         was removed; `etl status` lists the processed runs"
    )]
    ManifestMissing { run_id: RunId, key: String },
    #[error(
        "{key} is named by its run's manifest but missing from the processed store: \
         `etl replay --stage transform` rewrites it"
    )]
    FileMissing { key: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "{0}; the file changed after transform wrote it: `etl replay --stage transform` rewrites it"
    )]
    PartMismatch(#[from] PartMismatch),
    #[error(
        "{key}: {reason} (table {table}); the file does not match the warehouse catalog: \
         `etl replay --stage transform` rewrites it"
    )]
    BadParquet {
        key: String,
        table: &'static str,
        reason: String,
    },
    #[error("opening the lake at {location} (ETL_LAKE): {reason}")]
    Open { location: String, reason: String },
    #[error("lake table {table}, run {run_id}: {source}")]
    Iceberg {
        table: &'static str,
        run_id: RunId,
        /// Boxed: iceberg's error is large, and every `Result` of the lake carries this enum.
        #[source]
        source: Box<iceberg::Error>,
    },
}

impl LakeError {
    pub(crate) fn lake(key: &str) -> impl FnOnce(StoreError) -> LakeError {
        let key = key.to_owned();
        move |source| LakeError::Lake { key, source }
    }

    pub(crate) fn iceberg(
        table: &'static str,
        run_id: &RunId,
    ) -> impl Fn(iceberg::Error) -> LakeError + Copy {
        move |source| LakeError::Iceberg {
            table,
            run_id: run_id.clone(),
            source: Box::new(source),
        }
    }

    pub(crate) fn processed(key: &str) -> impl FnOnce(StoreError) -> LakeError {
        let key = key.to_owned();
        move |source| LakeError::Processed { key, source }
    }
}

impl Classify for LakeError {
    fn disposition(&self) -> Disposition {
        match self {
            LakeError::Processed { source, .. } | LakeError::Lake { source, .. } => {
                source.disposition()
            }
            LakeError::ManifestMissing { .. }
            | LakeError::FileMissing { .. }
            | LakeError::Manifest(_)
            | LakeError::PartMismatch(_)
            | LakeError::BadParquet { .. } => Disposition::QuarantineInput,
            // A store fault under iceberg, or a commit that kept losing races: the run can
            // succeed unchanged later. Anything else is our side (a metadata file we cannot
            // read, a bug).
            LakeError::Iceberg { source, .. } if source.retryable() => Disposition::RetryRunLater,
            LakeError::Iceberg { .. } | LakeError::Open { .. } => Disposition::Fail,
        }
    }
}
