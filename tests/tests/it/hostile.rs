//! Hostile input through the Lambda handlers, against `moto_server` and a real warehouse: each
//! kind of spoiled input fails its run with an error naming what and where, publishes exactly one
//! alert (however often the event is redelivered), leaves a quarantine record with the reason,
//! and blocks nothing: the next good run loads and the warehouse reconciles with the OLTP.

use std::time::Duration;

use bytes::Bytes;
use etl_adapters::quarantine;
use etl_adapters::store::ObjectStore;
use etl_contract::layout::{RunId, manifest_key, processed_table_key};
use etl_contract::manifest::{MANIFEST_FORMAT, Manifest, Part, Stage};
use etl_devtools::simulate::{SimulateOptions, simulate};
use etl_tests::alerts::AlertTopic;
use etl_tests::craft::{design_line, edit_in_place, landing_run, payment_line, put_manifest};
use etl_tests::lambdas::{Cloud, lambda_log_env, manifest_event, transform_and_load};

use crate::reconcile::assert_warehouse_reconciles;

/// One spoiled input: the run it is, the stage that must refuse it, and a fragment the error,
/// the alert and the quarantine record must all contain.
struct Case {
    what: &'static str,
    stage: Stage,
    run: RunId,
    fragment: String,
}

/// A landing run of one design line, spoiled by `spoil`.
async fn spoiled_landing_run(
    store: &dyn ObjectStore,
    line: String,
    spoil: impl AsyncFnOnce(&dyn ObjectStore, &mut Manifest),
) -> RunId {
    let (run, mut manifest) = landing_run(store, "design", &[line]).await;
    spoil(store, &mut manifest).await;
    run
}

