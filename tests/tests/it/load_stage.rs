//! The load stage against a real Postgres warehouse (issue: load acceptance).

use std::time::Duration;

use bytes::Bytes;
use etl_adapters::ObjectStore;
use etl_adapters::quarantine;
use etl_contract::layout::{RunId, manifest_key};
use etl_contract::manifest::{Manifest, Stage};
use etl_contract::warehouse::{FOREIGN_KEYS, TableKind, WAREHOUSE_TABLES};
use etl_devtools::simulate::{SimulateOptions, simulate};
use etl_tests::TestDatabase;
use load::{LoadError, LoadOutcome, load_run, migrate};

use crate::reconcile::{assert_warehouse_reconciles, warehouse_checksums};
use crate::support::{Pipeline, scalar, spec};

#[tokio::test]
async fn migrations_are_idempotent_and_create_exactly_the_warehouse_schema() {
    let db = TestDatabase::create("l_schema").await;
    let mut client = db.connect().await;
    // V1 the warehouse, V2 its views, V3 the inbox's schema with its registry and log.
    assert_eq!(migrate(&mut client).await.unwrap().len(), 3);
    assert!(
        migrate(&mut client).await.unwrap().is_empty(),
        "second apply is a no-op"
    );
    let inbox_tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'inbox' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(inbox_tables, ["etl_inbox_log", "etl_inbox_tables"]);

    for table in &WAREHOUSE_TABLES {
        let rows = client
            .query(
                "SELECT column_name::text, data_type::text, is_nullable = 'YES', \
                        coalesce(numeric_precision, 0), coalesce(numeric_scale, 0) \
                 FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&table.name],
            )
            .await
            .unwrap();
        let mut expected: Vec<(String, String, bool)> = Vec::new();
        if let Some(surrogate) = table.surrogate_key {
            expected.push((surrogate.into(), "bigint".into(), false));
        }
        for c in table.columns {
            let ty = match c.ty.sql() {
                "time" => "time without time zone",
                "timestamptz" => "timestamp with time zone",
                "numeric(10,2)" => "numeric",
                other => other,
            };
            expected.push((c.name.into(), ty.into(), c.nullable));
        }
        let actual: Vec<(String, String, bool)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(actual, expected, "columns of {}", table.name);
        for r in &rows {
            if r.get::<_, String>(1) == "numeric" {
                assert_eq!((r.get::<_, i32>(3), r.get::<_, i32>(4)), (10, 2));
            }
        }
        let pk: String = scalar(
            &client,
            &format!(
                "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a \
                   ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = '{}'::regclass AND i.indisprimary",
                table.name
            ),
        )
        .await;
        assert_eq!(
            pk,
            table.surrogate_key.unwrap_or(table.key),
            "primary key of {}",
            table.name
        );
        if table.kind == TableKind::Fact {
            let unique: String = scalar(
                &client,
                &format!(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE conrelid = '{}'::regclass AND contype = 'u'",
                    table.name
                ),
            )
            .await;
            assert_eq!(
                unique,
                format!("UNIQUE ({})", table.version_key().join(", "))
            );
        }
    }
    let mut fks: Vec<String> = client
        .query(
            "SELECT format('%s.%s->%s', conrelid::regclass, a.attname, confrelid::regclass) \
             FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE contype = 'f'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    fks.sort();
    let mut expected: Vec<String> = FOREIGN_KEYS
        .iter()
        .map(|f| format!("{}.{}->{}", f.fact, f.column, f.dimension))
        .collect();
    expected.sort();
    assert_eq!(fks, expected);
    for view in [
        "fact_sales_order_current",
        "fact_purchase_order_current",
        "fact_payment_current",
        "report_monthly_sales",
        "report_payments_outstanding",
    ] {
        let _: i64 = scalar(&client, &format!("SELECT count(*) FROM {view}")).await;
    }
}

#[tokio::test]
async fn loading_a_run_twice_changes_nothing_and_is_reported() {
    let p = Pipeline::new("l_twice", spec(500, 31)).await;
    p.run().await;
    let wh = p.warehouse.connect().await;
    let before = warehouse_checksums(&wh).await;
    let run_id: String = scalar(&wh, "SELECT run_id FROM etl_load_ledger").await;
    let run_id: RunId = run_id.parse().unwrap();
    let mut client = p.warehouse.connect().await;
    let again = load_run(&mut client, &p.processed, &run_id).await.unwrap();
    assert!(
        matches!(again, LoadOutcome::AlreadyLoaded { .. }),
        "{again:?}"
    );
    assert_eq!(before, warehouse_checksums(&wh).await);
    assert_warehouse_reconciles(&p.source.connect().await, &wh).await;
}

/// Several runs with every kind of change: new orders, settlements, edits, parent edits.
async fn pipeline_with_history(label: &str) -> (Pipeline, Vec<RunId>) {
    let p = pipeline_with_landed_history(label, 32, 3).await;
    let runs = p.transform().await.into_iter().map(|o| o.run_id).collect();
    (p, runs)
}

/// A seeded history and `cycles` rounds of live activity, each extracted (nothing transformed).
async fn pipeline_with_landed_history(label: &str, seed: u64, cycles: u64) -> Pipeline {
    let p = Pipeline::new(label, spec(400, seed)).await;
    p.extract().await;
    for seed in 0..cycles {
        let options = SimulateOptions {
            operations: Some(60),
            settle_rate: 0.3,
            order_edit_rate: 0.2,
            dimension_edit_rate: 0.2,
            seed,
            ..SimulateOptions::default()
        };
        simulate(&p.source.url, Duration::from_secs(5), &options)
            .await
            .unwrap();
        p.extract().await;
    }
    p
}

#[tokio::test]
async fn loading_runs_in_reverse_order_gives_the_same_warehouse() {
    let (p, runs) = pipeline_with_history("l_rev").await;
    assert_eq!(runs.len(), 4);
    let mut forward = p.warehouse.connect().await;
    migrate(&mut forward).await.unwrap();
    for run in &runs {
        load_run(&mut forward, &p.processed, run).await.unwrap();
    }
    // The reverse load runs as a role that is not a superuser: it cannot turn the row-by-row
    // foreign-key triggers off, so this also proves both integrity paths give one warehouse.
    let reverse_db = TestDatabase::create("l_rev_b").await;
    let loader = etl_tests::TestRole::create(&reverse_db, "loader").await;
    reverse_db
        .connect()
        .await
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" OWNER TO \"{}\"",
            reverse_db.name, loader.name
        ))
        .await
        .unwrap();
    let mut reverse = etl_tests::postgres::connect(&loader.url).await;
    assert!(
        reverse
            .batch_execute("SET session_replication_role = replica")
            .await
            .is_err(),
        "the loader role must not be able to skip the triggers"
    );
    migrate(&mut reverse).await.unwrap();
    for run in runs.iter().rev() {
        load_run(&mut reverse, &p.processed, run).await.unwrap();
    }
    assert_eq!(
        warehouse_checksums(&forward).await,
        warehouse_checksums(&reverse).await
    );
    assert_warehouse_reconciles(&p.source.connect().await, &forward).await;
    let placeholders: i64 = scalar(
        &reverse,
        "SELECT count(*) FROM dim_staff WHERE last_updated = '-infinity'",
    )
    .await;
    assert_eq!(
        placeholders, 0,
        "inferred members were replaced by the real rows"
    );
}

