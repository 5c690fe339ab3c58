//! The lake (issue 16): each warehouse table as an Iceberg table that DuckDB and pyiceberg read
//! back exactly as the warehouse holds it, whatever order the runs arrive in and however often.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etl_adapters::ObjectStore;
use etl_adapters::store::LocalStore;
use etl_cli::local::Stages;
use etl_contract::RunId;
use etl_contract::config::StoreLocation;
use etl_contract::manifest::Manifest;
use etl_devtools::simulate::{SimulateOptions, simulate};
use etl_tests::lake::{processed_runs, read_lake, read_lake_from_glue, warehouse_state};
use lake::{Lake, TableOutcome, publish};

use crate::reconcile::assert_warehouse_reconciles;
use crate::support::{Pipeline, local_runner, spec};

/// The tables each processed run has rows for.
async fn tables_of(processed: &dyn ObjectStore, runs: &[RunId]) -> BTreeMap<String, Vec<String>> {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for run in runs {
        let key = etl_contract::layout::manifest_key(run);
        let bytes = processed.get(&key).await.unwrap().unwrap().bytes;
        for table in Manifest::from_json(&key, &bytes).unwrap().tables.keys() {
            tables
                .entry(table.clone())
                .or_default()
                .push(run.to_string());
        }
    }
    for runs in tables.values_mut() {
        runs.sort();
    }
    tables
}

/// Rewrites processed run `run` as a transform from before field ids wrote it: the same rows
/// and Arrow types, the fields without their Iceberg field ids, the manifest describing the new
/// bytes. What the lake finds in a processed bucket filled by an earlier release.
pub async fn without_field_ids(processed: &dyn ObjectStore, run: &RunId) {
    use arrow_array::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let key = etl_contract::layout::manifest_key(run);
    let bytes = processed.get(&key).await.unwrap().unwrap().bytes;
    let mut manifest = Manifest::from_json(&key, &bytes).unwrap();
    for files in manifest.tables.values_mut() {
        for part in &mut files.parts {
            let bytes = processed.get(&part.key).await.unwrap().unwrap().bytes;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
            let plain = std::sync::Arc::new(arrow_schema::Schema::new(
                reader
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_metadata(Default::default()))
                    .collect::<Vec<_>>(),
            ));
            let mut out = Vec::new();
            let mut writer = ArrowWriter::try_new(&mut out, plain.clone(), None).unwrap();
            for batch in reader.build().unwrap() {
                let batch = batch.unwrap();
                let batch = RecordBatch::try_new(plain.clone(), batch.columns().to_vec()).unwrap();
                writer.write(&batch).unwrap();
            }
            writer.close().unwrap();
            *part = etl_contract::manifest::Part::describe(part.key.clone(), part.rows, &out);
            processed.put(&part.key, out.into()).await.unwrap();
        }
    }
    etl_tests::craft::put_manifest(processed, &manifest).await;
}

/// The sha256 of every data file in the lake.
fn data_file_digests(root: &std::path::Path) -> std::collections::BTreeSet<String> {
    etl_contract::warehouse::WAREHOUSE_TABLES
        .iter()
        .filter_map(|t| std::fs::read_dir(root.join(t.name).join("data")).ok())
        .flatten()
        .map(|entry| {
            etl_contract::manifest::sha256_hex(&std::fs::read(entry.unwrap().path()).unwrap())
        })
        .collect()
}

/// The sha256 of every processed file of `run`.
async fn part_digests(processed: &dyn ObjectStore, run: &RunId) -> Vec<String> {
    let key = etl_contract::layout::manifest_key(run);
    let bytes = processed.get(&key).await.unwrap().unwrap().bytes;
    Manifest::from_json(&key, &bytes)
        .unwrap()
        .tables
        .values()
        .flat_map(|files| files.parts.iter().map(|p| p.sha256.clone()))
        .collect()
}

