//! What can go wrong with an inbox file, and what is done about it: the file's own faults
//! (unreadable, bad rows under `reject_file`, a failed check, a refused declaration) reject it,
//! which is logged, alerted once and final for that version of the object; the warehouse or the
//! store failing on the way leaves it pending, to be tried again.

use etl_adapters::error::{describe_postgres, postgres_disposition};
use etl_adapters::store::StoreError;
use etl_contract::{Classify, Disposition};
use thiserror::Error;

/// A declaration that cannot be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeclarationError {
    #[error("not valid JSON at line {line}, column {column}: {reason}")]
    Json {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{reason}")]
    Invalid { reason: String },
    #[error(
        "refused: the new declaration of {table} {change}; existing data could be lost or \
         refused, so set \"allow_breaking\": true in it to apply such a change"
    )]
    Breaking { table: String, change: String },
}

#[derive(Debug, Error)]
pub enum InboxError {
    #[error(transparent)]
    Warehouse(#[from] load::LoadError),
    #[error("object store, {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: StoreError,
    },
    #[error("inbox file {file}: {step}: {}", describe_postgres(source))]
    Query {
        file: String,
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The file itself is at fault: rejected, logged and alerted once.
    #[error("inbox file {file} rejected: {reason}")]
    Rejected { file: String, reason: String },
    /// Reading the file broke on the way (the stream from the store): tried again later.
    #[error("inbox file {file}: reading it failed: {reason}")]
    Read { file: String, reason: String },
    #[error("inbox table {table} is not declared: upload schema/{table}.json first")]
    NoTable { table: String },
    /// A bug of ours (a worker thread that panicked): alerted, the file left pending.
    #[error("inbox file {file}: {reason} (a bug in the inbox: report it with this file)")]
    Internal { file: String, reason: String },
}

impl InboxError {
    pub(crate) fn store(key: &str) -> impl FnOnce(StoreError) -> Self + '_ {
        move |source| InboxError::Store {
            key: key.to_owned(),
            source,
        }
    }

    pub(crate) fn query(
        file: &str,
        step: impl Into<String>,
    ) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let (file, step) = (file.to_owned(), step.into());
        move |source| InboxError::Query { file, step, source }
    }

    /// Whether the file is to blame: then it is rejected for good (this version of it).
    pub fn rejects_file(&self) -> bool {
        self.disposition() == Disposition::QuarantineInput
    }
}

impl Classify for InboxError {
    fn disposition(&self) -> Disposition {
        match self {
            InboxError::Warehouse(e) => e.disposition(),
            InboxError::Store { source, .. } => source.disposition(),
            InboxError::Query { source, .. } => match source.code() {
                // Data exceptions and integrity violations come from the file's rows (a duplicate
                // key in an append, a value Postgres refuses): the file's fault.
                Some(code) if code.code().starts_with("22") || code.code().starts_with("23") => {
                    Disposition::QuarantineInput
                }
                _ => postgres_disposition(source),
            },
            InboxError::Rejected { .. } => Disposition::QuarantineInput,
            InboxError::Read { .. } => Disposition::RetryRunLater,
            InboxError::NoTable { .. } | InboxError::Internal { .. } => Disposition::Fail,
        }
    }
}
