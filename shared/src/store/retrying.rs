//! The object store with transient failures retried in place (see [`crate::retry`]).
//!
//! Every stage gets its stores through [`super::open`], which wraps them in [`Retrying`], so a
//! throttled or dropped request is retried with one policy whatever the backend. The S3 client's
//! own retries are off ([`super::S3Store`]) so that attempts do not multiply.
//!
//! Retrying a conditional write is safe (it can never apply twice) but can be ambiguous: if the
//! first attempt was applied and only its answer was lost, the retry reports
//! [`PutOutcome::ConditionFailed`]. Callers already treat that as "someone else won", which
//! leaves the pipeline consistent: a manifest exists either way, and a watermark swap that did
//! apply only means the next run starts later, where this one ended.

use async_trait::async_trait;
use bytes::Bytes;

use super::{Object, ObjectStore, PutOutcome, StoreError, Version};
use crate::retry::{Backoff, retry};

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

#[async_trait]
impl<S: ObjectStore> ObjectStore for Retrying<S> {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        retry(&self.backoff, key, || self.inner.put(key, bytes.clone())).await
    }

    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        retry(&self.backoff, key, || {
            self.inner.put_if_absent(key, bytes.clone())
        })
        .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        retry(&self.backoff, key, || {
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

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