/// Publishes `runs` newest first (the reverse of the order they were made in), each appending to
/// every table it has rows for; then every run again, as a replay or a redelivery would, which
/// changes nothing.
async fn publish_newest_first_then_again(lake: &Lake, processed: &dyn ObjectStore, runs: &[RunId]) {
    for run in runs.iter().rev() {
        let published = publish(lake, processed, run).await.unwrap();
        assert!(
            published
                .tables
                .values()
                .all(|t| matches!(t, TableOutcome::Appended { .. })),
            "{run}: {published:?}"
        );
    }
    for run in runs {
        let again = publish(lake, processed, run).await.unwrap();
        assert!(
            again
                .tables
                .values()
                .all(|t| *t == TableOutcome::AlreadyThere),
            "{run}: {again:?}"
        );
    }
}

#[tokio::test]
async fn the_lake_reads_back_in_duckdb_and_pyiceberg_as_the_warehouse_holds_it() {
    let p = Pipeline::new("lake_day", spec(400, 61)).await;
    // A small budget: the history lands in several runs.
    let local = local_runner(&p, 600).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    let options = SimulateOptions {
        operations: Some(150),
        settle_rate: 0.3,
        order_edit_rate: 0.2,
        dimension_edit_rate: 0.2,
        seed: 9,
        ..SimulateOptions::default()
    };
    simulate(&p.source.url, Duration::from_secs(5), &options)
        .await
        .unwrap();
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root.clone()).unwrap());
    let lake = Lake::new(store, root.to_str().unwrap(), None);
    let runs = processed_runs(&p.processed).await;
    assert!(
        runs.len() >= 3,
        "the history and the day make several runs: {runs:?}"
    );

    // The oldest run as an earlier release's transform wrote it (no Iceberg field ids): the
    // lake rewrites those files, and registers the others as they are.
    without_field_ids(&p.processed, &runs[0]).await;

    publish_newest_first_then_again(&lake, &p.processed, &runs).await;
    let in_lake = data_file_digests(&root);
    for (i, run) in runs.iter().enumerate() {
        for digest in part_digests(&p.processed, run).await {
            assert_eq!(
                in_lake.contains(&digest),
                i > 0,
                "{run}: a processed file with field ids is copied in byte for byte, one without \
                 them rewritten"
            );
        }
    }

    let read = read_lake(&root);
    let warehouse = warehouse_state(&p.warehouse.connect().await).await;
    let expected_runs = tables_of(&p.processed, &runs).await;
    for (table, rows) in &warehouse.tables {
        let lake = &read.tables[table];
        assert!(!rows.is_empty(), "{table} is empty in the warehouse");
        assert_eq!(&lake.duckdb, rows, "{table}: DuckDB against the warehouse");
        assert_eq!(
            &lake.pyiceberg, rows,
            "{table}: pyiceberg against the warehouse"
        );
        assert_eq!(
            lake.runs, expected_runs[table],
            "{table}: one snapshot per run that has rows for it"
        );
    }
    for (report, rows) in &warehouse.reports {
        assert!(!rows.is_empty(), "{report} is empty in the warehouse");
        assert_eq!(
            &read.reports[report], rows,
            "{report}: DuckDB against the warehouse"
        );
    }
    // The Athena views Terraform deploys, run in DuckDB over the same tables.
    assert_eq!(read.athena_tables.len(), warehouse.tables.len());
    for (table, rows) in &warehouse.tables {
        assert_eq!(
            &read.athena_tables[table], rows,
            "{table}: the Athena view against the warehouse"
        );
    }
    for (report, rows) in &warehouse.reports {
        assert_eq!(
            &read.athena_reports[report], rows,
            "{report}: the Athena view against the warehouse"
        );
    }
}

