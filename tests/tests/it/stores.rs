//! Object stores for fault injection: a real local store wrapped so a test can make a chosen
//! write fail, or hold conditional writes until several runs reach them together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use etl_shared::store::{LocalStore, Object, ObjectStore, PutOutcome, StoreError, Version};

/// Which writes fail.
#[derive(Debug, Clone)]
pub enum FailOn {
    /// The n-th (1-based) write of a key starting with the prefix, and every one after it.
    NthWriteUnder(&'static str, usize),
}

/// A local store whose writes fail as `FailOn` says: an injected outage.
pub struct FailingStore {
    pub inner: LocalStore,
    fail_on: FailOn,
    writes: AtomicUsize,
}

impl FailingStore {
    pub fn new(inner: LocalStore, fail_on: FailOn) -> Self {
        FailingStore {
            inner,
            fail_on,
            writes: AtomicUsize::new(0),
        }
    }

    fn check(&self, key: &str) -> Result<(), StoreError> {
        let FailOn::NthWriteUnder(prefix, n) = &self.fail_on;
        if key.starts_with(prefix) && self.writes.fetch_add(1, Ordering::SeqCst) + 1 >= *n {
            return Err(StoreError::Remote {
                key: key.into(),
                message: "injected failure".into(),
                retryable: true,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        self.check(key)?;
        self.inner.put(key, bytes).await
    }
    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        self.check(key)?;
        self.inner.put_if_absent(key, bytes).await
    }
    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        self.check(key)?;
        self.inner.put_if_match(key, bytes, expected).await
    }
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// A local store that holds every write of one key until `parties` writers have reached it, so
/// concurrent runs are guaranteed to race on it rather than happen to run one after the other.
pub struct RendezvousStore {
    pub inner: LocalStore,
    key: &'static str,
    barrier: Arc<tokio::sync::Barrier>,
}

impl RendezvousStore {
    pub fn new(inner: LocalStore, key: &'static str, parties: usize) -> Self {
        RendezvousStore {
            inner,
            key,
            barrier: Arc::new(tokio::sync::Barrier::new(parties)),
        }
    }

    async fn meet(&self, key: &str) {
        if key == self.key {
            self.barrier.wait().await;
        }
    }
}

#[async_trait]
impl ObjectStore for RendezvousStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        self.meet(key).await;
        self.inner.put(key, bytes).await
    }
    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        self.meet(key).await;
        self.inner.put_if_absent(key, bytes).await
    }
    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        self.meet(key).await;
        self.inner.put_if_match(key, bytes, expected).await
    }
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}
