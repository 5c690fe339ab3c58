//! `etl demo`: the whole pipeline on a fresh machine with nothing configured. A throwaway
//! Postgres (unless ETL_SOURCE_URL and ETL_WAREHOUSE_URL are given), temporary stores, a seeded
//! history, two pipeline cycles around a burst of live activity, and a short report, also
//! written as an HTML page (`--report`). The warehouse is published to a lake (`--lake`) as
//! well. Nothing but the page and the lake is left running or on disk afterwards, Ctrl-C,
//! SIGTERM and SIGHUP included.

use std::time::Instant;

use anyhow::{Context, bail};
use etl_contract::Config;
use etl_contract::config::{DatabaseLocator, StoreLocation};
use etl_contract::warehouse::WAREHOUSE_TABLES;

use crate::args::DemoArgs;
use crate::local::{Local, Stages, database_url};
use etl_devtools::pgcluster::Cluster;
use etl_devtools::seed::{self, SeedOptions, generate::SeedSpec};
use etl_devtools::simulate::{self, SimulateOptions};

pub async fn demo(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    let mut cluster = None;
    let result = tokio::select! {
        result = run(config, &args, &mut cluster) => result,
        _ = crate::local::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await?;
    }
    result
}

async fn run(
    config: &Config,
    args: &DemoArgs,
    cluster: &mut Option<Cluster>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (source, warehouse) = match (&config.source, &config.warehouse) {
        (Some(source), Some(warehouse)) => (
            database_url(source, "ETL_SOURCE_URL", "ETL_SOURCE_SECRET_ARN")?.to_owned(),
            database_url(warehouse, "ETL_WAREHOUSE_URL", "ETL_WAREHOUSE_SECRET_ARN")?.to_owned(),
        ),
        (None, None) => {
            println!(
                "starting a throwaway PostgreSQL (set ETL_SOURCE_URL and ETL_WAREHOUSE_URL to use yours)"
            );
            let started = tokio::task::spawn_blocking(|| Cluster::start("etl-demo-pg-")).await??;
            let admin = etl_adapters::db::connect(
                "demo",
                &started.url("postgres"),
                "etl-demo",
                config.connect_timeout,
            )
            .await?;
            for database in ["totesys", "warehouse"] {
                admin
                    .batch_execute(&format!("CREATE DATABASE {database}"))
                    .await
                    .with_context(|| format!("creating the demo database {database}"))?;
            }
            let urls = (started.url("totesys"), started.url("warehouse"));
            *cluster = Some(started);
            urls
        }
        _ => bail!(
            "set both ETL_SOURCE_URL and ETL_WAREHOUSE_URL, or neither (for a throwaway Postgres)"
        ),
    };
    let stores = tempfile::tempdir().context("creating the demo's temporary stores")?;
    fresh_lake(&args.lake)?;
    let local = Local::new(Config {
        source: Some(DatabaseLocator::Url(source.clone())),
        warehouse: Some(DatabaseLocator::Url(warehouse.clone())),
        landing: Some(StoreLocation::Local(stores.path().join("landing"))),
        processed: Some(StoreLocation::Local(stores.path().join("processed"))),
        lake: Some(StoreLocation::Local(args.lake.clone())),
        ..config.clone()
    })
    .await?;

    let mut source_client = local.source().await?;
    let seeded = seed::seed(
        &mut source_client,
        SeedOptions {
            spec: SeedSpec {
                scale: args.scale,
                seed: 1,
                end: seed::default_end(),
            },
            force: false,
        },
        |_, _, _| {},
    )
    .await
    .context("seeding the demo source")?;
    println!(
        "1. seeded totesys: {} rows ({} sales orders) in {:.1}s",
        seeded.total_rows(),
        args.scale,
        seeded.elapsed.as_secs_f64()
    );

    let cycle = local.cycle(Stages::All).await?;
    report_cycle("2. initial load", &cycle)?;

    let live = simulate::simulate(
        &source,
        config.connect_timeout,
        &SimulateOptions {
            operations: Some(args.operations),
            order_edit_rate: 0.05,
            dimension_edit_rate: 0.02,
            ..SimulateOptions::default()
        },
    )
    .await?;
    println!(
        "3. simulated live activity: {} operations, {} rows changed",
        live.total_operations(),
        live.distinct_rows()
    );
    let cycle = local.cycle(Stages::All).await?;
    report_cycle("4. incremental run", &cycle)?;

    let wh = local.warehouse().await?;
    println!("\nwarehouse tables:");
    for table in &WAREHOUSE_TABLES {
        let rows: i64 = wh
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .await?
            .get(0);
        println!("  {:<22} {rows:>9}", table.name);
    }
    let status = crate::status::status(&local).await?;
    if let (Some(mark), Some(lag)) = (&status.watermark, status.lag_secs) {
        println!("\nfreshness: watermark {mark}, lag {lag:.1}s");
    }
    let published = match &local.lake {
        Some(lake) => lake.published().await?.len(),
        None => 0,
    };
    println!(
        "\nlake: {published} runs published to {} Iceberg tables in {} (query it with DuckDB \
         or pyiceberg: docs/lake.md)",
        WAREHOUSE_TABLES.len(),
        args.lake.display()
    );
    println!("\nreport_monthly_sales (latest months, top value first):");
    let rows = wh
        .query(
            "SELECT month::text, currency_code, counterparty_country, orders, sales_value::text AS value \
             FROM report_monthly_sales ORDER BY month DESC, sales_value DESC LIMIT 5",
            &[],
        )
        .await?;
    println!(
        "  {:<10} {:<4} {:<52} {:>6} {:>14}",
        "month", "ccy", "counterparty country", "orders", "sales value"
    );
    for r in rows {
        println!(
            "  {:<10} {:<4} {:<52} {:>6} {:>14}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, i64>(3),
            r.get::<_, String>(4)
        );
    }
    let slo = std::time::Duration::from_secs(30 * 60);
    let page = crate::report::gather(&local, slo, 50).await?;
    crate::report::write(&page, &args.report)?;
    println!(
        "\nHTML report (charts, the report views, the status): {}",
        args.report.display()
    );
    println!("\ndemo finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Makes `dir` an empty directory for the demo's lake, removing the lake an earlier demo left
/// there. Anything else in it (a file, a folder that is not a lake table) is refused rather than
/// deleted.
fn fresh_lake(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.exists() {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading {} (the demo's --lake)", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Hidden files are the local store's own (its lock, interrupted writes).
            let store_file = name.starts_with('.');
            let lake_folder = (WAREHOUSE_TABLES.iter().any(|t| t.name == name) || name == "_etl")
                && entry.path().is_dir();
            if !(store_file || lake_folder) {
                bail!(
                    "{} holds {name}, which is not part of a demo lake: pass --lake with an \
                     empty or new directory",
                    dir.display()
                );
            }
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the earlier demo's lake in {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn report_cycle(label: &str, cycle: &crate::local::Cycle) -> anyhow::Result<()> {
    let failures = cycle.failures();
    if !failures.is_empty() {
        bail!("{label} failed: {}", failures.join("; "));
    }
    let extracted = cycle.extract.as_ref().map_or(0, |e| e.total_rows());
    let loaded: u64 = cycle
        .loaded
        .iter()
        .filter_map(|(_, r)| match r {
            Ok(load::LoadOutcome::Loaded { rows, .. }) => Some(rows.values().sum::<u64>()),
            _ => None,
        })
        .sum();
    println!(
        "{label}: extracted {extracted} rows in {} runs, loaded {loaded} warehouse rows",
        cycle.extract.as_ref().map_or(0, |e| e.runs.len())
    );
    Ok(())
}
