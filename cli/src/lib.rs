//! The `etl` tool as a library, so integration tests and benchmarks drive exactly the code the
//! command line runs.

pub mod args;
pub mod bench;
pub mod commands;
pub mod demo;
pub mod local;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod status;