/// `etl run` with `ETL_LAKE`: the lake is a stage of its own. Here it cannot write its first
/// table (`dim_date` is a file where its folder should be): load is not held up or rolled back,
/// the cycle reports the lake's runs as failed, and the next cycle publishes every run that was
/// left pending.
#[tokio::test]
async fn etl_run_publishes_to_the_lake_and_a_lake_failure_stops_nothing_else() {
    let p = Pipeline::new("lake_run", spec(300, 62)).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let blocker = root.join("dim_date");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let mut local = local_runner(&p, 600).await;
    local.lake = Some(Lake::open(&StoreLocation::Local(root.clone()), None, None).unwrap());

    let cycle = local.cycle(Stages::All).await.unwrap();
    let runs = processed_runs(&p.processed).await;
    assert!(runs.len() >= 2, "{runs:?}");
    assert_eq!(cycle.loaded.len(), runs.len());
    assert!(
        cycle.loaded.iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        cycle.loaded
    );
    assert_warehouse_reconciles(&p.source.connect().await, &p.warehouse.connect().await).await;
    assert_eq!(cycle.published.len(), runs.len());
    let failures = cycle.failures();
    assert!(!failures.is_empty());
    assert!(
        failures
            .iter()
            .all(|f| f.starts_with("lake ") && f.contains("dim_date")),
        "{failures:?}"
    );
    let lake = local.lake.as_ref().unwrap();
    assert_eq!(
        lake.pending(&p.processed).await.unwrap().len(),
        failures.len()
    );
    // `etl status` shows the lake behind: the runs it failed are pending there, not at load.
    let status = etl_cli::status::status(&local).await.unwrap();
    assert_eq!(status.pending_lake.len(), failures.len());
    assert!(status.pending_load.is_empty());

    std::fs::remove_file(&blocker).unwrap();
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    assert_eq!(
        cycle.published.len(),
        failures.len(),
        "the runs left pending"
    );
    assert!(lake.pending(&p.processed).await.unwrap().is_empty());
    let status = etl_cli::status::status(&local).await.unwrap();
    let line = status.stages().pop().unwrap();
    assert_eq!((line.stage.as_str(), line.pending), ("lake", 0));
    assert_eq!(
        line.last.map(|l| l.run_id),
        runs.last().map(ToString::to_string),
        "the lake's last run is the newest"
    );
    for table in ["dim_date", "dim_staff", "fact_sales_order", "fact_payment"] {
        let held = lake.runs(table).await.unwrap();
        let mut distinct = held.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            held.len(),
            distinct.len(),
            "{table}: each run once: {held:?}"
        );
    }
}

/// The same lake in S3 (moto): every commit goes through S3's conditional writes (the hint is
/// created with `If-None-Match` and swapped with `If-Match`), in reverse order and replayed.
/// Reading it back with DuckDB and pyiceberg is covered on a directory above; here the tables'
/// snapshots are checked through the lake itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_lake_in_s3_holds_each_run_once_per_table_whatever_the_order() {
    let p = Pipeline::new("lake_s3", spec(300, 63)).await;
    let local = local_runner(&p, 600).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "lake").await;
    let location = StoreLocation::S3 {
        bucket: "lake".into(),
        prefix: "team/lake/".into(),
    };
    let lake = Lake::open(&location, None, Some(&sdk)).unwrap();
    let runs = processed_runs(&p.processed).await;
    assert!(runs.len() >= 2, "{runs:?}");
    publish_newest_first_then_again(&lake, &p.processed, &runs).await;
    assert!(lake.pending(&p.processed).await.unwrap().is_empty());
    let expected = tables_of(&p.processed, &runs).await;
    for (table, runs) in &expected {
        let mut held = lake.runs(table).await.unwrap();
        held.sort();
        assert_eq!(&held, runs, "{table}");
    }
    let s3 = etl_adapters::store::S3Store::new(&sdk, "lake", "team/lake/");
    let hint = s3
        .get("fact_payment/metadata/version-hint.text")
        .await
        .unwrap()
        .expect("the table's hint is in the bucket");
    let metadata = format!(
        "fact_payment/metadata/{}.metadata.json",
        String::from_utf8_lossy(&hint.bytes)
    );
    let current = s3
        .get(&metadata)
        .await
        .unwrap()
        .expect("the hint names a metadata file");
    let text = String::from_utf8_lossy(&current.bytes);
    assert!(
        text.contains("\"location\":\"s3://lake/team/lake/fact_payment\""),
        "the table's location is its S3 folder: {text:.300}"
    );
}

