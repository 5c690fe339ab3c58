//! The fault matrix: the pipeline crashes (a panic, as abrupt as a killed process for anything
//! not yet written) at each durable write boundary, then runs again normally; the warehouse
//! must reconcile exactly with the OLTP and the manifests, ledger and watermark must agree.
//!
//! Fail points are process-wide, so this is a test binary of its own and its tests take turns
//! (`fail::FailScenario` holds a global lock). Each point is its own test, so `cargo test` lists
//! every point with its outcome.

#[path = "../it/reconcile.rs"]
#[allow(dead_code)]
mod reconcile;
#[path = "../it/support.rs"]
#[allow(dead_code)]
mod support;

mod inbox;
mod lake;
mod outages;
mod quarantine;

use std::time::Duration;

use etl_adapters::{ObjectStore, watermark};
use etl_contract::layout::{MANIFESTS_PREFIX, run_id_of_manifest_key};
use etl_contract::manifest::Manifest;
use etl_devtools::simulate::{SimulateOptions, simulate};

use crate::reconcile::assert_warehouse_reconciles;
use crate::support::{Pipeline, spec};

/// A seeded pipeline with its history loaded and live activity since: the middle of a
/// pipeline's life, where the faults are injected.
pub(crate) async fn pipeline_with_changes(label: &str) -> Pipeline {
    let p = Pipeline::new(label, spec(300, 51)).await;
    p.run().await;
    simulate_changes(&p, 5).await;
    p
}

/// Sixty operations of live activity in the source (orders, settlements, edits of orders and
/// dimensions), from the simulator's `seed`.
async fn simulate_changes(p: &Pipeline, seed: u64) {
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
}

/// Crashes the pipeline at `point` in the middle of its second cycle, then recovers with
/// normal runs.
async fn crash_at(point: &'static str) {
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes(&format!("f_{}", point.replace("::", "_"))).await;

    fail::cfg(point, "panic").unwrap();
    let stages = p.stages();
    let crashed = tokio::spawn(async move { stages.run().await }).await;
    fail::remove(point);
    assert!(
        crashed.as_ref().is_err_and(|e| e.is_panic()),
        "the fail point {point} was never reached: {crashed:?}"
    );

    // Recovery: the pipeline as it normally runs (the schedule's next tick, Lambda's retries).
    p.run().await;
    assert_consistent(&p).await;
    scenario.teardown();
    eprintln!("fault point {point}: crashed, recovered, warehouse reconciles with the OLTP");
}

/// The warehouse equals the OLTP; every landing run was transformed and every processed run is
/// in the ledger; the watermark covers every landed window.
pub(crate) async fn assert_consistent(p: &Pipeline) {
    let warehouse = p.warehouse.connect().await;
    assert_warehouse_reconciles(&p.source.connect().await, &warehouse).await;
    assert!(
        transform::pending_runs(&p.landing, &p.processed)
            .await
            .unwrap()
            .is_empty(),
        "every landing run has been transformed"
    );
    assert!(
        load::pending_loads(&warehouse, &p.processed)
            .await
            .unwrap()
            .is_empty(),
        "every processed run is in the ledger"
    );
    let ledger: i64 = warehouse
        .query_one("SELECT count(*) FROM etl_load_ledger", &[])
        .await
        .unwrap()
        .get(0);
    let processed = p.processed.list(MANIFESTS_PREFIX).await.unwrap();
    assert_eq!(
        ledger as usize,
        processed.len(),
        "ledger rows = processed runs"
    );

    let mark = watermark::load(&p.landing).await.unwrap();
    let to = mark.watermark.expect("a watermark after runs").to;
    for key in p.landing.list(MANIFESTS_PREFIX).await.unwrap() {
        assert!(run_id_of_manifest_key(&key).is_some(), "{key}");
        let bytes = p.landing.get(&key).await.unwrap().unwrap().bytes;
        let manifest = Manifest::from_json(&key, &bytes).unwrap();
        assert!(
            manifest.window.to <= to,
            "{key} ends after the watermark: {} > {to}",
            manifest.window.to
        );
    }
}

macro_rules! fault_points {
    ($($test:ident => $point:literal,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                crash_at($point).await;
            }
        )*
    };
}

fault_points! {
    extract_after_a_part => "extract::after_part",
    extract_before_the_manifest => "extract::before_manifest",
    extract_after_the_manifest => "extract::after_manifest",
    extract_before_the_watermark => "extract::before_watermark",
    extract_after_the_watermark => "extract::after_watermark",
    transform_after_a_parquet_file => "transform::after_parquet",
    transform_after_a_snapshot => "transform::after_snapshot",
    transform_before_the_manifest => "transform::before_manifest",
    transform_after_the_manifest => "transform::after_manifest",
    load_between_tables => "load::between_tables",
    load_before_commit => "load::before_commit",
    load_after_commit => "load::after_commit",
}

