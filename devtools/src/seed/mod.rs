//! `etl seed`: writes a deterministic synthetic totesys history into the source database.
//!
//! The whole seed is one transaction: truncate, drop the foreign keys, COPY every table (parents
//! first), put the foreign keys back (Postgres validates each with one set-based query, far
//! faster than a per-row trigger check), and reset the sequences. A failure leaves the source as
//! it was. This is the bulk-loading recipe of the Postgres manual ("Populating a Database").

pub mod copy_text;
pub mod encode;
pub mod generate;
pub mod reference;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use etl_contract::catalog::{SOURCE_TABLES, SourceTable};
use futures_util::SinkExt;
use thiserror::Error;
use tokio_postgres::{Client, GenericClient, Transaction};

use self::generate::{Dataset, SeedSpec};
use self::reference::Reference;

/// The totesys DDL, applied when the source has no totesys tables yet.
pub const SCHEMA_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../seeds/totesys/schema.sql"
));

#[derive(Debug, Error)]
pub enum SeedError {
    #[error(
        "the source database already holds data (table {table} is not empty): \
         rerun with --force to replace all of it, or point ETL_SOURCE_URL at an empty database"
    )]
    NotEmpty { table: &'static str },
    #[error(
        "the source database has only some of the totesys tables (missing: {missing}): \
         drop them or point ETL_SOURCE_URL at an empty database"
    )]
    PartialSchema { missing: String },
    #[error("seeding failed while {step}: {source}")]
    Db {
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the generator has no encoder for table {0}")]
    NoEncoder(&'static str),
    #[error("the data generator stopped unexpectedly: {0}")]
    Generator(String),
}

fn db(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SeedError {
    let step = step.into();
    move |source| SeedError::Db { step, source }
}

/// What `etl seed` should do.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub spec: SeedSpec,
    /// Replace existing data instead of refusing.
    pub force: bool,
}

/// What a seed wrote.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub rows: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// Creates the totesys schema if the database has none of its tables, and refuses to touch a
/// database that has data unless `force` is set.
pub async fn prepare_schema(client: &Client, force: bool) -> Result<(), SeedError> {
    let names: Vec<&str> = SOURCE_TABLES.iter().map(|t| t.name).collect();
    let present: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name = ANY($1)",
            &[&names],
        )
        .await
        .map_err(db("looking for the totesys tables"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if present.is_empty() {
        client
            .batch_execute(&format!("BEGIN; {SCHEMA_SQL}; COMMIT;"))
            .await
            .map_err(db("creating the totesys schema"))?;
        return Ok(());
    }
    if present.len() < names.len() {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !present.iter().any(|p| p == n))
            .collect();
        return Err(SeedError::PartialSchema {
            missing: missing.join(", "),
        });
    }
    if !force {
        for table in &SOURCE_TABLES {
            let row = client
                .query_one(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name),
                    &[],
                )
                .await
                .map_err(db(format!("checking whether {} is empty", table.name)))?;
            if row.get::<_, bool>(0) {
                return Err(SeedError::NotEmpty { table: table.name });
            }
        }
    }
    Ok(())
}

/// Generates the dataset and writes it. `progress` is told about each table as it completes.
pub async fn seed(
    client: &mut Client,
    options: SeedOptions,
    mut progress: impl FnMut(&'static str, u64, Duration),
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    prepare_schema(client, options.force).await?;
    let reference = Arc::new(Reference::load());
    let data = {
        let reference = reference.clone();
        tokio::task::spawn_blocking(move || generate::generate(options.spec, &reference))
            .await
            .map_err(|e| SeedError::Generator(e.to_string()))?
    };
    let data = Arc::new(data);

    let tx = client
        .transaction()
        .await
        .map_err(db("starting the seed transaction"))?;
    let names: Vec<&str> = SOURCE_TABLES.iter().map(|t| t.name).collect();
    tx.batch_execute(&format!(
        "TRUNCATE {} RESTART IDENTITY CASCADE",
        names.join(", ")
    ))
    .await
    .map_err(db("truncating the source tables"))?;
    let foreign_keys = drop_foreign_keys(&tx, &names).await?;

    let mut rows = Vec::with_capacity(SOURCE_TABLES.len());
    for table in &SOURCE_TABLES {
        let table_started = Instant::now();
        let n = copy_table(&tx, table, data.clone(), reference.clone()).await?;
        progress(table.name, n, table_started.elapsed());
        rows.push((table.name, n));
    }

    for (table, name, definition) in &foreign_keys {
        tx.batch_execute(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
        ))
        .await
        .map_err(db(format!("restoring foreign key {name} on {table}")))?;
    }
    reset_sequences(&tx).await?;
    tx.commit().await.map_err(db("committing the seed"))?;
    client
        .batch_execute(&format!("ANALYZE {}", names.join(", ")))
        .await
        .map_err(db("analyzing the seeded tables"))?;
    Ok(SeedReport {
        rows,
        elapsed: started.elapsed(),
    })
}

/// Drops the foreign keys among the source tables and returns (table, name, definition) so that
/// they can be restored exactly as they were.
async fn drop_foreign_keys(
    tx: &Transaction<'_>,
    tables: &[&str],
) -> Result<Vec<(String, String, String)>, SeedError> {
    let rows = tx
        .query(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) \
             FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = 'public'::regnamespace \
               AND conrelid::regclass::text = ANY($1) \
             ORDER BY conrelid::regclass::text, conname",
            &[&tables],
        )
        .await
        .map_err(db("reading the foreign keys"))?;
    let keys: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (table, name, _) in &keys {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
            .await
            .map_err(db(format!("dropping foreign key {name} on {table}")))?;
    }
    Ok(keys)
}

/// Streams one table's rows into COPY while they are being encoded on a blocking thread.
async fn copy_table(
    tx: &Transaction<'_>,
    table: &'static SourceTable,
    data: Arc<Dataset>,
    reference: Arc<Reference>,
) -> Result<u64, SeedError> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let encoder = tokio::task::spawn_blocking(move || {
        encode::encode_table(table, &data, &reference, |chunk| {
            sender.blocking_send(chunk).is_ok()
        })
    });
    let sink = tx
        .copy_in(&encode::copy_statement(table))
        .await
        .map_err(db(format!("starting COPY into {}", table.name)))?;
    futures_util::pin_mut!(sink);
    while let Some(chunk) = receiver.recv().await {
        sink.send(bytes::Bytes::from(chunk))
            .await
            .map_err(db(format!("copying rows into {}", table.name)))?;
    }
    sink.finish()
        .await
        .map_err(db(format!("finishing COPY into {}", table.name)))?;
    encoder
        .await
        .map_err(|e| SeedError::Generator(e.to_string()))?
        .ok_or(SeedError::NoEncoder(table.name))
}

/// Points every table's sequence past its largest id, as if the rows had been inserted one by one.
async fn reset_sequences(client: &impl GenericClient) -> Result<(), SeedError> {
    for table in &SOURCE_TABLES {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{pk}'), \
                    coalesce(max({pk}), 1), max({pk}) IS NOT NULL) FROM {t}",
            t = table.name,
            pk = table.primary_key
        );
        client
            .query_one(&sql, &[])
            .await
            .map_err(db(format!("resetting the sequence of {}", table.name)))?;
    }
    Ok(())
}

/// Today's date in UTC: the default end of the generated history.
pub fn default_end() -> NaiveDate {
    chrono::Utc::now().date_naive()
}
