//! Iceberg's file I/O over the pipeline's object-store port, so the lake is written through the
//! same adapters (a local directory or S3, retried the same way) as every other stage's files,
//! and one code path serves both.
//!
//! Iceberg names files by location (`s3://bucket/prefix/table/data/x.parquet`, or an absolute
//! path for a directory); the store is keyed relative to the lake's root, so a location is its
//! key behind the root's location. A location outside the root is refused: the lake only ever
//! reads and writes its own files.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use etl_adapters::store::{ObjectStore, StoreError};
use etl_contract::error::{Classify, Disposition};
use futures_util::stream::BoxStream;
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The lake's store and the location its keys are relative to.
#[derive(Clone)]
pub struct StoreStorage {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix` or an absolute directory path, without a trailing `/`.
    root: String,
}

impl std::fmt::Debug for StoreStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreStorage")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl StoreStorage {
    pub fn new(store: Arc<dyn ObjectStore>, root: String) -> StoreStorage {
        StoreStorage {
            store,
            root: root.trim_end_matches('/').to_owned(),
        }
    }

    /// The store key of `location`.
    fn key<'a>(&self, location: &'a str) -> Result<&'a str> {
        location
            .strip_prefix(self.root.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("{location} is outside the lake at {}", self.root),
                )
            })
    }

    async fn get(&self, location: &str) -> Result<Option<Bytes>> {
        let key = self.key(location)?;
        let object = self.store.get(key).await.map_err(store_error)?;
        Ok(object.map(|o| o.bytes))
    }

    async fn require(&self, location: &str) -> Result<Bytes> {
        self.get(location)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::DataInvalid, format!("{location} does not exist")))
    }
}

/// Iceberg's error for a store failure, retryable where the store's disposition says so.
pub(crate) fn store_error(e: StoreError) -> Error {
    let retryable = matches!(
        e.disposition(),
        Disposition::RetryInPlace | Disposition::RetryRunLater
    );
    Error::new(ErrorKind::Unexpected, e.to_string()).with_retryable(retryable)
}

// Iceberg may serialize a table's file I/O to hand it to another process; ours holds a live
// store, so it refuses to cross a process boundary rather than pretend to.
impl Serialize for StoreStorage {
    fn serialize<S: Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "the lake's storage holds a live object store and cannot be serialized",
        ))
    }
}

impl<'de> Deserialize<'de> for StoreStorage {
    fn deserialize<D: Deserializer<'de>>(_: D) -> std::result::Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "the lake's storage holds a live object store and cannot be deserialized",
        ))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for StoreStorage {
    async fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.get(path).await?.is_some())
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        Ok(FileMetadata {
            size: self.require(path).await?.len() as u64,
        })
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.require(path).await
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        Ok(Box::new(Whole(self.require(path).await?)))
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        let key = self.key(path)?;
        self.store.put(key, bs).await.map_err(store_error)?;
        Ok(())
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        self.key(path)?;
        Ok(Box::new(Buffered {
            storage: self.clone(),
            path: path.to_owned(),
            buffer: BytesMut::new(),
            closed: false,
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let key = self.key(path)?;
        self.store.delete(key).await.map_err(store_error)
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        let prefix = self.key(path)?;
        for key in self.store.list(prefix).await.map_err(store_error)? {
            self.store.delete(&key).await.map_err(store_error)?;
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> Result<()> {
        use futures_util::StreamExt;
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        self.key(path)?;
        Ok(InputFile::new(Arc::new(self.clone()), path.to_owned()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        self.key(path)?;
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_owned()))
    }
}

/// A file read whole: the lake reads only metadata, manifests and data files of one run.
struct Whole(Bytes);

#[async_trait]
impl FileRead for Whole {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        let (start, end) = (range.start as usize, range.end as usize);
        if start > end || end > self.0.len() {
            return Err(Error::new(
                ErrorKind::DataInvalid,
                format!(
                    "range {range:?} is outside a file of {} bytes",
                    self.0.len()
                ),
            ));
        }
        Ok(self.0.slice(start..end))
    }
}

/// A file written whole at close: a store's objects appear all at once, never half written.
/// The data files it holds are one table's rows of one run, bounded by `ETL_ROW_BUDGET`.
struct Buffered {
    storage: StoreStorage,
    path: String,
    buffer: BytesMut,
    closed: bool,
}

#[async_trait]
impl FileWrite for Buffered {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        self.buffer.extend_from_slice(&bs);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("{} is closed already", self.path),
            ));
        }
        self.closed = true;
        let bytes = std::mem::take(&mut self.buffer).freeze();
        Storage::write(&self.storage, &self.path, bytes).await
    }
}

/// Hands iceberg the one storage it was built with, whatever the configuration says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreStorageFactory(pub StoreStorage);

#[typetag::serde]
impl StorageFactory for StoreStorageFactory {
    fn build(&self, _: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(self.0.clone()))
    }
}
