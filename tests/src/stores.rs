//! Object stores for fault injection: a real local store wrapped so a test can make chosen
//! requests fail, or hold conditional writes until several runs reach them together.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use etl_adapters::store::{LocalStore, Object, ObjectStore, PutOutcome, StoreError, Version};

/// Which requests fail.
#[derive(Debug, Clone)]
pub enum FailOn {
    /// The n-th (1-based) write of a key starting with the prefix, and every one after it.
    NthWriteUnder(&'static str, usize),
    /// Every n-th request, but never the same request (operation and key) twice in a row: a
    /// transient fault that one retry gets past.
    EveryNthRequest(u64),
    /// Every request after the first n: the store goes down and stays down.
    AllAfter(u64),
    /// The first conditional write of each key under the prefix is applied, and then its answer
    /// is lost: the caller sees a retryable failure of a write that happened.
    LostReplyUnder(&'static str),
    /// Every conditional write of a key under the prefix finds that someone else wrote first
    /// (and writes nothing): a writer that loses every race.
    LosesEveryRaceUnder(&'static str),
}

/// A local store whose requests fail as `FailOn` says: an injected outage. A failed request
/// never reaches the store, and says it is retryable, as S3's 503 `SlowDown` does.
pub struct FailingStore {
    pub inner: LocalStore,
    fail_on: FailOn,
    writes: AtomicUsize,
    requests: AtomicU64,
    /// Injected failures per request (operation and key).
    failures: Mutex<HashMap<String, u32>>,
    /// Requests whose last attempt failed.
    failing: Mutex<HashSet<String>>,
}

impl FailingStore {
    pub fn new(inner: LocalStore, fail_on: FailOn) -> Self {
        FailingStore {
            inner,
            fail_on,
            writes: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failures: Mutex::default(),
            failing: Mutex::default(),
        }
    }

    fn check(&self, op: &str, key: &str) -> Result<(), StoreError> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let request = format!("{op} {key}");
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let fail = match &self.fail_on {
            FailOn::NthWriteUnder(prefix, nth) => {
                op.starts_with("put")
                    && key.starts_with(prefix)
                    && self.writes.fetch_add(1, Ordering::SeqCst) + 1 >= *nth
            }
            FailOn::EveryNthRequest(every) => {
                n.is_multiple_of(*every) && !failing.contains(&request)
            }
            FailOn::AllAfter(after) => n > *after,
            FailOn::LostReplyUnder(_) | FailOn::LosesEveryRaceUnder(_) => false,
        };
        if !fail {
            failing.remove(&request);
            return Ok(());
        }
        failing.insert(request.clone());
        *self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(request)
            .or_default() += 1;
        Err(StoreError::Remote {
            key: key.into(),
            message: "injected: 503 SlowDown".into(),
            retryable: true,
        })
    }

    /// In [`FailOn::LostReplyUnder`], applies `write` and, the first time for this key, loses
    /// its answer.
    async fn conditional(
        &self,
        op: &str,
        key: &str,
        write: impl Future<Output = Result<PutOutcome, StoreError>>,
    ) -> Result<PutOutcome, StoreError> {
        if let FailOn::LosesEveryRaceUnder(prefix) = &self.fail_on
            && key.starts_with(prefix)
        {
            drop(write);
            return Ok(PutOutcome::ConditionFailed);
        }
        let outcome = write.await?;
        let FailOn::LostReplyUnder(prefix) = &self.fail_on else {
            return Ok(outcome);
        };
        let request = format!("{op} {key}");
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if !key.starts_with(prefix) || failures.contains_key(&request) {
            return Ok(outcome);
        }
        failures.insert(request, 1);
        Err(StoreError::Remote {
            key: key.into(),
            message: "injected: the answer of an applied write was lost".into(),
            retryable: true,
        })
    }

    /// How many failures were injected.
    pub fn injected(&self) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// The most times one request failed.
    pub fn most_failures_of_one_request(&self) -> u32 {
        self.failures
            .lock()
            .unwrap()
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        self.check("put", key)?;
        self.inner.put(key, bytes).await
    }
    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        self.check("put_if_absent", key)?;
        self.conditional("put_if_absent", key, self.inner.put_if_absent(key, bytes))
            .await
    }
    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        self.check("put_if_match", key)?;
        let write = self.inner.put_if_match(key, bytes, expected);
        self.conditional("put_if_match", key, write).await
    }
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.check("get", key)?;
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.check("list", prefix)?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check("delete", key)?;
        self.inner.delete(key).await
    }
    fn describe(&self) -> String {
        format!("failing {}", self.inner.describe())
    }
}

