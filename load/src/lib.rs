//! The load stage: merges processed runs into the Postgres warehouse, atomically and
//! idempotently (docs/architecture.md §7).
//!
//! - [`migrate`]: the warehouse DDL as refinery migrations, applied at start;
//! - [`sql`]: staging, COPY and merge statements generated from the warehouse catalog;
//! - [`parquet_in`]: schema checks and streaming of Parquet row groups into a binary COPY;
//! - [`run`]: one transaction per run with the ledger row; inferred members for late dimensions.

pub mod error;
pub mod migrate;
pub mod parquet_in;
pub mod run;
pub mod sql;

pub use error::LoadError;
pub use migrate::{connect, migrate};
pub use run::{LoadOutcome, load_run, pending_loads, process};
