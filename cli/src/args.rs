//! The `etl` command line. Every command reads the same `ETL_*` configuration as the Lambdas.

use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "etl",
    version,
    about = "Run the totesys pipeline locally and operate it: seed, simulate, run, status, replay.",
    long_about = "Run the totesys OLTP -> Parquet -> warehouse pipeline locally and operate it.\n\n\
Configuration comes from ETL_* environment variables (see the README's configuration table).",
    after_help = "Example:\n  export ETL_SOURCE_URL=postgres://postgres@localhost:5432/totesys\n  etl seed --scale 10000\n  etl simulate --duration 30s --rate 20"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a deterministic synthetic totesys history into the source database (ETL_SOURCE_URL).
    #[command(
        after_help = "Example:\n  ETL_SOURCE_URL=postgres://postgres@localhost/totesys etl seed --scale 100000 --seed 42"
    )]
    Seed(SeedArgs),
    /// Write live business activity into the source database, as the application would.
    #[command(
        after_help = "Example:\n  etl simulate --duration 60s --rate 50 --order-edit-rate 0.1 --long-tx-rate 0.05 --long-tx-hold 5s"
    )]
    Simulate(SimulateArgs),
    /// Run pipeline stages locally (ETL_SOURCE_URL, ETL_LANDING, ...).
    #[command(
        after_help = "Example:\n  ETL_SOURCE_URL=postgres://postgres@localhost/totesys ETL_LANDING=./landing etl run --stage extract"
    )]
    Run(RunArgs),
    /// Show the watermark, freshness lag, recent runs, pending runs and quarantined inputs.
    #[command(after_help = "Example:\n  etl status --json | jq .lag_secs")]
    Status(StatusArgs),
    /// Write a self-contained HTML page (no network): freshness and rows per run charted, the
    /// two report views, and the status facts.
    #[command(after_help = "Example:\n  etl report --html report.html && xdg-open report.html")]
    Report(ReportArgs),
    /// Run a stage again for one run (after fixing what quarantined it).
    #[command(
        after_help = "Example:\n  etl replay 20261125T081500.123456Z-0a1b2c3d --stage transform"
    )]
    Replay(ReplayArgs),
    /// Measure throughput, freshness and memory at scale beside the raw COPY floor. Uses the
    /// server of ETL_SOURCE_URL (creating and dropping etl_bench_* databases) or a throwaway one.
    #[command(
        after_help = "Example:\n  etl bench --scale 1000000   # writes bench/results/<date>-scale1000000.json"
    )]
    Bench(BenchArgs),
    /// Measure the inbox: one large CSV loaded by `etl inbox run` beside `psql \copy` of the
    /// same file into the same table, on the server of ETL_SOURCE_URL or a throwaway one.
    #[command(
        name = "bench-inbox",
        after_help = "Example:\n  etl bench-inbox --rows 20000000   # about 2 GB; writes bench/results/<date>-inbox-rows20000000.json"
    )]
    BenchInbox(BenchInboxArgs),
    /// Show, pause or resume the extract schedule (EventBridge Scheduler) of a deployment.
    #[command(
        after_help = "Example:\n  etl schedule pause --name totesys-etl-prod-extract\n  etl schedule resume --rate 'rate(15 minutes)'"
    )]
    Schedule(ScheduleArgs),
    /// The file-drop inbox (ETL_INBOX): load dropped files, read the log, retry fixed rows.
    #[command(
        after_help = "Example:\n  ETL_INBOX=./inbox etl inbox run\n  etl inbox log --table customers --since 1h\n  etl inbox retry customers"
    )]
    Inbox(InboxArgs),
    /// Run a demonstration on a throwaway Postgres (or ETL_SOURCE_URL) and print a report.
    #[command(after_help = "Example:\n  etl demo --scale 20000")]
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Sales orders in the seeded history.
    #[arg(long, default_value_t = 20_000)]
    pub scale: u64,
    /// Live operations simulated between the two pipeline runs.
    #[arg(long, default_value_t = 300)]
    pub operations: u64,
    /// Where to write the HTML report of the demo (left behind, with the lake).
    #[arg(long, value_name = "FILE", default_value = ".etl/demo-report.html")]
    pub report: std::path::PathBuf,
    /// Where the demo publishes its lake: the warehouse's tables as Iceberg tables, left behind
    /// to query with DuckDB or pyiceberg (docs/lake.md). A lake an earlier demo left there is
    /// replaced; a directory holding anything else is refused.
    #[arg(long, value_name = "DIR", default_value = ".etl/lake")]
    pub lake: std::path::PathBuf,
}

