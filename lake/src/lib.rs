//! The lake: every warehouse table as an Apache Iceberg v2 table in a store of its own (a
//! directory or `s3://bucket/prefix`), appended once per processed run, so Athena, Spark, Trino,
//! DuckDB and pyiceberg query the warehouse's data in place (docs/lake.md).
//!
//! Publishing reads the processed run load reads (the same files, verified against the same
//! manifest) and is independent of load: neither waits for, blocks or rolls back the other.
//! Each table gets one snapshot per run, which records the run id in its summary; a run the
//! table holds already is skipped, so redeliveries and replays change nothing and runs that
//! arrive out of order converge (appends commute; the views pick each key's newest version).

pub mod athena;
mod catalog;
mod data_file;
mod error;
mod glue;
mod publish;
pub mod schema;
mod storage;

pub use catalog::{LakeCatalog, RUN_PROPERTY, runs_of};
pub use error::LakeError;
pub use glue::{GlueCallError, GlueClient, GlueTables, METADATA_LOCATION};
pub use publish::{Lake, Published, TableOutcome, publish};

#[cfg(test)]
mod tests {
    /// The lake's DuckDB reports are the warehouse's, word for word: a change to one is a change
    /// to both (the tests compare their rows; this keeps the text from drifting first).
    #[test]
    fn the_duckdb_reports_are_the_warehouses_views() {
        let duckdb = include_str!("../sql/duckdb.sql");
        let warehouse = include_str!("../../load/migrations/V2__views.sql");
        for view in ["report_monthly_sales", "report_payments_outstanding"] {
            let body = |sql: &'static str| {
                let start = sql.find(&format!("VIEW {view} AS")).unwrap();
                let end = start + sql[start..].find(';').unwrap();
                &sql[start..end]
            };
            assert_eq!(body(duckdb), body(warehouse), "{view}");
        }
    }
}
