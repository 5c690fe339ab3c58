//! The lake's fault point: a crash between two tables' snapshots of one run, then the retry.

use std::sync::Arc;

use etl_adapters::ObjectStore;
use etl_adapters::store::LocalStore;
use etl_contract::layout::manifest_key;
use etl_contract::manifest::Manifest;
use etl_tests::lake::processed_runs;
use lake::{Lake, TableOutcome, publish};

use crate::pipeline_with_changes;

#[tokio::test(flavor = "multi_thread")]
async fn lake_crash_between_two_tables_then_the_retry_publishes_each_table_once() {
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes("f_lake_between_tables").await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root.clone()).unwrap());
    let lake = Lake::new(store, root.to_str().unwrap(), None);
    let run = processed_runs(&p.processed).await.remove(0);
    let key = manifest_key(&run);
    let bytes = p.processed.get(&key).await.unwrap().unwrap().bytes;
    let tables: Vec<String> = Manifest::from_json(&key, &bytes)
        .unwrap()
        .tables
        .into_keys()
        .collect();
    assert!(tables.len() >= 3, "{tables:?}");

    // The run reaches two tables, then the process dies.
    fail::cfg("lake::between_tables", "1*off->panic").unwrap();
    let crashing = (lake.clone(), p.processed.clone(), run.clone());
    let crashed = tokio::spawn(async move {
        let (lake, processed, run) = crashing;
        publish(&lake, &processed, &run).await
    })
    .await;
    fail::remove("lake::between_tables");
    assert!(
        crashed.is_err_and(|e| e.is_panic()),
        "the fail point was never reached"
    );

    let retried = publish(&lake, &p.processed, &run).await.unwrap();
    let already = retried
        .tables
        .values()
        .filter(|t| **t == TableOutcome::AlreadyThere)
        .count();
    assert_eq!(
        already, 2,
        "the two tables published before the crash: {retried:?}"
    );
    for table in &tables {
        let runs = lake.runs(table).await.unwrap();
        assert_eq!(
            runs,
            [run.to_string()],
            "{table} holds the run exactly once"
        );
    }
    scenario.teardown();
}