/// A pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageArg {
    /// Land rows changed since the watermark as NDJSON parts and a manifest.
    Extract,
    /// Build galaxy-schema Parquet from every landing run not yet transformed.
    Transform,
    /// Merge every processed run not yet in the warehouse ledger into the warehouse.
    Load,
    /// Load the files dropped into the inbox (ETL_INBOX, by default .etl/inbox).
    Inbox,
    /// Extract, then transform and load everything pending (and publish it to the lake when
    /// ETL_LAKE is set); then the inbox when ETL_INBOX is set.
    All,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which stage to run.
    #[arg(long, value_enum, default_value = "all")]
    pub stage: StageArg,
    /// Run again every DURATION (e.g. 30s, 5m) until Ctrl-C, like the schedule does.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub every: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
    /// How stale the warehouse may be before the verdict is "stale" (e.g. 30m, 2h).
    #[arg(long, env = "ETL_FRESHNESS_SLO", default_value = "30m", value_parser = humantime::parse_duration)]
    pub freshness_slo: std::time::Duration,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where to write the page.
    #[arg(long, value_name = "FILE")]
    pub html: std::path::PathBuf,
    /// The freshness objective the verdict and the freshness chart measure against.
    #[arg(long, env = "ETL_FRESHNESS_SLO", default_value = "30m", value_parser = humantime::parse_duration)]
    pub freshness_slo: std::time::Duration,
    /// How many of the latest runs to chart.
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
}

/// A stage that can be replayed for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayStage {
    Transform,
    Load,
    /// Publishing to the lake's Iceberg tables (ETL_LAKE).
    Lake,
    /// Transform, then load, then the lake when ETL_LAKE is set.
    All,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run to replay (its id, as in `etl status`).
    pub run_id: etl_contract::RunId,
    /// Which stage to run again.
    #[arg(long, value_enum, default_value = "all")]
    pub stage: ReplayStage,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Number of sales orders; ~0.42x purchase orders and one transaction and payment per order follow.
    #[arg(long, default_value_t = 10_000)]
    pub scale: u64,
    /// Seed of the random generator: the same seed and --end give identical data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The history ends before this date (YYYY-MM-DD, UTC). Default: today.
    #[arg(long)]
    pub end: Option<NaiveDate>,
    /// Replace the data of a source that is not empty.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many operations.
    #[arg(long)]
    pub operations: Option<u64>,
    /// Operations per second (0: as fast as the database allows).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Share of operations that settle a few unpaid payments.
    #[arg(long, default_value_t = 0.2)]
    pub settle_rate: f64,
    /// Share of operations that edit an order (and re-price its payment).
    #[arg(long, default_value_t = 0.05)]
    pub order_edit_rate: f64,
    /// Share of operations that edit an address or a department.
    #[arg(long, default_value_t = 0.02)]
    pub dimension_edit_rate: f64,
    /// Share of new orders written by a long-running transaction.
    #[arg(long, default_value_t = 0.0)]
    pub long_tx_rate: f64,
    /// How long a long-running transaction stays open before it commits.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub long_tx_hold: Duration,
    /// Seed of the random choices (timestamps are always the database's now()).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Sales orders in the seeded history.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale: u64,
    /// Changed rows for the incremental (freshness) measurement.
    #[arg(long, default_value_t = 10_000)]
    pub incremental_rows: u64,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results")]
    pub out: std::path::PathBuf,
    /// Also move the same data with dlt and Sling, timed in the same run (`make bench-peers`
    /// installs them into this Python environment).
    #[arg(long, value_name = "VENV")]
    pub peers: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchInboxArgs {
    /// Rows of the CSV (about 100 bytes each).
    #[arg(long, default_value_t = 20_000_000)]
    pub rows: u64,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
    /// The schedule's name (Terraform's `schedule_name` output).
    #[arg(
        long,
        global = true,
        env = "ETL_SCHEDULE_NAME",
        default_value = "totesys-etl-extract"
    )]
    pub name: String,
    /// The schedule group.
    #[arg(
        long,
        global = true,
        env = "ETL_SCHEDULE_GROUP",
        default_value = "default"
    )]
    pub group: String,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Show the schedule's state, expression and target.
    Status {
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop invoking extract (runs in flight finish; nothing is lost, the watermark waits).
    Pause,
    /// Invoke extract again, optionally at a new rate.
    Resume {
        /// A new schedule expression, e.g. 'rate(15 minutes)'.
        #[arg(long)]
        rate: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(subcommand)]
    pub action: InboxAction,
}

#[derive(Debug, Subcommand)]
pub enum InboxAction {
    /// Apply new declarations and load every file not loaded yet (as `etl run --stage inbox`).
    Run,
    /// Show the processing log: each file's action, table, rows loaded and rejected, checks,
    /// status and reason, newest first.
    Log {
        /// Only this table's files.
        #[arg(long)]
        table: Option<String>,
        /// How far back (e.g. 1h, 7d).
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the rows of inbox.<TABLE>__errors again (after fixing them in place) and move
    /// those that now pass into the table.
    Retry {
        /// The table whose error rows to retry.
        table: String,
    },
}
