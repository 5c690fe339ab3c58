//! The extract stage: lands the totesys rows changed since the watermark as NDJSON parts plus a
//! manifest in the landing store (docs/architecture.md §5).
//!
//! Guarantees, each proven by a test in `tests/tests/it/extract_stage.rs`:
//! - every row committed in the source lands in some run, even when its transaction commits long
//!   after it stamped `last_updated` (the safe horizon, [`horizon`]);
//! - all tables of a run come from one snapshot; a window is read in time order, so an order,
//!   its transaction and its payment arrive together, and the first load in key order
//!   ([`first_load`]), each table up to the same horizon;
//! - a run is visible only once its manifest exists, and the watermark moves only after that, by
//!   compare-and-swap: a crash or a lost race never skips rows;
//! - rows stamped in the future are counted, recorded and alerted once per table ([`future`]).

pub mod encode;
pub mod error;
mod first_load;
pub mod future;
pub mod horizon;
pub mod parts;
mod readers;
pub mod run;
pub mod source;
pub mod sql;
pub mod tie;

pub use error::ExtractError;
pub use run::{ExtractOptions, ExtractOutcome, RunSummary, Stop, extract};
pub use source::Source;