#[tokio::test]
async fn current_views_hold_the_latest_version_and_the_facts_keep_history() {
    let (p, _) = pipeline_with_history("l_cur").await;
    p.load().await;
    let wh = p.warehouse.connect().await;
    let payments: i64 = scalar(&p.source.connect().await, "SELECT count(*) FROM payment").await;
    let current: i64 = scalar(&wh, "SELECT count(*) FROM fact_payment_current").await;
    let distinct: i64 = scalar(
        &wh,
        "SELECT count(DISTINCT payment_id) FROM fact_payment_current",
    )
    .await;
    let history: i64 = scalar(&wh, "SELECT count(*) FROM fact_payment").await;
    assert_eq!((current, distinct), (payments, payments));
    assert!(
        history > current,
        "settlements and edits add versions ({history} vs {current})"
    );
    let stale: i64 = scalar(
        &wh,
        "SELECT count(*) FROM fact_payment_current c WHERE EXISTS ( \
           SELECT 1 FROM fact_payment f WHERE f.payment_id = c.payment_id \
             AND (f.last_updated_date, f.last_updated_time) > (c.last_updated_date, c.last_updated_time))",
    )
    .await;
    assert_eq!(stale, 0);
    assert_warehouse_reconciles(&p.source.connect().await, &wh).await;
}

