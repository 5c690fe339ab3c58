//! The whole pipeline through the local runner, as `etl run` drives it (issue: the etl tool).

use std::time::Duration;

use clap::{CommandFactory, Parser};
use etl_adapters::ObjectStore;
use etl_adapters::store::LocalStore;
use etl_cli::args::Cli;
use etl_cli::local::{Local, Stages};
use etl_contract::Config;
use etl_contract::config::{DatabaseLocator, StoreLocation};
use etl_contract::layout::{MANIFESTS_PREFIX, run_id_of_manifest_key};
use etl_devtools::simulate::{SimulateOptions, simulate};

use crate::reconcile::{assert_warehouse_reconciles, warehouse_checksums};
use crate::support::{Pipeline, local_runner, scalar, spec};

/// The local runner over a test pipeline's databases and stores.
async fn local(p: &Pipeline) -> Local {
    local_runner(p, etl_contract::config::DEFAULT_ROW_BUDGET).await
}

#[tokio::test]
async fn seed_then_run_reconciles_the_whole_warehouse_with_the_oltp() {
    let p = Pipeline::new("e_recon", spec(2_000, 41)).await;
    let local = local(&p).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    assert_eq!(cycle.loaded.len(), 1);
    assert_warehouse_reconciles(&p.source.connect().await, &p.warehouse.connect().await).await;
}

#[tokio::test]
async fn soak_concurrent_writers_and_long_transactions_lose_and_double_nothing() {
    let p = Pipeline::new("e_soak", spec(1_000, 42)).await;
    let local = local(&p).await;
    let options = SimulateOptions {
        duration: Some(Duration::from_secs(8)),
        operations: None,
        ops_per_sec: 60.0,
        settle_rate: 0.2,
        order_edit_rate: 0.15,
        dimension_edit_rate: 0.05,
        long_tx_rate: 0.1,
        long_tx_hold: Duration::from_millis(1_500),
        seed: 7,
    };
    let writers_done = std::sync::atomic::AtomicBool::new(false);
    let runner = async {
        let mut cycles = 0;
        // Cycles back to back while the writers run (the schedule, compressed).
        loop {
            let cycle = local.cycle(Stages::All).await.unwrap();
            assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
            cycles += 1;
            if cycles >= 200 {
                break cycles;
            }
            if writers_done.load(std::sync::atomic::Ordering::SeqCst) {
                break cycles;
            }
        }
    };
    let writers = async {
        let report = simulate(&p.source.url, Duration::from_secs(5), &options)
            .await
            .unwrap();
        writers_done.store(true, std::sync::atomic::Ordering::SeqCst);
        report
    };
    let (report, cycles) = tokio::join!(writers, runner);
    assert!(cycles >= 5, "only {cycles} cycles ran during the soak");
    assert!(report.total_operations() > 100, "{report:?}");
    assert!(
        report
            .operations
            .contains_key(&etl_devtools::simulate::Operation::LongNewOrder)
    );
    // A final run after the writers stop picks up the last commits.
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty());
    let wh = p.warehouse.connect().await;
    assert_warehouse_reconciles(&p.source.connect().await, &wh).await;
    let doubled: i64 = scalar(
        &wh,
        "SELECT count(*) FROM (SELECT payment_id, last_updated_date, last_updated_time \
         FROM fact_payment GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
    )
    .await;
    assert_eq!(doubled, 0);
}

#[tokio::test]
async fn replaying_any_run_at_any_stage_changes_nothing() {
    let p = Pipeline::new("e_replay", spec(300, 43)).await;
    let local = local(&p).await;
    local.cycle(Stages::All).await.unwrap();
    simulate(
        &p.source.url,
        Duration::from_secs(5),
        &SimulateOptions {
            operations: Some(80),
            dimension_edit_rate: 0.2,
            order_edit_rate: 0.2,
            ..SimulateOptions::default()
        },
    )
    .await
    .unwrap();
    local.cycle(Stages::All).await.unwrap();
    let wh = p.warehouse.connect().await;
    let before = warehouse_checksums(&wh).await;
    let runs: Vec<etl_contract::RunId> = etl_adapters::ObjectStore::list(&p.landing, "manifests/")
        .await
        .unwrap()
        .iter()
        .filter_map(|k| etl_contract::layout::run_id_of_manifest_key(k))
        .collect();
    assert_eq!(runs.len(), 2);
    let mut client = p.warehouse.connect().await;
    for run in runs.iter().rev() {
        transform::transform_run(run, &p.landing, &p.processed)
            .await
            .unwrap();
        let outcome = load::load_run(&mut client, &p.processed, run)
            .await
            .unwrap();
        assert!(matches!(outcome, load::LoadOutcome::AlreadyLoaded { .. }));
    }
    assert_eq!(before, warehouse_checksums(&wh).await);
}