/// A copy of processed run `of` as a new run, one of whose files `spoil` changes (and the
/// manifest with it, so that only reading the file can tell).
async fn spoiled_processed_run(
    store: &dyn ObjectStore,
    of: &RunId,
    table: &str,
    spoil: impl Fn(Bytes) -> Option<Bytes>,
) -> (RunId, String) {
    let key = manifest_key(of);
    let mut manifest = Manifest::from_json(&key, &store.get(&key).await.unwrap().unwrap().bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = RunId::new(chrono::Utc::now());
    manifest.run_id = run.clone();
    let mut spoiled_key = String::new();
    for (name, files) in manifest.tables.iter_mut() {
        for part in files.parts.iter_mut() {
            let bytes = store.get(&part.key).await.unwrap().unwrap().bytes;
            let new_key = processed_table_key(name, &run);
            let bytes = if name == table {
                spoiled_key = new_key.clone();
                spoil(bytes)
            } else {
                Some(bytes)
            };
            if let Some(bytes) = bytes {
                *part = Part::describe(new_key.clone(), part.rows, &bytes);
                store.put(&new_key, bytes).await.unwrap();
            } else {
                part.key = new_key;
            }
        }
    }
    assert!(!spoiled_key.is_empty(), "run {of} has no {table} file");
    put_manifest(store, &manifest).await;
    (run, spoiled_key)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_is_alerted_once_quarantined_with_its_reason_and_blocks_nothing() {
    let cloud = Cloud::new("hostile").await;
    let topic = AlertTopic::create(&cloud.sdk, "etl-alerts").await;
    let config = cloud.config(Some(topic.arn.clone()));
    lambda_log_env();
    let transform = etl_lambda::transform::Handler::new(&config, &cloud.sdk)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let load = etl_lambda::load::Handler::new(config.clone(), &cloud.sdk)
        .await
        .unwrap_or_else(|f| panic!("{f}"));

    // A clean history first: the hostile runs arrive at a warehouse in use.
    let history = cloud.extract().await;
    transform_and_load(&transform, &load, &history).await;

    let landing: &dyn ObjectStore = &cloud.landing;
    let processed: &dyn ObjectStore = &cloud.processed;
    let mut cases = Vec::new();

    let run = spoiled_landing_run(landing, design_line(9001), async |store, manifest| {
        edit_in_place(store, &manifest.tables["design"].parts[0].key).await;
    })
    .await;
    cases.push(Case {
        what: "a landing file edited after its manifest",
        stage: Stage::Transform,
        run,
        fragment: "the sha256 is".into(),
    });

    let run = spoiled_landing_run(landing, design_line(9002), async |store, manifest| {
        store
            .delete(&manifest.tables["design"].parts[0].key)
            .await
            .unwrap();
    })
    .await;
    cases.push(Case {
        what: "a landing manifest naming a missing object",
        stage: Stage::Transform,
        run,
        fragment: "is named by the manifest but does not exist".into(),
    });

    let run = spoiled_landing_run(landing, design_line(9003), async |store, manifest| {
        manifest.format = MANIFEST_FORMAT + 1;
        put_manifest(store, manifest).await;
    })
    .await;
    cases.push(Case {
        what: "a manifest of an unknown future format",
        stage: Stage::Transform,
        run,
        fragment: format!(
            "has format {}, but this build understands formats 1 to {MANIFEST_FORMAT}",
            MANIFEST_FORMAT + 1
        ),
    });

    let extra = design_line(9004).replace('}', r#","colour":"red"}"#);
    let (run, _) = landing_run(landing, "design", &[extra]).await;
    cases.push(Case {
        what: "a JSON line with an extra field",
        stage: Stage::Transform,
        run,
        fragment: "line 1, column colour: field is not a column of source table design".into(),
    });

    let missing = design_line(9005).replace(r#""file_name":"steel-20240101-abcd.json","#, "");
    let (run, _) = landing_run(landing, "design", &[missing]).await;
    cases.push(Case {
        what: "a JSON line with a missing field",
        stage: Stage::Transform,
        run,
        fragment: "line 1, column file_name: field is missing".into(),
    });

    let huge = payment_line(9006, "2024-02-01", "1000000000000.00");
    let (run, _) = landing_run(landing, "payment", &[huge]).await;
    cases.push(Case {
        what: "1e12 for a numeric(10,2)",
        stage: Stage::Transform,
        run,
        // The position and the row's key, never the value (alerts reach inboxes).
        fragment: "line 1, column payment_amount: not a numeric(10,2): 13 digits before the \
                   decimal point, at most 8 (payment_id 9006)"
            .into(),
    });

    let (run, key) = spoiled_processed_run(processed, &history[0], "dim_design", |bytes| {
        Some(bytes.slice(..bytes.len() / 2))
    })
    .await;
    cases.push(Case {
        what: "a truncated Parquet file",
        stage: Stage::Load,
        run,
        fragment: key,
    });

    let (run, key) = spoiled_processed_run(processed, &history[0], "dim_currency", |_| None).await;
    cases.push(Case {
        what: "a processed manifest naming a missing object",
        stage: Stage::Load,
        fragment: format!("{key} is named by the manifest but does not exist"),
        run,
    });

    let warehouse = cloud.warehouse.connect().await;
    let ledger = || async {
        warehouse
            .query_one("SELECT count(*) FROM etl_load_ledger", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let ledger_before = ledger().await;

    // Every event arrives twice (Lambda's retry of a failed async invocation).
    for case in &cases {
        for delivery in 1..=2 {
            let failure = match case.stage {
                Stage::Transform => {
                    transform
                        .handle(manifest_event("landing", case.run.as_str()))
                        .await
                }
                _ => {
                    load.handle(manifest_event("processed", case.run.as_str()))
                        .await
                }
            }
            .expect_err(case.what);
            assert_eq!(
                failure.error_type(),
                "Permanent",
                "{}: {failure}",
                case.what
            );
            if delivery == 1 {
                assert!(
                    failure.message.contains(&case.fragment),
                    "{}: {failure} lacks {:?}",
                    case.what,
                    case.fragment
                );
            }
        }
        let record = quarantine::error_of(processed, &case.run, case.stage)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: no quarantine record", case.what));
        assert!(record.contains(&case.fragment), "{}: {record}", case.what);
        let copied = processed
            .list(&format!(
                "{}input/",
                quarantine::prefix(&case.run, case.stage)
            ))
            .await
            .unwrap();
        assert!(
            copied.contains(&format!(
                "{}input/{}",
                quarantine::prefix(&case.run, case.stage),
                manifest_key(&case.run)
            )),
            "{}: the manifest is kept: {copied:?}",
            case.what
        );
        if case.stage == Stage::Transform {
            assert!(
                processed
                    .get(&manifest_key(&case.run))
                    .await
                    .unwrap()
                    .is_none(),
                "{}: no processed output",
                case.what
            );
        }
        eprintln!("hostile input, {}: refused, quarantined", case.what);
    }
    assert_eq!(ledger().await, ledger_before, "no hostile run was loaded");

    let published = topic.published().await;
    for case in &cases {
        let alerts: Vec<_> = published
            .iter()
            .filter(|(subject, _)| subject.contains(case.run.as_str()))
            .collect();
        assert_eq!(alerts.len(), 1, "{}: one alert, got {alerts:#?}", case.what);
        let (subject, body) = alerts[0];
        assert!(
            subject.contains(&format!("{} failed", case.stage)),
            "{subject}"
        );
        assert!(body.contains(&case.fragment), "{}: {body}", case.what);
        assert!(
            body.contains(&quarantine::prefix(&case.run, case.stage)),
            "{}: {body}",
            case.what
        );
    }
    assert_eq!(published.len(), cases.len(), "{published:#?}");
    // No alert quotes a value of the hostile rows (customer data must not reach inboxes).
    for (_, body) in &published {
        assert!(!body.contains("1000000000000"), "a value leaked: {body}");
    }

    // The next good run goes through as if nothing had happened.
    let options = SimulateOptions {
        operations: Some(40),
        settle_rate: 0.3,
        order_edit_rate: 0.2,
        dimension_edit_rate: 0.2,
        seed: 11,
        ..SimulateOptions::default()
    };
    simulate(&cloud.source.url, Duration::from_secs(5), &options)
        .await
        .unwrap();
    let next = cloud.extract().await;
    assert!(!next.is_empty());
    transform_and_load(&transform, &load, &next).await;
    assert_warehouse_reconciles(&cloud.source.connect().await, &warehouse).await;
    assert!(
        topic.published().await.is_empty(),
        "good runs alert nothing"
    );
}
