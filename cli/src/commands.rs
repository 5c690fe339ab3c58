//! The `etl` commands: each reads configuration, calls a library, and prints a short report.

use anyhow::{Context, bail};
use etl_shared::Classify;
use etl_shared::Config;
use etl_shared::catalog::SOURCE_TABLES;
use etl_shared::config::{DatabaseLocator, LANDING, PROCESSED, StoreLocation};
use etl_shared::store::{LocalStore, ObjectStore};
use extract::{ExtractOptions, Stop};

use crate::args::{Command, DemoArgs, RunArgs, SeedArgs, SimulateArgs, StageArg};
use crate::pgcluster::Cluster;
use crate::seed::{self, SeedOptions, generate::SeedSpec};
use crate::simulate::{self, SimulateOptions};

pub async fn run(command: Command) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match command {
        Command::Seed(args) => seed_command(&config, args).await,
        Command::Simulate(args) => simulate_command(&config, args).await,
        Command::Run(args) => run_command(&config, args).await,
        Command::Demo(args) => demo_command(&config, args).await,
    }
}

/// The source URL; Secrets Manager credentials are only resolved by the Lambdas.
fn source_url(config: &Config) -> anyhow::Result<&str> {
    match config.source()? {
        DatabaseLocator::Url(url) => Ok(url),
        DatabaseLocator::SecretArn(_) => bail!(
            "ETL_SOURCE_SECRET_ARN is set but the local tool needs ETL_SOURCE_URL: set the URL instead"
        ),
    }
}

/// Where local runs keep a stage's objects when no location is configured.
const DEFAULT_LANDING: &str = ".etl/landing";
const DEFAULT_PROCESSED: &str = ".etl/processed";

/// The store at `location`, or the local default.
fn open_store(
    location: Option<&StoreLocation>,
    var: &str,
    default: &str,
) -> anyhow::Result<Box<dyn ObjectStore>> {
    match location {
        None => Ok(Box::new(LocalStore::new(default)?)),
        Some(StoreLocation::Local(path)) => Ok(Box::new(LocalStore::new(path.clone())?)),
        Some(StoreLocation::S3 { .. }) => bail!(
            "{var} names an S3 location, which the local tool cannot use yet: give a directory"
        ),
    }
}

async fn run_command(config: &Config, args: RunArgs) -> anyhow::Result<()> {
    match args.stage {
        StageArg::Extract => {
            let landing = open_store(config.landing.as_ref(), LANDING, DEFAULT_LANDING)?;
            extract_once(config, landing.as_ref()).await
        }
        StageArg::Transform => {
            let landing = open_store(config.landing.as_ref(), LANDING, DEFAULT_LANDING)?;
            let processed = open_store(config.processed.as_ref(), PROCESSED, DEFAULT_PROCESSED)?;
            transform_pending(landing.as_ref(), processed.as_ref()).await
        }
        StageArg::Load => {
            let processed = open_store(config.processed.as_ref(), PROCESSED, DEFAULT_PROCESSED)?;
            load_pending(config, processed.as_ref()).await
        }
        StageArg::All => {
            let landing = open_store(config.landing.as_ref(), LANDING, DEFAULT_LANDING)?;
            let processed = open_store(config.processed.as_ref(), PROCESSED, DEFAULT_PROCESSED)?;
            extract_once(config, landing.as_ref()).await?;
            transform_pending(landing.as_ref(), processed.as_ref()).await?;
            load_pending(config, processed.as_ref()).await
        }
    }
}

fn warehouse_url(config: &Config) -> anyhow::Result<&str> {
    match config.warehouse()? {
        DatabaseLocator::Url(url) => Ok(url),
        DatabaseLocator::SecretArn(_) => bail!(
            "ETL_WAREHOUSE_SECRET_ARN is set but the local tool needs ETL_WAREHOUSE_URL: set the URL instead"
        ),
    }
}

