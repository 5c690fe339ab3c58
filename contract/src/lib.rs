//! `etl-contract`: what the extract, transform and load stages agree on, as plain data and pure
//! functions (docs/architecture.md §4).
//!
//! Nothing here does I/O: no tokio, no AWS SDK, no database driver (`make lint` checks). The
//! adapters (`etl-adapters`) read and write these types; the stages compute with them.

pub mod catalog;
pub mod config;
pub mod error;
pub mod landing;
pub mod layout;
pub mod manifest;
pub mod time;
pub mod warehouse;
pub mod watermark;

pub use config::Config;
pub use error::{Classify, ConfigError, Disposition, ErrorKind};
pub use layout::RunId;
pub use manifest::Manifest;
