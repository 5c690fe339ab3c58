//! Outages: the database restarting in the middle of extract and of load, and the object store
//! failing (injected). A stage that loses its database fails with a retryable error and leaves
//! nothing partial visible; the next run completes it. Transient store errors are retried in
//! place with bounded backoff; a store that stays down fails the run after the bounded number
//! of tries, again with nothing partial visible.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etl_adapters::retry::Backoff;
use etl_adapters::store::Retrying;
use etl_adapters::{ObjectStore, watermark};
use etl_contract::layout::MANIFESTS_PREFIX;
use etl_contract::warehouse::WAREHOUSE_TABLES;
use etl_contract::{Classify, ErrorKind};
use etl_devtools::simulate::{SimulateOptions, simulate};
use etl_tests::postgres::{connect, outage};
use etl_tests::stores::{FailOn, FailingStore};

use crate::support::{Pipeline, Stages, extract_options, spec};
use crate::{assert_consistent, pipeline_with_changes};

/// Cuts the pipeline's database connections (a restart on the harness's own cluster) the first
/// time `point` is reached.
fn outage_at(point: &str, p: &Pipeline) -> Arc<AtomicBool> {
    let happened = Arc::new(AtomicBool::new(false));
    let flag = happened.clone();
    let databases = [p.source.name.clone(), p.warehouse.name.clone()];
    fail::cfg_callback(point, move || {
        if !flag.swap(true, Ordering::SeqCst) {
            outage(&[&databases[0], &databases[1]]);
        }
    })
    .unwrap();
    happened
}

/// Row counts of every warehouse table and the ledger.
async fn warehouse_counts(url: &str) -> BTreeMap<String, i64> {
    let client = connect(url).await;
    let mut counts = BTreeMap::new();
    for table in WAREHOUSE_TABLES
        .iter()
        .map(|t| t.name)
        .chain(["etl_load_ledger"])
    {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        counts.insert(table.to_owned(), n);
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_source_restarting_during_extract() {
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes("f_src_outage").await;
    let manifests = p.landing.list(MANIFESTS_PREFIX).await.unwrap();
    let mark = watermark::load(&p.landing).await.unwrap().watermark;

    // Small fetches, so that the restart comes between two fetches of the snapshot.
    let options = extract::ExtractOptions {
        fetch_rows: 5,
        ..extract_options()
    };
    let happened = outage_at("extract::after_fetch", &p);
    let result = etl_tests::postgres::extract(&p.source.url, &p.landing, &options).await;
    fail::remove("extract::after_fetch");
    assert!(happened.load(Ordering::SeqCst), "the outage never happened");
    let error = result.expect_err("extract cannot finish without its database");
    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert_eq!(
        p.landing.list(MANIFESTS_PREFIX).await.unwrap(),
        manifests,
        "no manifest of the interrupted run"
    );
    assert_eq!(
        watermark::load(&p.landing).await.unwrap().watermark,
        mark,
        "the watermark did not move"
    );

    p.run().await;
    assert_consistent(&p).await;
    scenario.teardown();
    eprintln!(
        "outage: source database restarted between two fetches of extract: failed retryable \
         ({error}), no manifest, watermark unchanged, the next run reconciles"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_warehouse_restarting_during_load() {
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes("f_wh_outage").await;
    p.extract().await;
    p.transform().await;
    let before = warehouse_counts(&p.warehouse.url).await;

    let mut client = connect(&p.warehouse.url).await;
    let runs = load::pending_loads(&client, &p.processed).await.unwrap();
    assert!(!runs.is_empty(), "runs to load");
    let happened = outage_at("load::between_tables", &p);
    let result = load::load_run(&mut client, &p.processed, &runs[0]).await;
    fail::remove("load::between_tables");
    assert!(happened.load(Ordering::SeqCst), "the outage never happened");
    let error = result.expect_err("load cannot merge without its database");
    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert!(!error.quarantines_input(), "{error}");

    assert_eq!(
        warehouse_counts(&p.warehouse.url).await,
        before,
        "nothing of the interrupted load is visible"
    );
    p.load().await;
    assert_consistent(&p).await;
    scenario.teardown();
    eprintln!(
        "outage: warehouse restarted between staging and merge: failed retryable ({error}), \
         nothing visible, the retry reconciles"
    );
}

/// The production backoff's shape, with waits short enough for hundreds of injected faults.
const FAST: Backoff = Backoff {
    attempts: Backoff::OBJECT_STORE.attempts,
    first_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(10),
};

#[tokio::test(flavor = "multi_thread")]
async fn transient_object_store_errors_are_retried_in_place() {
    let scenario = fail::FailScenario::setup();
    let p = Pipeline::new("f_store_flaky", spec(300, 53)).await;
    let landing = Arc::new(Retrying::new(
        FailingStore::new(p.landing.clone(), FailOn::EveryNthRequest(3)),
        FAST,
    ));
    let processed = Arc::new(Retrying::new(
        FailingStore::new(p.processed.clone(), FailOn::EveryNthRequest(3)),
        FAST,
    ));
    let flaky = Stages {
        landing: landing.clone(),
        processed: processed.clone(),
        ..p.stages()
    };
    flaky.run().await;
    let options = SimulateOptions {
        operations: Some(60),
        seed: 8,
        ..SimulateOptions::default()
    };
    simulate(&p.source.url, Duration::from_secs(5), &options)
        .await
        .unwrap();
    flaky.run().await;
    assert_consistent(&p).await;
    let injected = landing.inner().injected() + processed.inner().injected();
    assert!(injected > 20, "faults were injected: {injected}");
    scenario.teardown();
    eprintln!(
        "outage: {injected} injected object store errors (every third request) retried in \
         place, the warehouse reconciles"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_store_outage_fails_the_run_after_bounded_retries_and_shows_nothing() {
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes("f_store_down").await;
    let manifests = p.landing.list(MANIFESTS_PREFIX).await.unwrap();
    let mark = watermark::load(&p.landing).await.unwrap().watermark;

    // The store goes down after the watermark read and the first part.
    let landing = Retrying::new(
        FailingStore::new(p.landing.clone(), FailOn::AllAfter(2)),
        FAST,
    );
    let error = etl_tests::postgres::extract(&p.source.url, &landing, &extract_options())
        .await
        .expect_err("extract cannot land a run without its store");
    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert!(
        error.to_string().contains("injected: 503 SlowDown"),
        "{error}"
    );
    assert_eq!(
        landing.inner().most_failures_of_one_request(),
        FAST.attempts,
        "each request is tried exactly the bounded number of times"
    );
    assert_eq!(p.landing.list(MANIFESTS_PREFIX).await.unwrap(), manifests);
    assert_eq!(watermark::load(&p.landing).await.unwrap().watermark, mark);

    p.run().await;
    assert_consistent(&p).await;
    scenario.teardown();
    eprintln!(
        "outage: object store down mid-extract: {} tries per request, then failed retryable \
         ({error}); nothing visible, the next run reconciles",
        FAST.attempts
    );
}
