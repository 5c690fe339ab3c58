//! The transform stage: one landing run in, the galaxy schema of docs/architecture.md §3 out, as Parquet
//! per warehouse table plus a processed manifest (docs/architecture.md §6).
//!
//! - [`read`]: landing NDJSON into typed frames with the catalog's schema, values checked;
//! - [`state`]: current-state snapshots that dimensions join through, order-independent;
//! - [`model`] and [`dates`]: the star-schema frames (polars), pure;
//! - [`parquet_out`]: exact Arrow types, zstd;
//! - [`run`]: verification against the manifest, output, quarantine.

pub mod currency;
pub mod dates;
pub mod error;
pub mod model;
pub mod parquet_out;
pub mod read;
pub mod run;
pub mod state;

pub use error::TransformError;
pub use run::{TransformOutcome, is_quarantined, pending_runs, process, transform_run};