/// Issue 19's point: one bulk UPDATE stamps every payment alike, the tie is cut into runs of a
/// tenth of it, and extract crashes after the third run's watermark, inside the tie. The next
/// invocations resume at the recorded position: nothing is lost and nothing lands twice.
#[tokio::test(flavor = "multi_thread")]
async fn extract_between_two_runs_of_one_tie() {
    use crate::support::{extract_options, scalar};
    let scenario = fail::FailScenario::setup();
    let p = pipeline_with_changes("f_tie").await;
    p.run().await;
    let payments: i64 = scalar(
        &p.source.connect().await,
        "WITH t AS (UPDATE payment SET last_updated = now() AT TIME ZONE 'UTC' RETURNING 1) \
         SELECT count(*) FROM t",
    )
    .await;
    let options = extract::ExtractOptions {
        row_budget: (payments as u64 / 10).max(1),
        ..extract_options()
    };

    let mark = crash_after_the_third_watermark(&p, &options).await;
    assert!(
        mark.tie.is_some(),
        "the crash came inside the tie: {mark:?}"
    );

    recover(&p, &options).await;
    scenario.teardown();
    eprintln!(
        "fault point extract::after_watermark inside a tie of {payments} rows: crashed, \
         resumed at the position, nothing lost or doubled"
    );
}

/// Issue 19's first load: read table by table in primary-key order, in runs of about a tenth of
/// the source, and extract crashes after the third run's watermark. The source changes before
/// the next invocations, which resume each table after its recorded key from snapshots of their
/// own, up to the first load's horizon, then take what changed in a window: nothing is lost and
/// no row version lands twice.
#[tokio::test(flavor = "multi_thread")]
async fn extract_between_two_runs_of_a_first_load() {
    use crate::support::{extract_options, scalar};
    let scenario = fail::FailScenario::setup();
    let p = Pipeline::new("f_first_load", spec(300, 52)).await;
    let source = p.source.connect().await;
    let rows: i64 = scalar(
        &source,
        "SELECT (SELECT count(*) FROM sales_order) + (SELECT count(*) FROM transaction) \
              + (SELECT count(*) FROM payment)",
    )
    .await;
    let options = extract::ExtractOptions {
        row_budget: (rows as u64 / 10).max(1),
        ..extract_options()
    };

    let mark = crash_after_the_third_watermark(&p, &options).await;
    let progress = mark
        .first_load
        .expect("the crash came inside the first load");
    assert!(!progress.is_empty(), "{progress:?}");

    // Rows read already and rows not read yet change before the first load resumes.
    simulate_changes(&p, 6).await;

    let invocations = recover(&p, &options).await;
    assert_eq!(
        invocations, 1,
        "one invocation finishes the first load and catches up"
    );
    let mark = watermark::load(&p.landing)
        .await
        .unwrap()
        .watermark
        .unwrap();
    assert_eq!(mark.first_load, None, "the first load is complete");
    scenario.teardown();
    eprintln!(
        "fault point extract::after_watermark inside a first load of {rows} order rows: \
         crashed, resumed per table after a change, nothing lost or doubled"
    );
}

/// Runs extract with `options` until its fail point `extract::after_watermark` panics, after
/// the third watermark it writes; returns that watermark.
async fn crash_after_the_third_watermark(
    p: &Pipeline,
    options: &extract::ExtractOptions,
) -> etl_contract::watermark::Watermark {
    fail::cfg("extract::after_watermark", "2*off->panic").unwrap();
    let (url, landing, options) = (p.source.url.clone(), p.landing.clone(), options.clone());
    let crashed =
        tokio::spawn(async move { crate::support::run_extract(&url, &landing, &options).await })
            .await;
    fail::remove("extract::after_watermark");
    assert!(
        crashed.as_ref().is_err_and(|e| e.is_panic()),
        "the fail point was never reached: {crashed:?}"
    );
    watermark::load(&p.landing)
        .await
        .unwrap()
        .watermark
        .unwrap()
}

/// Recovery after an extract crash: extract as the schedule would until it catches up, then the
/// other stages. No row version may have landed twice, and the pipeline must be consistent.
/// Returns the extract invocations it took.
async fn recover(p: &Pipeline, options: &extract::ExtractOptions) -> usize {
    use crate::support::{landed, run_extract, version_counts};
    let mut invocations = 0;
    for _ in 0..100 {
        invocations += 1;
        let outcome = run_extract(&p.source.url, &p.landing, options)
            .await
            .unwrap();
        if outcome.stop == extract::Stop::CaughtUp || outcome.stop == extract::Stop::NothingNew {
            break;
        }
    }
    let counts = version_counts(&landed(&p.landing).await);
    assert!(counts.values().all(|&n| n == 1), "a row landed twice");
    p.stages().transform().await;
    p.stages().load().await;
    assert_consistent(p).await;
    invocations
}
