//! The development tools, apart from the operator's commands (docs/architecture.md §1): what
//! makes a pipeline to try and to test, never what runs one.
//!
//! - [`seed`]: a totesys source with years of history in the real data's shapes;
//! - [`simulate`]: live activity on it (orders, edits, settlements, long transactions);
//! - [`pgcluster`]: a throwaway PostgreSQL cluster for `etl demo`, `etl bench` and the tests;
//! - [`runtime_api`]: the Lambda Runtime API, emulated, to run the real Lambda binaries locally;
//! - [`reconcile`]: what the warehouse must hold, by independent SQL over the OLTP;
//! - [`usage`]: a process's peak memory, for the bench and the memory tests.
//!
//! The `etl` tool exposes them as `etl seed`, `etl simulate`, `etl demo` and `etl bench`.

pub mod pgcluster;
pub mod reconcile;
pub mod runtime_api;
pub mod seed;
pub mod simulate;
pub mod usage;