#[tokio::test]
async fn extreme_values_arrive_exactly() {
    let p = Pipeline::new("l_extreme", spec(100, 33)).await;
    p.source
        .connect()
        .await
        .batch_execute(
            "UPDATE payment SET payment_amount = 99999999.99, created_at = '2024-02-29 23:59:59.999' WHERE payment_id = 1; \
             UPDATE payment SET payment_amount = -0.01 WHERE payment_id = 2; \
             UPDATE payment SET payment_amount = 0.00 WHERE payment_id = 3;",
        )
        .await
        .unwrap();
    p.run().await;
    let wh = p.warehouse.connect().await;
    let row = wh
        .query_one(
            "SELECT (SELECT payment_amount::text FROM fact_payment WHERE payment_id = 1), \
                    (SELECT payment_amount::text FROM fact_payment WHERE payment_id = 2), \
                    (SELECT payment_amount::text FROM fact_payment WHERE payment_id = 3), \
                    (SELECT created_date::text || ' ' || created_time::text FROM fact_payment WHERE payment_id = 1)",
            &[],
        )
        .await
        .unwrap();
    let got: (String, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        got,
        (
            "99999999.99".into(),
            "-0.01".into(),
            "0.00".into(),
            "2024-02-29 23:59:59.999".into()
        )
    );
    assert_warehouse_reconciles(&p.source.connect().await, &wh).await;
}