#[tokio::test]
async fn status_json_parses_and_matches_the_ledger() {
    let p = Pipeline::new("e_status", spec(200, 44)).await;
    let local = local(&p).await;
    local.cycle(Stages::All).await.unwrap();
    let status = etl_cli::status::status(&local).await.unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&status).unwrap()).unwrap();
    let wh = p.warehouse.connect().await;
    let ledger: Vec<String> = wh
        .query("SELECT run_id FROM etl_load_ledger ORDER BY run_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let listed: Vec<String> = json["load"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, ledger);
    let total: i64 = scalar(
        &wh,
        "SELECT sum(value::bigint)::bigint FROM etl_load_ledger, jsonb_each_text(rows)",
    )
    .await;
    assert_eq!(json["load"][0]["rows"].as_i64(), Some(total));
    assert!(json["lag_secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(json["pending_transform"].as_array().unwrap().len(), 0);
    assert_eq!(json["pending_load"].as_array().unwrap().len(), 0);
    assert!(json["watermark"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn every_command_has_help_with_an_example_and_bad_arguments_say_what_to_fix() {
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        let help = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            help.contains("Example"),
            "`etl {}` has no example",
            sub.get_name()
        );
    }
    let err = Cli::try_parse_from(["etl", "seed", "--scale", "lots"])
        .unwrap_err()
        .to_string();
    let first = err.lines().next().unwrap();
    assert!(
        first.contains("--scale") && first.contains("lots"),
        "{first}"
    );
    let err = Cli::try_parse_from(["etl", "run", "--stage", "everything"])
        .unwrap_err()
        .to_string();
    assert!(err.lines().next().unwrap().contains("--stage"), "{err}");
    let err = Cli::try_parse_from(["etl", "replay", "yesterday"])
        .unwrap_err()
        .to_string();
    assert!(
        err.lines().next().unwrap().contains("not a run id"),
        "{err}"
    );
    let missing = Config::from_lookup(|_| None)
        .unwrap()
        .source()
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("ETL_SOURCE_URL is not set"),
        "{missing}"
    );
}

#[tokio::test]
async fn status_of_an_empty_warehouse_leaves_it_empty() {
    let warehouse = etl_tests::TestDatabase::create("e_status_empty").await;
    let (landing, processed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = Config::from_lookup(|_| None).unwrap();
    let local = Local::new(Config {
        warehouse: Some(DatabaseLocator::Url(warehouse.url.clone())),
        landing: Some(StoreLocation::Local(landing.path().to_path_buf())),
        processed: Some(StoreLocation::Local(processed.path().to_path_buf())),
        ..config
    })
    .await
    .unwrap();
    let status = etl_cli::status::status(&local).await.unwrap();
    assert!(status.load.is_empty() && status.pending_load.is_empty());
    // `etl status` only looks: no migration, no ledger, no table of any kind.
    let tables: i64 = scalar(
        &warehouse.connect().await,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
    )
    .await;
    assert_eq!(tables, 0, "etl status created objects in the warehouse");
}

#[tokio::test]
async fn status_says_healthy_stale_or_failing_and_why_in_text_and_json() {
    use etl_cli::status::{Health, render, status, verdict};
    let p = Pipeline::new("e_verdict", spec(200, 45)).await;
    let local = local(&p).await;
    let objective = Duration::from_secs(30 * 60);
    let json = |v: &etl_cli::status::Verdict| serde_json::to_value(v).unwrap();

    // Healthy: everything loaded just now.
    local.cycle(Stages::All).await.unwrap();
    let healthy = verdict(&status(&local).await.unwrap(), objective);
    assert_eq!(healthy.health, Health::Healthy, "{healthy:?}");
    let text = render(&healthy, &status(&local).await.unwrap(), false);
    assert!(text.starts_with("HEALTHY: the watermark is"), "{text}");
    assert!(text.contains("within the 30m 0s objective"), "{text}");
    assert_eq!(json(&healthy)["health"], "healthy");

    // Stale: a source session idle in a transaction holds the horizon at its start; against a
    // tight objective the verdict is stale and names that session.
    let mut idle = p.source.connect().await;
    let tx = idle.transaction().await.unwrap();
    let pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    local.cycle(Stages::All).await.unwrap();
    let now = status(&local).await.unwrap();
    let stale = verdict(&now, Duration::from_millis(1));
    assert_eq!(stale.health, Health::Stale, "{stale:?}");
    let text = render(&stale, &now, false);
    assert!(text.starts_with("STALE: the watermark is"), "{text}");
    assert!(
        text.contains(&format!("held back by pid {pid}")),
        "the blocking session is named: {text}"
    );
    assert_eq!(json(&stale)["health"], "stale");
    tx.rollback().await.unwrap();

    // Failing: a run is quarantined; its reason is shown in one line.
    let bad = etl_tests::craft::design_line(9_001).replace("\"design_name\":\"Steel\",", "");
    let (run, _) = etl_tests::craft::landing_run(&p.landing, "design", &[bad]).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(!cycle.failures().is_empty());
    let failing = verdict(&status(&local).await.unwrap(), objective);
    assert_eq!(failing.health, Health::Failing, "{failing:?}");
    let reason = &failing.reasons[0];
    assert!(
        reason.starts_with(&format!("run {run} is quarantined at transform: "))
            && reason.contains("column design_name: field is missing"),
        "{reason}"
    );
    let text = render(&failing, &status(&local).await.unwrap(), false);
    assert!(text.starts_with(&format!("FAILING: {reason}")), "{text}");
    assert_eq!(json(&failing)["health"], "failing");
    assert_eq!(json(&failing)["reasons"][0], reason.as_str());
}

/// `etl run` overlaps its stages; a stage that cannot start does not stop the others: with the
/// warehouse unreachable every run is still extracted and transformed, the cycle fails naming
/// the warehouse, and the next cycle loads what was left pending first.
#[tokio::test]
async fn an_unreachable_warehouse_stops_only_load_and_the_next_cycle_loads_what_is_pending() {
    let p = Pipeline::new("e_overlap", spec(2_000, 43)).await;
    let good = local_runner(&p, 1_000).await;
    let mut config = good.config.clone();
    config.warehouse = Some(DatabaseLocator::Url(
        "postgres://etl@127.0.0.1:1/warehouse".into(),
    ));
    let cut_off = Local::new(config).await.unwrap();

    let error = format!("{:#}", cut_off.cycle(Stages::All).await.unwrap_err());
    assert!(error.contains("warehouse"), "{error}");
    let landed: Vec<_> = p
        .landing
        .list(MANIFESTS_PREFIX)
        .await
        .unwrap()
        .iter()
        .filter_map(|key| run_id_of_manifest_key(key))
        .collect();
    assert!(landed.len() > 2, "{} runs", landed.len());
    assert!(
        transform::pending_runs(&p.landing, &p.processed)
            .await
            .unwrap()
            .is_empty(),
        "every run was transformed although load could not start"
    );

    let cycle = good.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    assert!(cycle.transformed.is_empty());
    let loaded: Vec<_> = cycle.loaded.iter().map(|(run, _)| run.clone()).collect();
    assert_eq!(loaded, landed);
    assert_warehouse_reconciles(&p.source.connect().await, &p.warehouse.connect().await).await;
}

/// `etl run` transforms a run while extract is still landing the next: extract's second manifest
/// is held until transform has written a processed manifest, which a runner whose stages ran one
/// after the other would never do (the timeout turns that deadlock into a failure).
#[tokio::test]
async fn etl_run_transforms_a_run_while_extract_is_still_landing_the_next() {
    let p = Pipeline::new("e_overlap_gate", spec(2_000, 47)).await;
    let mut local = local_runner(&p, 1_000).await;
    let (landing, processed) = etl_tests::stores::overlap_gate(
        LocalStore::new(p.landing.root()).unwrap(),
        LocalStore::new(p.processed.root()).unwrap(),
    );
    local.landing = std::sync::Arc::new(landing);
    local.processed = std::sync::Arc::new(processed);
    let cycle = tokio::time::timeout(Duration::from_secs(120), local.cycle(Stages::All))
        .await
        .expect("extract's second run waited for a transformed run: the stages did not overlap")
        .unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    assert!(cycle.loaded.len() > 2, "{} runs", cycle.loaded.len());
    assert_warehouse_reconciles(&p.source.connect().await, &p.warehouse.connect().await).await;
}

/// The bench's reconciliation (per-table fingerprints computed by the servers) notices one
/// changed cell and names the table.
#[tokio::test]
async fn the_fingerprint_reconciliation_names_a_table_with_one_changed_cell() {
    let p = Pipeline::new("e_fingerprint", spec(300, 5)).await;
    local(&p).await.cycle(Stages::All).await.unwrap();
    let (oltp, warehouse) = (p.source.connect().await, p.warehouse.connect().await);
    assert_eq!(
        etl_devtools::reconcile::compare(&oltp, &warehouse)
            .await
            .unwrap(),
        []
    );
    warehouse
        .batch_execute(
            "UPDATE dim_design SET design_name = design_name || '.' \
             WHERE design_id = (SELECT min(design_id) FROM dim_design)",
        )
        .await
        .unwrap();
    let mismatches = etl_devtools::reconcile::compare(&oltp, &warehouse)
        .await
        .unwrap();
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].table, "dim_design");
    assert_eq!(mismatches[0].expected_rows, mismatches[0].actual_rows);
}
