//! NDJSON part files of bounded size: a run's rows are written as they stream in, so memory
//! holds at most one part per table, whatever the size of the table.

use bytes::Bytes;
use etl_adapters::store::ObjectStore;
use etl_contract::layout::{RunId, landing_part_key};
use etl_contract::manifest::{Part, TableFiles};

use crate::error::ExtractError;

/// The rows of one table in one run, cut into parts of at most `max_bytes` (a single row larger
/// than that gets a part of its own).
#[derive(Debug)]
pub struct PartWriter {
    table: &'static str,
    max_bytes: usize,
    buffer: Vec<u8>,
    buffered_rows: u64,
    files: TableFiles,
}

impl PartWriter {
    pub fn new(table: &'static str, max_bytes: usize) -> Self {
        PartWriter {
            table,
            max_bytes,
            buffer: Vec::new(),
            buffered_rows: 0,
            files: TableFiles::default(),
        }
    }

    /// Appends one JSON line (given without its newline); uploads the part when it is full.
    pub async fn push(
        &mut self,
        json: &[u8],
        run_id: &RunId,
        store: &dyn ObjectStore,
    ) -> Result<(), ExtractError> {
        if !self.buffer.is_empty() && self.buffer.len() + json.len() + 1 > self.max_bytes {
            self.flush(run_id, store).await?;
        }
        self.buffer.extend_from_slice(json);
        self.buffer.push(b'\n');
        self.buffered_rows += 1;
        Ok(())
    }

    /// Uploads what is buffered as the next part.
    pub async fn flush(
        &mut self,
        run_id: &RunId,
        store: &dyn ObjectStore,
    ) -> Result<(), ExtractError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let key = landing_part_key(self.table, run_id, self.files.parts.len());
        let bytes = Bytes::from(std::mem::take(&mut self.buffer));
        let part = Part::describe(key.clone(), self.buffered_rows, &bytes);
        store
            .put(&key, bytes)
            .await
            .map_err(|source| ExtractError::Store { key, source })?;
        fail::fail_point!("extract::after_part");
        self.files.rows += part.rows;
        self.files.parts.push(part);
        self.buffered_rows = 0;
        Ok(())
    }

    pub fn table(&self) -> &'static str {
        self.table
    }

    pub fn rows(&self) -> u64 {
        self.files.rows + self.buffered_rows
    }

    /// Flushes and returns the table's files for the manifest.
    pub async fn finish(
        mut self,
        run_id: &RunId,
        store: &dyn ObjectStore,
    ) -> Result<TableFiles, ExtractError> {
        self.flush(run_id, store).await?;
        Ok(self.files)
    }
}
