//! `etl-shared`: the contracts every stage of the totesys pipeline agrees on.
//!
//! Stages depend on this crate and on nothing of each other, so the extract, transform and load
//! Lambdas stay independently deployable while sharing one definition of the source catalog, the
//! configuration variables, the object-store port, the key layout, manifests, the watermark and
//! the error taxonomy.

pub mod alert;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod lambda;
pub mod layout;
pub mod manifest;
pub mod quarantine;
pub mod retry;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod warehouse;
pub mod watermark;

pub use config::Config;
pub use error::{Classify, ConfigError, DbError, Disposition, ErrorKind};
pub use layout::RunId;
pub use manifest::Manifest;
pub use store::{ObjectStore, StoreError};