/// The cloud's lake: tables in S3 committed through the Glue Data Catalog (moto's), as
/// Terraform deploys it. Publishing newest first and then every run again leaves each Glue
/// table an Iceberg table whose `metadata_location` is the newest commit, and pyiceberg's Glue
/// catalog reads every table back as the warehouse holds it. moto accepts `UpdateTable`'s
/// `VersionId` without checking it, so the refusal of a stale swap is not exercised here (the
/// directory and S3-hint catalogs' conflicts are, above and in the fault matrix).
#[tokio::test(flavor = "multi_thread")]
async fn a_lake_registered_in_glue_reads_back_through_pyicebergs_glue_catalog() {
    let p = Pipeline::new("lake_glue", spec(300, 64)).await;
    let local = local_runner(&p, 600).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "lake").await;
    moto.create_glue_database(&sdk, "etl_lake").await;
    let glue = lake::GlueClient::new(&sdk);
    let location = StoreLocation::S3 {
        bucket: "lake".into(),
        prefix: "lake/".into(),
    };
    let lake = Lake::open(&location, Some("etl_lake"), Some(&sdk)).unwrap();
    let runs = processed_runs(&p.processed).await;
    assert!(runs.len() >= 2, "{runs:?}");
    publish_newest_first_then_again(&lake, &p.processed, &runs).await;

    let s3 = etl_adapters::store::S3Store::new(&sdk, "lake", "lake/");
    assert!(
        s3.get("fact_payment/metadata/version-hint.text")
            .await
            .unwrap()
            .is_none(),
        "with Glue, the Glue table is the pointer: no hint is written"
    );
    let read = read_lake_from_glue(&moto.endpoint(), "etl_lake");
    let warehouse = warehouse_state(&p.warehouse.connect().await).await;
    let expected_runs = tables_of(&p.processed, &runs).await;
    for (table, rows) in &warehouse.tables {
        let lake_table = &read.tables[table];
        assert_eq!(
            &lake_table.pyiceberg, rows,
            "{table}: pyiceberg (Glue) against the warehouse"
        );
        assert_eq!(lake_table.runs, expected_runs[table], "{table}");
        let entry = glue
            .call(
                "GetTable",
                &serde_json::json!({"DatabaseName": "etl_lake", "Name": table}),
            )
            .await
            .unwrap();
        let entry = &entry["Table"];
        let parameters = &entry["Parameters"];
        assert_eq!(parameters["table_type"], "ICEBERG", "{table}");
        let current = parameters[lake::METADATA_LOCATION].as_str().unwrap();
        assert!(
            current.starts_with(&format!("s3://lake/lake/{table}/metadata/")),
            "{table}: {current}"
        );
        assert_eq!(lake_table.metadata_location.as_deref(), Some(current));
        assert_eq!(
            entry["StorageDescriptor"]["Columns"]
                .as_array()
                .unwrap()
                .len(),
            etl_contract::warehouse::warehouse_table(table)
                .unwrap()
                .columns
                .len(),
            "{table}: Glue lists the table's columns"
        );
    }
}

/// The lake signs its Glue calls itself (lake::glue, no generated SDK client): with moto
/// checking every signature against botocore's signer, a key moto issued gets through
/// (create, read, a Glue error that names its exception) and a wrong secret does not.
#[tokio::test(flavor = "multi_thread")]
async fn the_lakes_glue_calls_carry_signatures_aws_accepts() {
    let moto = etl_tests::Moto::start();
    let (id, secret) = moto.enforce_signatures();
    let glue = lake::GlueClient::new(&moto.sdk_config_as(&id, &secret).await);
    glue.call(
        "CreateDatabase",
        &serde_json::json!({"DatabaseInput": {"Name": "signed"}}),
    )
    .await
    .unwrap();
    let database = glue
        .call("GetDatabase", &serde_json::json!({"Name": "signed"}))
        .await
        .unwrap();
    assert_eq!(database["Database"]["Name"], "signed");
    match glue
        .call(
            "GetTable",
            &serde_json::json!({"DatabaseName": "signed", "Name": "absent"}),
        )
        .await
    {
        Err(lake::GlueCallError::Service { code, status, .. }) => {
            assert_eq!((code.as_str(), status), ("EntityNotFoundException", 400));
        }
        other => panic!("GetTable of an absent table: {other:?}"),
    }

    let forged = lake::GlueClient::new(&moto.sdk_config_as(&id, &format!("{secret}x")).await);
    match forged
        .call("GetDatabase", &serde_json::json!({"Name": "signed"}))
        .await
    {
        Err(e @ lake::GlueCallError::Service { status: 403, .. }) => assert!(!e.retryable()),
        other => panic!("a wrong secret must be refused: {other:?}"),
    }
}