/// Applies the migrations, then loads every processed run not in the ledger, oldest first.
async fn load_pending(config: &Config, processed: &dyn ObjectStore) -> anyhow::Result<()> {
    let url = warehouse_url(config)?;
    let mut client =
        etl_shared::db::connect("warehouse", url, "etl-load", config.connect_timeout).await?;
    let applied = load::migrate(&mut client).await?;
    if !applied.is_empty() {
        println!("load: applied migrations {}", applied.join(", "));
    }
    let pending = load::pending_loads(&client, processed).await?;
    let mut failed = 0;
    for run_id in &pending {
        match load::load_run(&mut client, processed, run_id).await {
            Ok(load::LoadOutcome::Loaded {
                run_id,
                rows,
                elapsed,
            }) => println!(
                "load {run_id}  rows {:>9}  {:.2}s",
                rows.values().sum::<u64>(),
                elapsed.as_secs_f64()
            ),
            Ok(load::LoadOutcome::AlreadyLoaded { run_id, loaded_at }) => {
                println!("load {run_id}  already loaded at {loaded_at}")
            }
            Err(error) if error.kind() == etl_shared::ErrorKind::Permanent => {
                eprintln!("load {run_id} quarantined: {error}");
                failed += 1;
            }
            Err(error) => return Err(error).context(format!("load of run {run_id}")),
        }
    }
    println!(
        "load: {} runs loaded, {failed} quarantined",
        pending.len() - failed
    );
    if failed > 0 {
        bail!(
            "{failed} run(s) quarantined by load: fix the input and `etl replay RUN_ID --stage load`"
        );
    }
    Ok(())
}

/// Transforms every landing run not yet transformed or quarantined, oldest first. A run that
/// fails with bad input is quarantined and the others still go through; the command then fails.
async fn transform_pending(
    landing: &dyn ObjectStore,
    processed: &dyn ObjectStore,
) -> anyhow::Result<()> {
    let pending = transform::pending_runs(landing, processed).await?;
    let mut failed = Vec::new();
    for run_id in &pending {
        match transform::transform_run(run_id, landing, processed).await {
            Ok(outcome) => println!(
                "transform {}  rows in {:>9}  out {:>9}  bytes {:>10}  {:.2}s",
                outcome.run_id,
                outcome.input_rows,
                outcome.rows.values().sum::<u64>(),
                outcome.bytes,
                outcome.elapsed.as_secs_f64()
            ),
            Err(error) if error.kind() == etl_shared::ErrorKind::Permanent => {
                eprintln!("transform {run_id} quarantined: {error}");
                failed.push(run_id.clone());
            }
            Err(error) => return Err(error).context(format!("transform of run {run_id}")),
        }
    }
    println!(
        "transform: {} runs transformed, {} quarantined",
        pending.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!(
            "{} run(s) quarantined under quarantine/ in the processed store: fix the input and              `etl replay RUN_ID --stage transform`",
            failed.len()
        );
    }
    Ok(())
}

/// One extract invocation, with a line per committed run.
async fn extract_once(config: &Config, landing: &dyn ObjectStore) -> anyhow::Result<()> {
    let url = source_url(config)?;
    let mut client =
        etl_shared::db::connect("source", url, "etl-extract", config.connect_timeout).await?;
    let options = ExtractOptions {
        row_budget: config.row_budget,
        lookback: config.lookback,
        ..ExtractOptions::new(&SOURCE_TABLES)
    };
    let outcome = extract::extract(&mut client, landing, &options)
        .await
        .context("extract failed")?;
    for run in &outcome.runs {
        println!(
            "extract {}  rows {:>9}  bytes {:>11}  window ({}, {}]",
            run.run_id,
            run.total_rows(),
            run.bytes,
            run.window
                .from
                .map(etl_shared::time::format_micros)
                .unwrap_or_else(|| "-inf".into()),
            etl_shared::time::format_micros(run.window.to),
        );
    }
    let watermark = outcome
        .watermark
        .map(etl_shared::time::format_micros)
        .unwrap_or_else(|| "none".into());
    match outcome.stop {
        Stop::LostRace => println!(
            "extract lost the race: another extract advanced the watermark first (now {watermark})"
        ),
        Stop::NothingNew => println!("extract: nothing new; watermark {watermark}"),
        stop => println!(
            "extract: {} rows in {} runs ({stop:?}); watermark {watermark}",
            outcome.total_rows(),
            outcome.runs.len()
        ),
    }
    Ok(())
}

