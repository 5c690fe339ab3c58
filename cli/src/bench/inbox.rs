//! `etl bench-inbox` (`make bench-inbox`): one large CSV dropped into the inbox, loaded by
//! `etl inbox run` (a `truncate/` file: read, checked exactly, COPY, the log row, one
//! transaction), against `psql \copy` of the same file into the same table on the same server,
//! in the same run. Reports rows/s of both, their ratio, and the peak RSS of the etl process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use etl_contract::Config;
use serde::Serialize;

use crate::args::BenchInboxArgs;
use crate::bench::{admin_url, fresh_database, run_stage};
use etl_devtools::pgcluster::Cluster;

/// The table both load: the types the inbox checks hardest (numeric, dates, timestamps).
const DECLARATION: &str = r#"{"table": "bench_customers", "columns": [
  {"name": "id", "type": "bigint", "nullable": false}, {"name": "name", "type": "text"},
  {"name": "balance", "type": "numeric(12,2)"}, {"name": "joined", "type": "date"},
  {"name": "active", "type": "boolean"}, {"name": "updated", "type": "timestamptz"}],
  "primary_key": ["id"], "allowed_actions": ["truncate"]}"#;

#[derive(Debug, Serialize)]
pub struct InboxBench {
    pub date: String,
    pub rows: u64,
    pub file_bytes: u64,
    pub psql_copy_secs: f64,
    pub psql_rows_per_sec: f64,
    pub etl_secs: f64,
    pub etl_rows_per_sec: f64,
    /// etl's rows/s over psql's (the issue's target: at least 0.7).
    pub ratio_to_psql: f64,
    pub etl_peak_rss_mb: f64,
    pub machine: super::Machine,
}

pub async fn bench_inbox(config: &Config, args: BenchInboxArgs) -> anyhow::Result<()> {
    let psql = which("psql").context(
        "psql is not on PATH: the inbox benchmark times `psql \\copy` beside etl (apt-get install \
         postgresql-client)",
    )?;
    let mut cluster = None;
    let result = run(config, &args, &psql, &mut cluster).await;
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await?;
    }
    result
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

async fn run(
    config: &Config,
    args: &BenchInboxArgs,
    psql: &Path,
    cluster: &mut Option<Cluster>,
) -> anyhow::Result<()> {
    let admin_url = admin_url(config, cluster).await?;
    let admin =
        etl_adapters::db::connect("bench", &admin_url, "etl-bench", config.connect_timeout).await?;
    let postgres: String = admin.query_one("SHOW server_version", &[]).await?.get(0);
    let databases = ["etl_bench_inbox_psql", "etl_bench_inbox_etl"];
    let psql_url = fresh_database(&admin, &admin_url, databases[0]).await?;
    let etl_url = fresh_database(&admin, &admin_url, databases[1]).await?;

    let work = tempfile::tempdir().context("creating the benchmark's directory")?;
    let csv = work.path().join("customers.csv");
    eprintln!("writing a CSV of {} rows", args.rows);
    let rows = args.rows;
    let csv_path = csv.clone();
    let file_bytes = tokio::task::spawn_blocking(move || write_csv(&csv_path, rows)).await??;
    eprintln!("{:.2} GB written", file_bytes as f64 / 1e9);

    // psql \copy into the same table, declared by the same DDL.
    let declaration = inbox::Declaration::parse("bench_customers", DECLARATION.as_bytes())?;
    let target =
        etl_adapters::db::connect("bench", &psql_url, "etl-bench", config.connect_timeout).await?;
    target
        .batch_execute(&format!(
            "CREATE SCHEMA inbox; {}",
            inbox::sql::create_table(&declaration)
        ))
        .await?;
    eprintln!("psql \\copy");
    let started = Instant::now();
    let status = std::process::Command::new(psql)
        .arg(&psql_url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-c")
        .arg(format!(
            "\\copy inbox.bench_customers FROM '{}' WITH (FORMAT csv, HEADER true)",
            csv.display()
        ))
        .stdout(std::process::Stdio::null())
        .status()
        .context("running psql")?;
    let psql_wall = started.elapsed();
    if !status.success() {
        bail!("psql \\copy failed ({status})");
    }

    // etl: declare first, then time the file alone.
    let inbox_dir = work.path().join("inbox");
    std::fs::create_dir_all(inbox_dir.join("schema"))?;
    std::fs::create_dir_all(inbox_dir.join("truncate/bench_customers"))?;
    std::fs::write(inbox_dir.join("schema/bench_customers.json"), DECLARATION)?;
    let env = [
        ("ETL_WAREHOUSE_URL", etl_url.clone()),
        ("ETL_INBOX", inbox_dir.display().to_string()),
    ];
    run_stage(&env, &["inbox", "run"])?;
    std::fs::hard_link(
        &csv,
        inbox_dir.join("truncate/bench_customers/customers.csv"),
    )
    .context("linking the CSV into the inbox")?;
    eprintln!("etl inbox run");
    let etl = run_stage(&env, &["inbox", "run"])?;
    let etl_wall = etl.wall;

    for url in [&psql_url, &etl_url] {
        let client =
            etl_adapters::db::connect("bench", url, "etl-bench", config.connect_timeout).await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM inbox.bench_customers", &[])
            .await?
            .get(0);
        if u64::try_from(n).unwrap_or(0) != rows {
            bail!("{url}: {n} rows loaded, {rows} expected");
        }
    }
    let per_sec = |wall: Duration| rows as f64 / wall.as_secs_f64().max(1e-9);
    let report = InboxBench {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        rows,
        file_bytes,
        psql_copy_secs: psql_wall.as_secs_f64(),
        psql_rows_per_sec: per_sec(psql_wall),
        etl_secs: etl_wall.as_secs_f64(),
        etl_rows_per_sec: per_sec(etl_wall),
        ratio_to_psql: per_sec(etl_wall) / per_sec(psql_wall),
        etl_peak_rss_mb: etl.peak_rss_kb as f64 / 1024.0,
        machine: super::Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: super::memory_gib(),
            postgres,
        },
    };
    std::fs::create_dir_all(&args.out)?;
    let path = args
        .out
        .join(format!("{}-inbox-rows{}.json", report.date, report.rows));
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!(
        "| load of a {:.2} GB CSV, {} rows | wall s | rows/s | peak RSS MB |\n|---|---:|---:|---:|\n\
         | psql \\copy | {:.2} | {:.0} | - |\n| etl inbox run (truncate) | {:.2} | {:.0} | {:.0} |\n\n\
         etl / psql rows/s: {:.2}",
        report.file_bytes as f64 / 1e9,
        report.rows,
        report.psql_copy_secs,
        report.psql_rows_per_sec,
        report.etl_secs,
        report.etl_rows_per_sec,
        report.etl_peak_rss_mb,
        report.ratio_to_psql
    );
    println!("written to {}", path.display());
    for name in databases {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// Writes `rows` customers as CSV (about 100 bytes a row: 20M rows make 2 GB), deterministically.
fn write_csv(path: &Path, rows: u64) -> anyhow::Result<u64> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "id,name,balance,joined,active,updated")?;
    for i in 0..rows {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        writeln!(
            out,
            "{i},\"Customer {i:08}, Trading Co. Ltd\",{}.{:02},2024-{month:02}-{day:02},{},2024-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            (i * 7919) % 10_000_000,
            i % 100,
            if i % 3 == 0 { "true" } else { "false" },
            i % 24,
            i % 60,
            (i / 60) % 60,
            i % 1_000_000
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
