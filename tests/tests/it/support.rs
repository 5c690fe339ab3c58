//! Helpers shared by the integration tests.

use chrono::NaiveDate;
use etl_cli::seed::generate::SeedSpec;
use etl_cli::seed::{SeedOptions, SeedReport};
use etl_tests::TestDatabase;

/// A fixed end date, so seeded data does not depend on the day the tests run.
pub fn history_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 2).unwrap()
}

pub fn spec(scale: u64, seed: u64) -> SeedSpec {
    SeedSpec {
        scale,
        seed,
        end: history_end(),
    }
}

/// A fresh database seeded with `spec`.
pub async fn seeded(label: &str, spec: SeedSpec) -> (TestDatabase, SeedReport) {
    let db = TestDatabase::create(label).await;
    let mut client = db.connect().await;
    let report = etl_cli::seed::seed(
        &mut client,
        SeedOptions { spec, force: false },
        |_, _, _| {},
    )
    .await
    .expect("seeding");
    (db, report)
}

/// One number from a query.
pub async fn scalar<T>(client: &tokio_postgres::Client, sql: &str) -> T
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// An order-independent fingerprint of every row of `table`.
pub async fn table_checksum(client: &tokio_postgres::Client, table: &str, key: &str) -> String {
    scalar(
        client,
        &format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY {key})), '') FROM {table} t"
        ),
    )
    .await
}