async fn seed_command(config: &Config, args: SeedArgs) -> anyhow::Result<()> {
    let url = source_url(config)?;
    let mut client =
        etl_shared::db::connect("source", url, "etl-seed", config.connect_timeout).await?;
    let spec = SeedSpec {
        scale: args.scale,
        seed: args.seed,
        end: args.end.unwrap_or_else(seed::default_end),
    };
    tracing::info!(
        scale = spec.scale,
        seed = spec.seed,
        from = %spec.start(),
        until = %spec.end,
        "seeding the source"
    );
    let report = seed::seed(
        &mut client,
        SeedOptions {
            spec,
            force: args.force,
        },
        |table, rows, took| {
            tracing::info!(table, rows, secs = took.as_secs_f64(), "table seeded");
        },
    )
    .await
    .context("etl seed failed")?;
    let total = report.total_rows();
    let secs = report.elapsed.as_secs_f64();
    println!("{:<16} {:>12}", "table", "rows");
    for (table, rows) in &report.rows {
        println!("{table:<16} {rows:>12}");
    }
    println!(
        "seeded {total} rows in {secs:.1}s ({:.0} rows/s)",
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}

async fn simulate_command(config: &Config, args: SimulateArgs) -> anyhow::Result<()> {
    let url = source_url(config)?;
    let options = SimulateOptions {
        duration: args.duration,
        operations: args.operations,
        ops_per_sec: args.rate,
        settle_rate: args.settle_rate,
        order_edit_rate: args.order_edit_rate,
        dimension_edit_rate: args.dimension_edit_rate,
        long_tx_rate: args.long_tx_rate,
        long_tx_hold: args.long_tx_hold,
        seed: args.seed,
    };
    let options = if options.duration.is_none() && options.operations.is_none() {
        SimulateOptions {
            duration: Some(std::time::Duration::from_secs(10)),
            ..options
        }
    } else {
        options
    };
    let report = simulate::simulate(url, config.connect_timeout, &options)
        .await
        .context("etl simulate failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{:<16} {:>8}", "operation", "count");
    for (op, n) in &report.operations {
        println!(
            "{:<16} {n:>8}",
            serde_json::to_value(op)?.as_str().unwrap_or("?")
        );
    }
    println!("{:<16} {:>8}", "table", "rows");
    for (table, ids) in &report.rows {
        println!("{table:<16} {:>8}", ids.len());
    }
    println!(
        "{} operations wrote {} distinct rows in {:.1}s",
        report.total_operations(),
        report.distinct_rows(),
        report.elapsed_secs
    );
    Ok(())
}

/// The demo: everything on a throwaway cluster unless ETL_SOURCE_URL names a database. Ctrl-C
/// stops it cleanly, so the cluster is always removed.
async fn demo_command(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    tokio::select! {
        result = demo(config, args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn demo(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (cluster, url) = match &config.source {
        Some(_) => (None, source_url(config)?.to_owned()),
        None => {
            tracing::info!("ETL_SOURCE_URL is not set: starting a throwaway Postgres");
            let cluster = tokio::task::spawn_blocking(|| Cluster::start("etl-demo-pg-")).await??;
            let admin = etl_shared::db::connect(
                "source",
                &cluster.url("postgres"),
                "etl-demo",
                config.connect_timeout,
            )
            .await?;
            admin.batch_execute("CREATE DATABASE totesys").await?;
            let url = cluster.url("totesys");
            (Some(cluster), url)
        }
    };
    let mut client =
        etl_shared::db::connect("source", &url, "etl-demo", config.connect_timeout).await?;
    let spec = SeedSpec {
        scale: args.scale,
        seed: 1,
        end: seed::default_end(),
    };
    let seeded = seed::seed(
        &mut client,
        SeedOptions { spec, force: false },
        |table, rows, _| {
            tracing::info!(table, rows, "seeded");
        },
    )
    .await
    .context("seeding the demo source")?;
    let options = SimulateOptions {
        operations: Some(args.operations),
        ..SimulateOptions::default()
    };
    let live = simulate::simulate(&url, config.connect_timeout, &options).await?;

    println!("totesys demo source: {}", etl_shared::db::redact_url(&url));
    println!("{:<16} {:>10} {:>10}", "table", "seeded", "live");
    for (table, rows) in &seeded.rows {
        let changed = live.rows.get(table).map_or(0, |ids| ids.len());
        println!("{table:<16} {rows:>10} {changed:>10}");
    }
    println!(
        "seeded {} rows and simulated {} live operations in {:.1}s",
        seeded.total_rows(),
        live.total_operations(),
        started.elapsed().as_secs_f64()
    );
    println!("(the extract, transform and load stages are not built yet: see the open issues)");
    if let Some(cluster) = cluster {
        drop(client);
        tokio::task::spawn_blocking(move || cluster.stop()).await?;
    }
    Ok(())
}
