//! The test harness of the workspace: a real Postgres (a given server or a throwaway cluster),
//! a database of its own for each test, servers with certificates of a test CA, and a real AWS
//! API server (`moto_server`).
//!
//! Every crate's integration tests use these rather than mocks of our own boundaries.

pub mod alerts;
pub mod browser;
pub mod craft;
pub mod inbox;
pub mod lake;
pub mod lambdas;
pub mod moto;
pub mod postgres;
pub mod stores;
pub mod tls;

pub use moto::Moto;
pub use postgres::{TestDatabase, TestRole, server};
