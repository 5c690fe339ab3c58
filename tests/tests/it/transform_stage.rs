//! The transform stage on real data produced by extract (issue: transform acceptance).

use std::collections::BTreeMap;

use bytes::Bytes;
use etl_adapters::ObjectStore;
use etl_adapters::quarantine;
use etl_adapters::store::LocalStore;
use etl_contract::layout::{RunId, manifest_key};
use etl_contract::manifest::{Manifest, Part, Stage};
use etl_contract::warehouse::WAREHOUSE_TABLES;
use etl_contract::{Classify, Disposition, ErrorKind};
use etl_tests::craft::{
    department_line, design_line, edit_in_place, format1_landing_run, landing_run, payment_line,
};
use etl_tests::stores::{FailOn, FailingStore};
use parquet::file::reader::{FileReader, SerializedFileReader};
use transform::{TransformError, transform_run};

use crate::reconcile::{expected_sql, parquet_rows, text_rows};
use crate::support::{Pipeline, spec, temp_store};

/// Every object of a store, by key.
async fn snapshot_of(store: &LocalStore, prefix: &str) -> BTreeMap<String, Bytes> {
    let mut out = BTreeMap::new();
    for key in store.list(prefix).await.unwrap() {
        out.insert(key.clone(), store.get(&key).await.unwrap().unwrap().bytes);
    }
    out
}

async fn processed_manifest(store: &LocalStore, run_id: &RunId) -> Manifest {
    let key = manifest_key(run_id);
    Manifest::from_json(&key, &store.get(&key).await.unwrap().unwrap().bytes).unwrap()
}

async fn parquet_of(
    store: &LocalStore,
    manifest: &Manifest,
    table: &str,
) -> crate::reconcile::Rows {
    let part = &manifest.tables[table].parts[0];
    parquet_rows(table, store.get(&part.key).await.unwrap().unwrap().bytes)
}

#[tokio::test]
async fn parquet_equals_what_independent_sql_computes_with_exact_types() {
    let p = Pipeline::new("t_exact", spec(1_500, 21)).await;
    let oltp = p.source.connect().await;
    oltp.batch_execute(
        "UPDATE payment SET payment_amount = 99999999.99 WHERE payment_id = 1; \
         UPDATE payment SET payment_amount = -0.01 WHERE payment_id = 2;",
    )
    .await
    .unwrap();
    p.extract().await;
    let outcomes = p.transform().await;
    assert_eq!(outcomes.len(), 1);
    let manifest = processed_manifest(&p.processed, &outcomes[0].run_id).await;
    assert_eq!(manifest.stage, Stage::Transform);
    assert_eq!(
        manifest.tables.len(),
        11,
        "every warehouse table is written"
    );

    for table in &WAREHOUSE_TABLES {
        let expected = text_rows(&oltp, &expected_sql(table.name).unwrap()).await;
        let actual = parquet_of(&p.processed, &manifest, table.name).await;
        assert_eq!(actual.len(), expected.len(), "rows of {}", table.name);
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a, e, "{}", table.name);
        }
    }

    // Exact Parquet types and zstd, read back with the parquet crate.
    let part = &manifest.tables["fact_payment"].parts[0];
    let bytes = p.processed.get(&part.key).await.unwrap().unwrap().bytes;
    let reader = SerializedFileReader::new(bytes.clone()).unwrap();
    let row_group = reader.metadata().row_group(0);
    for column in row_group.columns() {
        assert!(
            column.compression().to_string().starts_with("ZSTD"),
            "{} is {}",
            column.column_path(),
            column.compression()
        );
    }
    let schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .schema()
        .clone();
    let type_of = |name: &str| {
        schema
            .field_with_name(name)
            .unwrap()
            .data_type()
            .to_string()
    };
    assert_eq!(type_of("payment_amount"), "Decimal128(10, 2)");
    assert_eq!(type_of("payment_date"), "Date32");
    assert_eq!(type_of("created_time"), "Time64(µs)");
    let dim = &manifest.tables["dim_staff"].parts[0];
    let dim_schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        p.processed.get(&dim.key).await.unwrap().unwrap().bytes,
    )
    .unwrap()
    .schema()
    .clone();
    assert_eq!(
        dim_schema
            .field_with_name("last_updated")
            .unwrap()
            .data_type()
            .to_string(),
        "Timestamp(µs, \"UTC\")"
    );
}

