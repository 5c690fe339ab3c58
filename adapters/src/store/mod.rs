//! The object-store port: where stages put their files, manifests and state.
//!
//! Narrow on purpose: what the pipeline needs from S3 and can get from a local directory too.
//! Conditional writes are part of the port because correctness depends on them: a manifest is
//! created only if absent (a run id is never written twice) and the watermark advances only by
//! compare-and-swap on the version last read (two extracts can never both advance it).

pub mod local;
pub mod retrying;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

use crate::retry::Backoff;
use etl_contract::error::{Classify, Disposition};

pub use local::LocalStore;
pub use retrying::Retrying;
pub use s3::S3Store;

use etl_contract::config::StoreLocation;

/// An opaque version of a stored object (an S3 ETag; a content hash locally).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// An object read back with its version.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub version: Version,
}

/// A listed object: enough to tell its versions apart and to order arrivals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    /// When this version arrived (S3's `LastModified`, a file's modification time).
    pub modified: chrono::DateTime<chrono::Utc>,
    pub version: Version,
}

/// An object read as a stream, for objects too large to hold in memory (inbox files).
pub type Reader = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written(Version),
    /// The condition did not hold: the object exists (create) or changed (swap).
    ConditionFailed,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("object store I/O on {key}: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("object store request for {key} failed: {message}")]
    Remote {
        key: String,
        message: String,
        retryable: bool,
    },
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
}

impl Classify for StoreError {
    fn disposition(&self) -> Disposition {
        match self {
            StoreError::Io { .. } => Disposition::RetryInPlace,
            StoreError::Remote { retryable, .. } => Disposition::transient(*retryable),
            StoreError::InvalidKey { .. } => Disposition::Fail,
        }
    }
}

/// Storage for one stage's objects (one bucket or directory). Keys are `/`-separated relative
/// paths such as `manifests/<run_id>.json`.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes `bytes` at `key`, replacing what was there. Readers see all or nothing.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError>;

    /// Writes only if nothing exists at `key`.
    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError>;

    /// Writes only if the object at `key` is still at `expected`.
    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError>;

    /// Reads `key`; `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError>;

    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Reads `key` as a stream; `None` when it does not exist. Transient failures while the
    /// stream is read are not retried (the caller retries the whole read). The default reads
    /// the whole object first: the real adapters override it so memory does not follow size.
    async fn open(&self, key: &str) -> Result<Option<(Reader, Version)>, StoreError> {
        Ok(self.get(key).await?.map(|object| {
            let reader: Reader = Box::pin(std::io::Cursor::new(object.bytes));
            (reader, object.version)
        }))
    }

    /// The objects under `prefix` with their size, version and arrival time, sorted by key.
    /// The default reads every object for its version and knows no arrival time (the epoch):
    /// the real adapters override it with one listing.
    async fn list_entries(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let mut entries = Vec::new();
        for key in self.list(prefix).await? {
            if let Some(object) = self.get(&key).await? {
                entries.push(Entry {
                    key,
                    size: object.bytes.len() as u64,
                    modified: chrono::DateTime::UNIX_EPOCH,
                    version: object.version,
                });
            }
        }
        Ok(entries)
    }

    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Where this store is, for logs and messages (`s3://bucket/prefix`, a directory).
    fn describe(&self) -> String;
}

/// Refuses keys that are not plain relative file paths (empty, a directory, `..`, absolute):
/// the same keys are valid in every adapter.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let invalid = |reason| StoreError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() || key.ends_with('/') {
        return Err(invalid("a key names a file, not a directory"));
    }
    if !std::path::Path::new(key)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(invalid("keys are relative paths without `..`"));
    }
    Ok(())
}

/// The store at `location`, its transient failures retried ([`Retrying`]). `sdk` is the
/// process's AWS configuration, needed only for S3 locations (the local tool loads it only when
/// one is configured).
pub fn open(
    location: &StoreLocation,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Box<dyn ObjectStore>, StoreError> {
    match location {
        StoreLocation::Local(path) => Ok(Box::new(Retrying::new(
            LocalStore::new(path.clone())?,
            Backoff::OBJECT_STORE,
        ))),
        StoreLocation::S3 { bucket, prefix } => match sdk {
            Some(sdk) => Ok(Box::new(Retrying::new(
                S3Store::new(sdk, bucket, prefix),
                Backoff::OBJECT_STORE,
            ))),
            None => Err(StoreError::Remote {
                key: String::new(),
                message: format!("s3://{bucket}: no AWS configuration was loaded for S3"),
                retryable: false,
            }),
        },
    }
}
