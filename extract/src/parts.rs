//! Landing part files of bounded size: a run's rows are compressed as they stream in
//! ([`etl_contract::landing`]), so memory holds at most one compressed part and one zstd
//! context per table being filled, and [`QUEUED_PARTS`] + 1 parts on their way to the store,
//! whatever the size of the table.
//!
//! A full part is queued to [`upload`], which writes parts in order while the merge encodes
//! the next rows: a store write (an S3 PUT, a synced local file) no longer stops the reading.
//! A run's manifest is written only after [`Uploads::written`] says every part queued before
//! it is in the store.

use bytes::Bytes;
use etl_adapters::store::ObjectStore;
use etl_contract::landing::PartEncoder;
use etl_contract::layout::{RunId, landing_part_key};
use etl_contract::manifest::{Part, TableFiles};
use tokio::sync::{mpsc, oneshot};

use crate::error::ExtractError;

/// Parts that may wait for the store while the merge goes on.
pub const QUEUED_PARTS: usize = 2;

/// What the merge asks of [`upload`].
pub enum Upload {
    Put {
        key: String,
        bytes: Bytes,
    },
    /// Answered once everything queued before it is written.
    Written(oneshot::Sender<()>),
}

/// The merge's end of the upload queue.
pub struct Uploads {
    queue: mpsc::Sender<Upload>,
}

/// A queue of [`QUEUED_PARTS`] parts: the merge's end, and the receiver [`upload`] drains.
pub fn uploads() -> (Uploads, mpsc::Receiver<Upload>) {
    let (queue, receiver) = mpsc::channel(QUEUED_PARTS);
    (Uploads { queue }, receiver)
}

impl Uploads {
    async fn put(&self, key: String, bytes: Bytes) -> Result<(), ExtractError> {
        let stopped = ExtractError::UploadsStopped { key: key.clone() };
        self.queue
            .send(Upload::Put { key, bytes })
            .await
            .map_err(|_| stopped)
    }

    /// Waits until every part queued so far is in the store.
    pub async fn written(&self) -> Result<(), ExtractError> {
        let (done, answer) = oneshot::channel();
        let stopped = || ExtractError::UploadsStopped {
            key: "(the parts before a manifest)".to_owned(),
        };
        self.queue
            .send(Upload::Written(done))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}

/// Writes the queued parts to `store` in order until the merge drops its [`Uploads`]; the
/// first failure ends it (and with it the invocation, which joins the two).
pub async fn upload(
    store: &dyn ObjectStore,
    mut queue: mpsc::Receiver<Upload>,
) -> Result<(), ExtractError> {
    while let Some(next) = queue.recv().await {
        match next {
            Upload::Put { key, bytes } => {
                store
                    .put(&key, bytes)
                    .await
                    .map_err(|source| ExtractError::Store { key, source })?;
                fail::fail_point!("extract::after_part");
            }
            Upload::Written(done) => {
                let _ = done.send(());
            }
        }
    }
    Ok(())
}

/// The rows of one table in one run, cut into parts of at most `max_bytes` of NDJSON before
/// compression (a single row larger than that gets a part of its own).
#[derive(Debug)]
pub struct PartWriter {
    table: &'static str,
    max_bytes: usize,
    /// The part being filled; `None` until its first row.
    part: Option<PartEncoder>,
    files: TableFiles,
}

impl PartWriter {
    pub fn new(table: &'static str, max_bytes: usize) -> Self {
        PartWriter {
            table,
            max_bytes,
            part: None,
            files: TableFiles::default(),
        }
    }

    /// Appends one JSON line (given without its newline); uploads the part when it is full.
    pub async fn push(
        &mut self,
        json: &[u8],
        run_id: &RunId,
        uploads: &Uploads,
    ) -> Result<(), ExtractError> {
        if self
            .part
            .as_ref()
            .is_some_and(|p| p.plain_bytes() + json.len() + 1 > self.max_bytes)
        {
            self.flush(run_id, uploads).await?;
        }
        let part = match &mut self.part {
            Some(part) => part,
            None => self
                .part
                .insert(PartEncoder::new().map_err(ExtractError::compress(self.table))?),
        };
        part.push_line(json)
            .map_err(ExtractError::compress(self.table))
    }

    /// Queues what is buffered as the next part.
    pub async fn flush(&mut self, run_id: &RunId, uploads: &Uploads) -> Result<(), ExtractError> {
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        let rows = part.rows();
        let bytes = Bytes::from(part.finish().map_err(ExtractError::compress(self.table))?);
        let key = landing_part_key(self.table, run_id, self.files.parts.len());
        let part = Part::describe(key.clone(), rows, &bytes);
        uploads.put(key, bytes).await?;
        self.files.rows += part.rows;
        self.files.parts.push(part);
        Ok(())
    }

    pub fn table(&self) -> &'static str {
        self.table
    }

    pub fn rows(&self) -> u64 {
        self.files.rows + self.part.as_ref().map_or(0, PartEncoder::rows)
    }

    /// Queues the last part and returns the table's files for the manifest.
    pub async fn finish(
        mut self,
        run_id: &RunId,
        uploads: &Uploads,
    ) -> Result<TableFiles, ExtractError> {
        self.flush(run_id, uploads).await?;
        Ok(self.files)
    }
}
