//! `etl simulate` writes exactly what it reports, stamped in UTC like the application.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etl_devtools::simulate::{Operation, SimulateOptions, simulate};

use crate::support::{history_end, scalar, seeded, spec};

#[tokio::test]
async fn simulate_writes_exactly_the_rows_it_reports_in_utc() {
    let (db, _) = seeded("simulate", spec(300, 5)).await;
    let client = db.connect().await;
    // A non-UTC session time zone must not shift the application's UTC stamps.
    client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET timezone TO 'America/New_York'",
            db.name
        ))
        .await
        .unwrap();

    let options = SimulateOptions {
        duration: None,
        operations: Some(120),
        ops_per_sec: 0.0,
        settle_rate: 0.2,
        order_edit_rate: 0.15,
        dimension_edit_rate: 0.1,
        long_tx_rate: 0.2,
        long_tx_hold: Duration::from_millis(300),
        seed: 3,
    };
    let report = simulate(&db.url, Duration::from_secs(5), &options)
        .await
        .expect("simulate");
    assert_eq!(report.total_operations(), 120);
    for op in [
        Operation::NewOrder,
        Operation::LongNewOrder,
        Operation::Settlement,
        Operation::OrderEdit,
    ] {
        assert!(
            report.operations.get(&op).copied().unwrap_or(0) > 0,
            "no {op:?} in {report:?}"
        );
    }

    // Every row stamped after the seeded history is one the report names, and vice versa.
    let mut written: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for table in etl_contract::catalog::SOURCE_TABLES {
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM {} WHERE last_updated >= $1::text::timestamp",
                    table.primary_key, table.name
                ),
                &[&history_end().to_string()],
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            written.insert(table.name, rows.iter().map(|r| r.get(0)).collect());
        }
    }
    let reported: BTreeMap<&str, BTreeSet<i32>> = report
        .rows
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(t, ids)| (*t, ids.clone()))
        .collect();
    assert_eq!(written, reported);

    // Stamps are UTC wall-clock times of the writing transaction, at millisecond precision.
    let skew: f64 = scalar(
        &client,
        "SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - max(last_updated))::float8 FROM payment",
    )
    .await;
    assert!(
        (0.0..60.0).contains(&skew),
        "last stamp is {skew}s from UTC now"
    );

    // New orders keep the 1:1:1 chain.
    let orphans: i64 = scalar(
        &client,
        "SELECT count(*) FROM transaction t WHERE NOT EXISTS \
           (SELECT 1 FROM payment p WHERE p.transaction_id = t.transaction_id)",
    )
    .await;
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn simulate_against_an_unseeded_source_says_to_seed_first() {
    let db = etl_tests::TestDatabase::create("unseeded").await;
    let client = db.connect().await;
    client
        .batch_execute(etl_devtools::seed::SCHEMA_SQL)
        .await
        .unwrap();
    let err = simulate(&db.url, Duration::from_secs(5), &SimulateOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("etl seed"), "{err}");
}
