//! The `etl` commands: each reads configuration, calls a library, and prints a short report.

use anyhow::{Context, bail};
use etl_adapters::quarantine;
use etl_contract::Config;
use etl_contract::config::LAKE;
use etl_contract::manifest::Stage;

use crate::args::{
    Command, InboxAction, InboxArgs, ReplayArgs, ReplayStage, RunArgs, ScheduleAction,
    ScheduleArgs, SeedArgs, SimulateArgs, StageArg,
};
use crate::local::{Local, Stages, database_url, print_cycle, run_every};
use crate::{bench, demo, report, schedule, status};
use etl_devtools::seed::{self, SeedOptions, generate::SeedSpec};
use etl_devtools::simulate::{self, SimulateOptions};

pub async fn run(command: Command) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match command {
        Command::Seed(args) => seed_command(&config, args).await,
        Command::Simulate(args) => simulate_command(&config, args).await,
        Command::Run(args) => run_command(config, args).await,
        Command::Status(args) => {
            let local = Local::new(config).await?;
            let status = status::status(&local).await?;
            let verdict = status::verdict(&status, args.freshness_slo);
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status.to_json(&verdict))?
                );
            } else {
                status::print(&verdict, &status);
            }
            Ok(())
        }
        Command::Report(args) => {
            let local = Local::new(config).await?;
            let report = report::gather(&local, args.freshness_slo, args.runs).await?;
            report::write(&report, &args.html)?;
            println!("report written to {}", args.html.display());
            Ok(())
        }
        Command::Replay(args) => replay_command(config, args).await,
        Command::Schedule(args) => schedule_command(args).await,
        Command::Inbox(args) => inbox_command(config, args).await,
        Command::Demo(args) => demo::demo(&config, args).await,
        Command::Bench(args) => bench::bench(&config, args).await,
        Command::BenchInbox(args) => bench::inbox::bench_inbox(&config, args).await,
    }
}

fn source_url(config: &Config) -> anyhow::Result<&str> {
    database_url(
        config.source()?,
        etl_contract::config::SOURCE_URL,
        etl_contract::config::SOURCE_SECRET_ARN,
    )
}

async fn schedule_command(args: ScheduleArgs) -> anyhow::Result<()> {
    let client = aws_sdk_scheduler::Client::new(&etl_adapters::aws::aws_config().await);
    let (name, group) = (args.name.as_str(), args.group.as_str());
    let status = match &args.action {
        ScheduleAction::Status { .. } => schedule::status(&client, name, group).await?,
        ScheduleAction::Pause => schedule::set_state(&client, name, group, false, None).await?,
        ScheduleAction::Resume { rate } => {
            schedule::set_state(&client, name, group, true, rate.as_deref()).await?
        }
    };
    if matches!(args.action, ScheduleAction::Status { json: true }) {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        schedule::print(&status);
    }
    Ok(())
}

async fn run_command(config: Config, args: RunArgs) -> anyhow::Result<()> {
    let stages = match args.stage {
        StageArg::Extract => Stages::Extract,
        StageArg::Transform => Stages::Transform,
        StageArg::Load => Stages::Load,
        StageArg::Inbox => Stages::Inbox,
        StageArg::All => Stages::All,
    };
    let local = Local::new(config).await?;
    if let Some(every) = args.every {
        return run_every(&local, stages, every).await;
    }
    let cycle = local.cycle(stages).await?;
    print_cycle(&cycle);
    let failures = cycle.failures();
    if !failures.is_empty() {
        bail!(
            "{} run(s) failed (see above); inputs with bad data are quarantined: `etl status` \
             lists them, `etl replay RUN_ID` retries after a fix",
            failures.len()
        );
    }
    Ok(())
}

async fn inbox_command(config: Config, args: InboxArgs) -> anyhow::Result<()> {
    match args.action {
        InboxAction::Run => {
            let run = RunArgs {
                stage: StageArg::Inbox,
                every: None,
            };
            run_command(config, run).await
        }
        InboxAction::Log { table, since, json } => inbox_log(config, table, since, json).await,
        InboxAction::Retry { table } => inbox_retry(config, table).await,
    }
}