#[tokio::test]
async fn changes_propagate_to_the_facts_and_dimensions_they_affect() {
    let p = Pipeline::new("t_prop", spec(400, 22)).await;
    p.extract().await;
    p.transform().await;
    let oltp = p.source.connect().await;
    let stamp = "last_updated = now() AT TIME ZONE 'UTC'";
    let address: i32 = oltp
        .query_one(
            "SELECT legal_address_id FROM counterparty ORDER BY 1 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    oltp.batch_execute(&format!(
        "UPDATE payment SET paid = true, {stamp} WHERE payment_id = 5; \
         UPDATE address SET phone = '0000 000000', {stamp} WHERE address_id = {address}; \
         UPDATE department SET location = 'Leeds', {stamp} WHERE department_id = 4;"
    ))
    .await
    .unwrap();
    p.extract().await;
    let second = p.transform().await;
    assert_eq!(second.len(), 1);
    let manifest = processed_manifest(&p.processed, &second[0].run_id).await;

    let payments = parquet_of(&p.processed, &manifest, "fact_payment").await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0][0], "5");
    assert_eq!(payments[0][10], "true", "the new version is paid");

    let locations = parquet_of(&p.processed, &manifest, "dim_location").await;
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0][0], address.to_string());
    let counterparties = parquet_of(&p.processed, &manifest, "dim_counterparty").await;
    let expected: Vec<String> = oltp
        .query(
            "SELECT counterparty_id::text FROM counterparty WHERE legal_address_id = $1 ORDER BY 1",
            &[&address],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut emitted: Vec<String> = counterparties.iter().map(|r| r[0].clone()).collect();
    emitted.sort();
    assert_eq!(
        emitted, expected,
        "every counterparty at the changed address"
    );
    assert!(counterparties.iter().all(|r| r[8] == "0000 000000"));

    let staff = parquet_of(&p.processed, &manifest, "dim_staff").await;
    let in_dispatch: i64 = oltp
        .query_one("SELECT count(*) FROM staff WHERE department_id = 4", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(staff.len() as i64, in_dispatch);
    assert!(staff.iter().all(|r| r[3] == "Dispatch" && r[4] == "Leeds"));
}

#[tokio::test]
async fn applying_runs_in_reverse_order_gives_the_same_snapshots() {
    let p = Pipeline::new("t_order", spec(200, 23)).await;
    p.extract().await;
    let oltp = p.source.connect().await;
    oltp.batch_execute(
        "UPDATE address SET city = 'Later', last_updated = now() AT TIME ZONE 'UTC' WHERE address_id = 3; \
         UPDATE staff SET last_name = 'Later', last_updated = now() AT TIME ZONE 'UTC' WHERE staff_id = 2;",
    )
    .await
    .unwrap();
    p.extract().await;
    let mut runs: Vec<RunId> = transform::pending_runs(&p.landing, &p.processed)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        transform_run(run, &p.landing, &p.processed).await.unwrap();
    }
    let (_dir, reversed) = temp_store();
    runs.reverse();
    for run in &runs {
        transform_run(run, &p.landing, &reversed).await.unwrap();
    }
    assert_eq!(
        snapshot_of(&p.processed, "state/").await,
        snapshot_of(&reversed, "state/").await
    );
}

#[tokio::test]
async fn transforming_the_same_manifest_twice_is_byte_identical() {
    let p = Pipeline::new("t_det", spec(300, 24)).await;
    p.extract().await;
    let first = p.transform().await;
    let before = snapshot_of(&p.processed, "").await;
    transform_run(&first[0].run_id, &p.landing, &p.processed)
        .await
        .unwrap();
    assert_eq!(before, snapshot_of(&p.processed, "").await);
}

#[tokio::test]
async fn runs_landed_by_format_1_builds_as_plain_ndjson_transform_as_before() {
    let (_l, landing) = temp_store();
    let lines = [design_line(1), design_line(2)];
    let (old, old_manifest) = format1_landing_run(&landing, "design", &lines).await;
    let (new, new_manifest) = landing_run(&landing, "design", &lines).await;
    assert_eq!((old_manifest.format, new_manifest.format), (1, 2));
    let old_key = &old_manifest.tables["design"].parts[0].key;
    assert!(old_key.ends_with("/part-00000.jsonl"), "{old_key}");
    let new_part = &new_manifest.tables["design"].parts[0];
    assert!(
        new_part.key.ends_with("/part-00000.jsonl.zst"),
        "{}",
        new_part.key
    );

    let mut outputs = Vec::new();
    for run in [&old, &new] {
        let (_p, processed) = temp_store();
        transform_run(run, &landing, &processed).await.unwrap();
        let manifest = processed_manifest(&processed, run).await;
        outputs.push(parquet_of(&processed, &manifest, "dim_design").await);
    }
    assert_eq!(outputs[0].len(), 2);
    assert_eq!(outputs[0], outputs[1]);
}

