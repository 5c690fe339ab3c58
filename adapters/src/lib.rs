//! `etl-adapters`: the pipeline's I/O, behind narrow traits where a stage needs to swap it.
//!
//! Object stores (S3 and a directory, one [`ObjectStore`] contract), database connections with
//! verified TLS, Secrets Manager, alert sinks (SNS or the log), the watermark's compare-and-swap,
//! quarantine records, bounded retries and the one reporter every entry point uses
//! ([`report::report_runs`]). The types they move are `etl-contract`'s.

pub mod alert;
pub mod aws;
pub mod db;
pub mod error;
pub mod memory;
pub mod quarantine;
pub mod report;
pub mod retry;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod watermark;

pub use error::DbError;
pub use store::{ObjectStore, StoreError};