#[tokio::test]
async fn a_bad_parquet_file_loads_nothing_names_file_and_column_and_is_quarantined() {
    let p = Pipeline::new("l_bad", spec(100, 34)).await;
    p.extract().await;
    let runs = p.transform().await;
    let run_id = runs[0].run_id.clone();
    let key = manifest_key(&run_id);
    let manifest =
        Manifest::from_json(&key, &p.processed.get(&key).await.unwrap().unwrap().bytes).unwrap();

    // A dim_design file with the wrong schema (the dim_currency file under its name), with a
    // manifest that matches it, so only the schema check can catch it.
    let design_key = manifest.tables["dim_design"].parts[0].key.clone();
    let currency_bytes = p
        .processed
        .get(&manifest.tables["dim_currency"].parts[0].key)
        .await
        .unwrap()
        .unwrap()
        .bytes;
    let mut wrong = manifest.clone();
    let part = &mut wrong.tables.get_mut("dim_design").unwrap().parts[0];
    *part = etl_contract::manifest::Part::describe(design_key.clone(), part.rows, &currency_bytes);
    p.processed.put(&design_key, currency_bytes).await.unwrap();
    p.processed.put(&key, wrong.to_json().into()).await.unwrap();

    let mut wh = p.warehouse.connect().await;
    migrate(&mut wh).await.unwrap();
    let err = load_run(&mut wh, &p.processed, &run_id).await.unwrap_err();
    assert!(matches!(err, LoadError::BadColumn { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&design_key) && message.contains("column design_id"),
        "{message}"
    );
    let loaded: i64 = scalar(
        &wh,
        "SELECT (SELECT count(*) FROM etl_load_ledger) + (SELECT count(*) FROM dim_currency)",
    )
    .await;
    assert_eq!(loaded, 0, "nothing of the run is visible");
    assert!(
        quarantine::error_of(&p.processed, &run_id, Stage::Load)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        load::pending_loads(&wh, &p.processed)
            .await
            .unwrap()
            .is_empty()
    );

    // Corrupt bytes with a matching manifest: a clear error naming the file.
    quarantine::clear(&p.processed, &run_id, Stage::Load)
        .await
        .unwrap();
    let garbage = Bytes::from_static(b"PAR1 this is not parquet PAR1");
    let mut corrupt = manifest.clone();
    let part = &mut corrupt.tables.get_mut("dim_design").unwrap().parts[0];
    *part = etl_contract::manifest::Part::describe(design_key.clone(), part.rows, &garbage);
    p.processed.put(&design_key, garbage).await.unwrap();
    p.processed
        .put(&key, corrupt.to_json().into())
        .await
        .unwrap();
    let err = load_run(&mut wh, &p.processed, &run_id).await.unwrap_err();
    assert!(matches!(err, LoadError::BadParquet { .. }), "{err}");
    assert!(err.to_string().contains(&design_key), "{err}");
}

/// Waits until a backend of this test's warehouse database runs a statement that
/// matches `pattern` (polling pg_stat_activity: a condition, not a timed sleep). Returns its pid.
async fn backend_running(admin: &tokio_postgres::Client, pattern: &str) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(row) = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' \
                   AND datname = current_database() AND pid <> pg_backend_pid() LIMIT 1",
                &[&pattern],
            )
            .await
            .unwrap()
        {
            return row.get(0);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no backend ran {pattern}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_load_killed_mid_copy_or_waiting_for_a_lock_leaves_nothing_and_the_retry_succeeds() {
    let p = Pipeline::new("l_kill", spec(20_000, 35)).await;
    p.extract().await;
    let run_id = p.transform().await[0].run_id.clone();
    let admin = p.warehouse.connect().await;
    {
        let mut wh = p.warehouse.connect().await;
        migrate(&mut wh).await.unwrap();
    }

    // Mid-COPY: terminate the loading backend while it streams the biggest table (new rows:
    // straight into it).
    let mut loader = p.warehouse.connect().await;
    let processed = &p.processed;
    let load = load_run(&mut loader, processed, &run_id);
    let kill = async {
        let pid = backend_running(&admin, "COPY fact_payment %").await;
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
    };
    let (result, ()) = tokio::join!(load, kill);
    assert!(result.is_err(), "the killed load must fail");
    let visible: i64 = scalar(&admin, "SELECT (SELECT count(*) FROM etl_load_ledger) + (SELECT count(*) FROM dim_date) + (SELECT count(*) FROM fact_payment)").await;
    assert_eq!(visible, 0, "nothing of the killed run is visible");

    // Hold a lock the fact COPY needs, kill the load while it waits for it.
    let mut locker = p.warehouse.connect().await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE fact_payment IN SHARE MODE")
        .await
        .unwrap();
    let mut loader = p.warehouse.connect().await;
    let load = load_run(&mut loader, processed, &run_id);
    let kill = async {
        let pid = backend_running(&admin, "COPY fact_payment %").await;
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
    };
    let (result, ()) = tokio::join!(load, kill);
    assert!(result.is_err(), "the killed load must fail");
    lock.rollback().await.unwrap();
    let visible: i64 = scalar(&admin, "SELECT (SELECT count(*) FROM etl_load_ledger) + (SELECT count(*) FROM dim_date) + (SELECT count(*) FROM fact_sales_order)").await;
    assert_eq!(visible, 0, "nothing of the killed run is visible");

    // The retry loads the whole run.
    let mut retry = p.warehouse.connect().await;
    let outcome = load_run(&mut retry, processed, &run_id).await.unwrap();
    assert!(matches!(outcome, LoadOutcome::Loaded { .. }));
    assert_warehouse_reconciles(&p.source.connect().await, &admin).await;
}

#[tokio::test]
async fn hostile_event_delivery_leaves_the_warehouse_a_clean_run_leaves() {
    use etl_lambda::event::S3Event;
    let p = pipeline_with_landed_history("l_hostile", 36, 2).await;
    let mut landing_runs = transform::pending_runs(&p.landing, &p.processed)
        .await
        .unwrap();
    assert_eq!(landing_runs.len(), 3);

    // Transform: every event twice, newest first, plus a data key and an absent run.
    landing_runs.reverse();
    let ghost: RunId = "20200101T000000.000000Z-00000bad".parse().unwrap();
    let mut keys: Vec<String> = Vec::new();
    for run in &landing_runs {
        keys.push(manifest_key(run));
        keys.push(format!("data/payment/{run}/part-00000.jsonl"));
        keys.push(manifest_key(run));
    }
    keys.push(manifest_key(&ghost));
    for key in &keys {
        let event = S3Event::object_created("landing", [key.clone()]);
        let runs = event.manifest_runs("");
        for (run, result) in transform::process(&runs, &p.landing, &p.processed).await {
            if run == ghost {
                assert!(
                    result.is_err(),
                    "a manifest that is not there cannot transform"
                );
            } else {
                result.unwrap_or_else(|e| panic!("transform {run}: {e}"));
            }
        }
    }

    // Load: one event naming every run twice, shuffled (a fixed permutation), then again.
    let mut runs = landing_runs.clone();
    runs.rotate_left(1);
    let doubled: Vec<String> = runs
        .iter()
        .chain(runs.iter().rev())
        .map(manifest_key)
        .collect();
    let mut hostile = p.warehouse.connect().await;
    migrate(&mut hostile).await.unwrap();
    for _ in 0..2 {
        let event = S3Event::object_created("processed", doubled.clone());
        let runs = event.manifest_runs("");
        for (run, result) in load::process(&runs, &mut hostile, &p.processed).await {
            result.unwrap_or_else(|e| panic!("load {run}: {e}"));
        }
    }

    // The clean run: each run once, in order, into a second warehouse.
    let clean_db = TestDatabase::create("l_hostile_clean").await;
    let mut clean = clean_db.connect().await;
    migrate(&mut clean).await.unwrap();
    landing_runs.sort();
    for run in &landing_runs {
        load_run(&mut clean, &p.processed, run).await.unwrap();
    }
    assert_eq!(
        warehouse_checksums(&hostile).await,
        warehouse_checksums(&clean).await
    );
    assert_warehouse_reconciles(&p.source.connect().await, &hostile).await;
}