async fn inbox_log(
    config: Config,
    table: Option<String>,
    since: std::time::Duration,
    json: bool,
) -> anyhow::Result<()> {
    let local = Local::new(config).await?;
    let warehouse = local.warehouse_read_only().await?;
    let has_inbox: Option<String> = warehouse
        .query_one("SELECT to_regclass('inbox.etl_inbox_log')::text", &[])
        .await?
        .get(0);
    if has_inbox.is_none() {
        bail!("the warehouse has no inbox yet: `etl inbox run` (or any load) creates it");
    }
    let since = chrono::Utc::now() - chrono::Duration::from_std(since)?;
    let entries = inbox::log::entries(&warehouse, table.as_deref(), since).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("no inbox files processed since {since}");
    }
    for e in &entries {
        println!(
            "{}  {:<8} {:<9} {:<24} loaded {:>9} rejected {:>7}  {}{}",
            e.finished.format("%Y-%m-%d %H:%M:%S"),
            e.status,
            e.action,
            e.table,
            e.rows_loaded,
            e.rows_rejected,
            e.file,
            e.reason
                .as_deref()
                .map(|r| format!("\n    reason: {r}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

async fn inbox_retry(config: Config, table: String) -> anyhow::Result<()> {
    let local = Local::new(config).await?;
    let mut warehouse = local.warehouse().await?;
    let retried = inbox::retry::retry(&mut warehouse, &table)
        .await
        .with_context(|| format!("retrying the error rows of {table}"))?;
    println!(
        "moved {} fixed row(s) into inbox.{table}; {} still fail (their reasons are \
         updated in inbox.{table}__errors)",
        retried.moved, retried.still_bad
    );
    Ok(())
}

async fn replay_command(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    let local = Local::new(config).await?;
    let run = &args.run_id;
    let runs = std::slice::from_ref(run);
    if matches!(args.stage, ReplayStage::Transform | ReplayStage::All) {
        quarantine::clear(local.processed.as_ref(), run, Stage::Transform).await?;
        for (_, result) in local.transform(runs).await {
            let outcome = result.with_context(|| format!("replaying transform of {run}"))?;
            println!(
                "transform {run}  rows {:>9}  bytes {:>11}",
                outcome.rows.values().sum::<u64>(),
                outcome.bytes
            );
        }
    }
    if matches!(args.stage, ReplayStage::Load | ReplayStage::All) {
        quarantine::clear(local.processed.as_ref(), run, Stage::Load).await?;
        let mut warehouse = local.warehouse().await?;
        for (_, result) in local.load(&mut warehouse, runs).await {
            match result.with_context(|| format!("replaying load of {run}"))? {
                load::LoadOutcome::Loaded { rows, .. } => {
                    println!("load      {run}  rows {:>9}", rows.values().sum::<u64>())
                }
                load::LoadOutcome::AlreadyLoaded { loaded_at, .. } => {
                    println!("load      {run}  already loaded at {loaded_at}: nothing to do")
                }
            }
        }
    }
    let lake = match (&args.stage, &local.lake) {
        (ReplayStage::Lake, None) => {
            bail!("{LAKE} is not set: there is no lake to replay {run} into")
        }
        (ReplayStage::Lake | ReplayStage::All, Some(lake)) => Some(lake),
        _ => None,
    };
    if let Some(lake) = lake {
        let (_, result) = local.publish(lake, run).await;
        let published =
            result.with_context(|| format!("replaying the lake's publishing of {run}"))?;
        for (table, outcome) in &published.tables {
            match outcome {
                lake::TableOutcome::Appended { rows, .. } => {
                    println!("lake      {run}  {table}  rows {rows:>9}")
                }
                lake::TableOutcome::AlreadyThere => {
                    println!("lake      {run}  {table}  holds the run already: nothing to do")
                }
            }
        }
    }
    Ok(())
}

async fn seed_command(config: &Config, args: SeedArgs) -> anyhow::Result<()> {
    let url = source_url(config)?;
    let mut client =
        etl_adapters::db::connect("source", url, "etl-seed", config.connect_timeout).await?;
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
    let progress = crate::progress::Progress::start("generating the history");
    let report = seed::seed(
        &mut client,
        SeedOptions {
            spec,
            force: args.force,
        },
        |table, rows, took| {
            progress.update(format!("seeded {table} ({rows} rows)"));
            tracing::debug!(table, rows, secs = took.as_secs_f64(), "table seeded");
        },
    )
    .await
    .context("etl seed failed");
    progress.finish();
    let report = report?;
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