#[tokio::test]
async fn an_unknown_currency_fails_naming_the_currency_id() {
    let p = Pipeline::new("t_ccy", spec(50, 25)).await;
    let oltp = p.source.connect().await;
    oltp.batch_execute("UPDATE currency SET currency_code = 'XTS' WHERE currency_id = 2")
        .await
        .unwrap();
    let outcome = p.extract().await;
    let run_id = outcome.runs[0].run_id.clone();
    let err = transform_run(&run_id, &p.landing, &p.processed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransformError::UnknownCurrency { currency_id: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("currency_id 2"), "{err}");
    assert!(
        quarantine::error_of(&p.processed, &run_id, Stage::Transform)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn bad_input_fails_precisely_is_quarantined_and_blocks_nothing() {
    let (_l, landing) = temp_store();
    let (_p, processed) = temp_store();

    // (run, expected message fragment, how to spoil it)
    let mut cases: Vec<(RunId, &str)> = Vec::new();

    let (run, _) = landing_run(
        &landing,
        "design",
        &[design_line(1), r#"{"design_id":2,"oops""#.to_string()],
    )
    .await;
    cases.push((
        run,
        "line 2: not a JSON object (the line ends inside a JSON value)",
    ));

    let (run, _) = landing_run(
        &landing,
        "payment",
        &[payment_line(1, "2024-02-30", "1.00")],
    )
    .await;
    // Messages name the position and the row's key, never the value.
    cases.push((
        run,
        "line 1, column payment_date: a string that is not a valid YYYY-MM-DD date (payment_id 1)",
    ));

    let (run, _) = landing_run(
        &landing,
        "payment",
        &[payment_line(1, "2024-02-01", "1e12")],
    )
    .await;
    cases.push((
        run,
        "column payment_amount: not a numeric(10,2): not a plain decimal number (payment_id 1)",
    ));

    let (run, manifest) = landing_run(&landing, "design", &[design_line(3)]).await;
    let part = &manifest.tables["design"].parts[0];
    landing.delete(&part.key).await.unwrap();
    cases.push((run, "is named by the manifest but does not exist"));

    let (run, manifest) = landing_run(&landing, "design", &[design_line(4)]).await;
    edit_in_place(&landing, &manifest.tables["design"].parts[0].key).await;
    cases.push((run, "the sha256 is"));

    // Plain NDJSON named as a compressed part, its manifest checksums made to match.
    let (run, mut manifest) = landing_run(&landing, "design", &[design_line(7)]).await;
    let part = &mut manifest.tables.get_mut("design").unwrap().parts[0];
    let plain = design_line(7) + "\n";
    *part = Part::describe(part.key.clone(), 1, plain.as_bytes());
    landing
        .put(&part.key, Bytes::from(plain.clone()))
        .await
        .unwrap();
    landing
        .put(&manifest_key(&run), manifest.to_json().into())
        .await
        .unwrap();
    cases.push((run, "part-00000.jsonl.zst is not zstd-compressed NDJSON"));

    let (run, mut manifest) = landing_run(&landing, "design", &[design_line(5)]).await;
    manifest.tables.get_mut("design").unwrap().rows = 2;
    manifest.tables.get_mut("design").unwrap().parts[0].rows = 2;
    landing
        .put(&manifest_key(&run), manifest.to_json().into())
        .await
        .unwrap();
    cases.push((run, "the row count is 1, the manifest says 2"));

    let (good, _) = landing_run(&landing, "design", &[design_line(6)]).await;

    for (run, fragment) in &cases {
        let err = transform_run(run, &landing, &processed).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(fragment), "{message} lacks {fragment:?}");
        for value in ["2024-02-30", "1e12", "oops"] {
            assert!(!message.contains(value), "a value leaked: {message}");
        }
        assert!(processed.get(&manifest_key(run)).await.unwrap().is_none());
        let recorded = quarantine::error_of(&processed, run, Stage::Transform)
            .await
            .unwrap()
            .expect("quarantine record");
        assert!(recorded.contains(fragment), "{recorded}");
        let copied = processed
            .list(&format!(
                "{}input/",
                quarantine::prefix(run, Stage::Transform)
            ))
            .await
            .unwrap();
        assert!(
            copied.iter().any(|k| k.ends_with(&format!("{run}.json"))),
            "{copied:?}"
        );
    }
    // The quarantined runs are no longer pending; the good one still is, and goes through.
    assert_eq!(
        transform::pending_runs(&landing, &processed).await.unwrap(),
        vec![good.clone()]
    );
    transform_run(&good, &landing, &processed).await.unwrap();
}

#[tokio::test]
async fn losing_every_snapshot_race_retries_the_run_and_quarantines_nothing() {
    let (_l, landing) = temp_store();
    let (_p, processed) = temp_store();
    let (run, _) = landing_run(&landing, "department", &[department_line(1)]).await;
    // Another transform saves the department snapshot first, every time.
    let contended = FailingStore::new(processed.clone(), FailOn::LosesEveryRaceUnder("state/"));
    let error = transform_run(&run, &landing, &contended).await.unwrap_err();
    assert!(
        matches!(error, TransformError::StateContended { .. }),
        "{error}"
    );
    assert_eq!(error.disposition(), Disposition::RetryRunLater, "{error}");
    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert!(
        quarantine::error_of(&processed, &run, Stage::Transform)
            .await
            .unwrap()
            .is_none(),
        "contention is not the input's fault: nothing may be quarantined"
    );
    // The same input goes through once the race is won.
    transform_run(&run, &landing, &processed).await.unwrap();
    assert!(processed.get(&manifest_key(&run)).await.unwrap().is_some());
}

#[test]
fn our_own_failures_are_never_blamed_on_the_input() {
    let polars = TransformError::Frame {
        table: "fact_sales_order",
        source: polars::error::PolarsError::ComputeError("a bug of ours".into()),
    };
    let parquet = TransformError::Parquet {
        table: "dim_date",
        reason: "a bug of ours".into(),
    };
    for error in [polars, parquet] {
        assert_eq!(error.disposition(), Disposition::Fail, "{error}");
    }
}