/// What a wrapping test store does around each write of the local store it wraps.
#[async_trait]
pub trait WriteHook: Send + Sync {
    /// Before the write of `key` reaches the store; may wait.
    async fn before_write(&self, key: &str);
    /// After it has.
    fn after_write(&self, _key: &str) {}
}

/// A local store with a [`WriteHook`] around its writes; reads go straight through.
pub struct Hooked<H> {
    pub inner: LocalStore,
    hook: H,
}

#[async_trait]
impl<H: WriteHook> ObjectStore for Hooked<H> {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        self.hook.before_write(key).await;
        let written = self.inner.put(key, bytes).await;
        self.hook.after_write(key);
        written
    }
    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        self.hook.before_write(key).await;
        let written = self.inner.put_if_absent(key, bytes).await;
        self.hook.after_write(key);
        written
    }
    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        self.hook.before_write(key).await;
        let written = self.inner.put_if_match(key, bytes, expected).await;
        self.hook.after_write(key);
        written
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

/// Holds every write of one key until `parties` writers have reached it, so concurrent runs
/// are guaranteed to race on it rather than happen to run one after the other.
pub struct Rendezvous {
    key: &'static str,
    barrier: tokio::sync::Barrier,
}

pub type RendezvousStore = Hooked<Rendezvous>;

impl RendezvousStore {
    pub fn new(inner: LocalStore, key: &'static str, parties: usize) -> Self {
        Hooked {
            inner,
            hook: Rendezvous {
                key,
                barrier: tokio::sync::Barrier::new(parties),
            },
        }
    }
}

#[async_trait]
impl WriteHook for Rendezvous {
    async fn before_write(&self, key: &str) {
        if key == self.key {
            self.barrier.wait().await;
        }
    }
}

/// A gate opened once, that any number of writers wait for.
#[derive(Default)]
pub struct Gate {
    open: std::sync::atomic::AtomicBool,
    opened: tokio::sync::Notify,
}

impl Gate {
    async fn wait(&self) {
        loop {
            let opened = self.opened.notified();
            if self.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.opened.notify_waiters();
    }
}

/// Which side of an [`overlap_gate`] a store is.
pub enum GateSide {
    /// The landing store: holds every manifest after the first until the gate opens.
    Holds(Arc<Gate>, AtomicUsize),
    /// The processed store: opens the gate when it has written a manifest.
    Opens(Arc<Gate>),
}

pub type GatedStore = Hooked<GateSide>;

/// Landing and processed stores where extract cannot commit its second run until transform
/// has written its first processed manifest: a runner that waits for extract to finish before
/// it transforms never gets past the gate, one whose stages overlap does.
pub fn overlap_gate(landing: LocalStore, processed: LocalStore) -> (GatedStore, GatedStore) {
    let gate = Arc::new(Gate::default());
    (
        Hooked {
            inner: landing,
            hook: GateSide::Holds(gate.clone(), AtomicUsize::new(0)),
        },
        Hooked {
            inner: processed,
            hook: GateSide::Opens(gate),
        },
    )
}

#[async_trait]
impl WriteHook for GateSide {
    async fn before_write(&self, key: &str) {
        if let GateSide::Holds(gate, manifests) = self
            && key.starts_with("manifests/")
            && manifests.fetch_add(1, Ordering::SeqCst) > 0
        {
            gate.wait().await;
        }
    }

    fn after_write(&self, key: &str) {
        if let GateSide::Opens(gate) = self
            && key.starts_with("manifests/")
        {
            gate.open();
        }
    }
}
