//! The file-drop inbox: vendors and teams drop CSV, JSON lines or Parquet files into an S3
//! prefix (or a directory), and each lands in a declared warehouse table of schema `inbox`,
//! checked, logged and notified (README, "File-drop inbox").
//!
//! - [`key`]: the key layout (`schema/<table>.json`, `append|truncate|upsert/<table>/<file>`);
//! - [`declaration`]: a table's declaration, validated, and how a new one evolves the table;
//! - [`value`]: exact values in COPY text form (numeric never through a float);
//! - [`read`]: the formats, record by record in bounded memory;
//! - [`sql`]: the statements, generated from a declaration;
//! - [`apply`] and [`schema`]: one file (or declaration) in one transaction with its log row;
//! - [`process`]: the one driver, in arrival order, exactly once per object version;
//! - [`report`]: alerts and notices; [`log`]: reading the log; [`retry`]: fixed error rows.

pub mod apply;
pub mod declaration;
pub mod error;
pub mod key;
pub mod log;
pub mod process;
pub mod read;
pub mod report;
pub mod retry;
pub mod schema;
pub mod sql;
pub mod value;

pub use declaration::Declaration;
pub use error::InboxError;
pub use process::{FileResult, Outcome, Tables, process};
