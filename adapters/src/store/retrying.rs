//! The object store with transient failures retried in place (see [`crate::retry`]).
//!
//! Every stage gets its stores through [`super::open`], which wraps them in [`Retrying`], so a
//! throttled or dropped request is retried with one policy whatever the backend. The S3 client's
//! own retries are off ([`super::S3Store`]) so that attempts do not multiply.
//!
//! Retrying a conditional write can never apply it twice, but it can be ambiguous: when an
//! attempt was applied and only its answer was lost, the retry finds its own write and reports
//! [`PutOutcome::ConditionFailed`], so a run that committed would be told it lost (for extract,
//! "manifest exists: is the clock going backwards?"). delta-rs refuses to retry such writes for
//! this reason. Here an attempt that failed retryably marks the outcome ambiguous, and a
//! `ConditionFailed` after it is settled by reading the object back: if it holds exactly the
//! bytes we wrote, the write was ours and is reported `Written` with the version read. (An
//! identical write by someone else reads the same; the store then holds exactly what this
//! caller meant to write, which is all a caller of a conditional write relies on.)

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Entry, Object, ObjectStore, PutOutcome, Reader, StoreError, Version};
use crate::retry::{Backoff, retry};
use etl_contract::error::{Classify, ErrorKind};

/// A store whose retryable failures are retried with bounded backoff.
#[derive(Debug, Clone)]
pub struct Retrying<S> {
    inner: S,
    backoff: Backoff,
}

impl<S> Retrying<S> {
    pub fn new(inner: S, backoff: Backoff) -> Retrying<S> {
        Retrying { inner, backoff }
    }

    /// The store that is retried.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: ObjectStore> Retrying<S> {
    /// Retries a conditional write and settles an ambiguous `ConditionFailed` (see the module
    /// documentation).
    async fn conditional<F, Fut>(
        &self,
        key: &str,
        bytes: &Bytes,
        mut write: F,
    ) -> Result<PutOutcome, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<PutOutcome, StoreError>>,
    {
        let ambiguous = AtomicBool::new(false);
        let outcome = retry(&self.backoff, key, || {
            let attempt = write();
            async {
                let result = attempt.await;
                if matches!(&result, Err(e) if e.kind() == ErrorKind::Retryable) {
                    ambiguous.store(true, Ordering::Relaxed);
                }
                result
            }
        })
        .await?;
        if outcome != PutOutcome::ConditionFailed || !ambiguous.load(Ordering::Relaxed) {
            return Ok(outcome);
        }
        match self.get(key).await? {
            Some(object) if object.bytes == *bytes => {
                tracing::info!(key, "a conditional write whose answer was lost had applied");
                Ok(PutOutcome::Written(object.version))
            }
            _ => Ok(PutOutcome::ConditionFailed),
        }
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Retrying<S> {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        retry(&self.backoff, key, || self.inner.put(key, bytes.clone())).await
    }

    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        self.conditional(key, &bytes, || self.inner.put_if_absent(key, bytes.clone()))
            .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        self.conditional(key, &bytes, || {
            self.inner.put_if_match(key, bytes.clone(), expected)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        retry(&self.backoff, key, || self.inner.get(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        retry(&self.backoff, prefix, || self.inner.list(prefix)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        retry(&self.backoff, key, || self.inner.delete(key)).await
    }

    /// Opening is retried; the stream itself is the caller's to retry.
    async fn open(&self, key: &str) -> Result<Option<(Reader, Version)>, StoreError> {
        retry(&self.backoff, key, || self.inner.open(key)).await
    }

    async fn list_entries(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        retry(&self.backoff, prefix, || self.inner.list_entries(prefix)).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
