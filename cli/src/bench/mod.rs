//! `etl bench`: throughput, freshness and memory of the pipeline at scale, beside the raw COPY
//! floor, in one run on one machine. Each stage runs as its own `etl` process so its peak RSS and
//! CPU time are its own (the process reports them on exit, [`report_usage`]); the machine's busy
//! CPU time per phase counts the Postgres backends too. Results go to
//! `bench/results/<date>-scale<N>.json` and a Markdown table on stdout. With `--peers`, dlt and
//! Sling move the same data in the same run ([`peers`]).

pub mod inbox;
mod peers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use etl_contract::Config;
use etl_contract::catalog::SOURCE_TABLES;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;

use self::peers::{PeerFigures, Peers};
use crate::args::BenchArgs;
use crate::local::database_url;
use etl_devtools::pgcluster::Cluster;
use etl_devtools::reconcile;
use etl_devtools::runtime_api::RuntimeApi;
use etl_devtools::seed::{self, SeedOptions, generate::SeedSpec};
use etl_devtools::simulate::{self, SimulateOptions};

#[derive(Debug, Clone, Serialize)]
pub struct StageFigures {
    pub stage: String,
    pub wall_secs: f64,
    pub rows: u64,
    pub rows_per_sec: f64,
    pub mb: f64,
    pub mb_per_sec: f64,
    pub peak_rss_mb: f64,
    /// Busy CPU-seconds of the whole machine during the phase (the `etl` process and the
    /// Postgres backends serving it): on a saturated machine wall time follows this, and it
    /// varies far less from run to run than wall time does, so it is what compares scales.
    pub cpu_secs: f64,
    /// CPU-seconds of the `etl` process alone (0 for the floor, which runs in the bench).
    pub etl_cpu_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub date: String,
    pub scale: u64,
    pub machine: Machine,
    pub seed_secs: f64,
    pub source_rows: u64,
    pub copy_floor: StageFigures,
    /// The full load as users run it: one `etl run` process, its stages overlapping.
    pub etl_run: StageFigures,
    /// The same load one process per stage, one after the other: each stage's time and RSS.
    pub full_load: Vec<StageFigures>,
    pub end_to_end: StageFigures,
    /// Publishing the full load's runs to a directory lake, alone (after the three stages):
    /// the lake's target is no longer than transform.
    pub lake: StageFigures,
    /// `etl run`'s wall time over the COPY floor's (1.0: as fast as the floor).
    pub ratio_to_floor: f64,
    pub incremental_rows: u64,
    pub incremental: Vec<StageFigures>,
    pub incremental_total_secs: f64,
    /// One bulk UPDATE of every payment (a settlement job): one tie of that many rows.
    pub bulk: BulkFigures,
    /// Per Lambda binary: time to ready-for-first-event, and the `make build` zip's size.
    pub lambdas: Vec<LambdaFigures>,
    /// dlt and Sling on the same data, same run (`--peers`); empty without.
    pub peers: Vec<PeerFigures>,
    /// Our full load's wall time over the fastest peer's (below 1: faster than every peer).
    pub full_ratio_to_fastest_peer: Option<f64>,
    /// Our incremental extract-to-load time over the fastest peer's incremental run.
    pub incremental_ratio_to_fastest_peer: Option<f64>,
}

/// `UPDATE payment SET last_updated = now()`, then one `etl run` process for all stages.
#[derive(Debug, Clone, Serialize)]
pub struct BulkFigures {
    pub rows: u64,
    pub row_budget: u64,
    /// Extract runs the tie became, and the largest of them.
    pub runs: usize,
    pub max_run_rows: u64,
    pub wall_secs: f64,
    /// Of the whole `etl run` process: extract, transform and load of every run.
    pub peak_rss_mb: f64,
    /// The warehouse reconciles with the OLTP afterwards (per-table row counts and
    /// fingerprints, `etl_devtools::reconcile`); the bench fails otherwise.
    pub reconciled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LambdaFigures {
    pub name: String,
    /// Median and worst of [`COLD_STARTS`] starts; absent when the binary was not built.
    pub ready_ms_median: Option<f64>,
    pub ready_ms_max: Option<f64>,
    /// Size of `target/lambda/<name>/bootstrap.zip`, when `make build` has made it.
    pub zip_mb: Option<f64>,
}

/// Cold starts measured per Lambda binary.
const COLD_STARTS: usize = 5;

/// Starts each Lambda binary built beside this `etl` (same profile) under the Runtime API
/// emulator, with the stage's configuration, and times exec to its first poll for an event.
fn lambda_figures(env: &[(&str, String)]) -> anyhow::Result<Vec<LambdaFigures>> {
    let exe = std::env::current_exe().context("locating the etl binary")?;
    let bin_dir = exe.parent().context("the etl binary has no directory")?;
    let mut all = Vec::new();
    for name in ["extract", "transform", "load"] {
        let binary = bin_dir.join(name);
        let mut ready = Vec::new();
        if binary.exists() {
            for _ in 0..COLD_STARTS {
                let api = RuntimeApi::start()?;
                let mut function = api.spawn(&binary.display().to_string(), name, env)?;
                let took = api
                    .ready(&mut function, Duration::from_secs(30))
                    .with_context(|| format!("starting the {name} Lambda binary"))?;
                ready.push(took.as_secs_f64() * 1e3);
            }
            ready.sort_by(f64::total_cmp);
        } else {
            eprintln!(
                "  {name}: no binary at {} (cargo build --profile release-local -p etl-lambda)",
                binary.display()
            );
        }
        let zip = bin_dir
            .parent()
            .map(|target| target.join("lambda").join(name).join("bootstrap.zip"));
        all.push(LambdaFigures {
            name: name.into(),
            ready_ms_median: ready.get(ready.len() / 2).copied(),
            ready_ms_max: ready.last().copied(),
            zip_mb: zip
                .and_then(|z| std::fs::metadata(z).ok())
                .map(|m| m.len() as f64 / 1048576.0),
        });
    }
    Ok(all)
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub postgres: String,
}

fn figures(stage: &str, usage: Usage, rows: u64, bytes: u64) -> StageFigures {
    let secs = usage.wall.as_secs_f64().max(1e-9);
    let mb = bytes as f64 / 1e6;
    StageFigures {
        stage: stage.into(),
        wall_secs: secs,
        rows,
        rows_per_sec: rows as f64 / secs,
        mb,
        mb_per_sec: mb / secs,
        peak_rss_mb: usage.peak_rss_kb as f64 / 1024.0,
        cpu_secs: usage.machine_cpu_secs,
        etl_cpu_secs: usage.etl_cpu_secs,
    }
}

/// Where a stage process run by the bench writes its peak RSS and CPU time.
const USAGE_FILE: &str = "ETL_BENCH_USAGE_FILE";

/// The kernel's unit for CPU times in `/proc`: `USER_HZ` is 100 on every Linux ABI this runs
/// on (x86_64, arm64), whatever the kernel's own tick rate.
const TICKS_PER_SEC: f64 = 100.0;

/// Called by `etl` on exit: when the bench asked for it, records this process's peak RSS (KiB)
/// and CPU-seconds (user + system, all threads).
///
/// `wait4`'s `ru_maxrss` cannot be used: a child spawned by `posix_spawn` shares the parent's
/// memory until it execs, and Linux counts that (the bench's own, seeded-data-sized RSS) into the
/// child's maximum. `VmHWM` is the high-water mark of the process's own address space.
pub fn report_usage() {
    let Ok(path) = std::env::var(USAGE_FILE) else {
        return;
    };
    // Nothing where it cannot be read: the bench then fails saying so, rather than show 0.
    let hwm = etl_devtools::usage::peak_rss_kb("self")
        .map(|kb| kb.to_string())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| own_cpu_ticks(&stat))
        .unwrap_or_default();
    let _ = std::fs::write(path, format!("{hwm} {cpu}"));
}

/// `utime + stime` from a `/proc/<pid>/stat` line: fields 14 and 15, counted after the
/// command name, which is parenthesised and may itself hold spaces or parentheses.
fn own_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Busy ticks of the whole machine from `/proc/stat`'s first line: everything but idle and
/// iowait (guest time is already inside user time).
fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = ticks[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// Measures a phase: wall time and the machine's busy CPU time from construction to
/// [`Meter::stop`].
struct Meter {
    started: Instant,
    busy: u64,
}

impl Meter {
    fn start() -> anyhow::Result<Self> {
        Ok(Meter {
            busy: Self::busy()?,
            started: Instant::now(),
        })
    }

    fn busy() -> anyhow::Result<u64> {
        let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
        machine_busy_ticks(&stat).context("/proc/stat has no cpu line of the expected form")
    }

    /// The phase's usage; the `etl` process's own figures are the caller's to fill in.
    fn stop(self) -> anyhow::Result<Usage> {
        let wall = self.started.elapsed();
        Ok(Usage {
            wall,
            peak_rss_kb: 0,
            machine_cpu_secs: Self::busy()?.saturating_sub(self.busy) as f64 / TICKS_PER_SEC,
            etl_cpu_secs: 0.0,
        })
    }
}

/// What a phase of the bench used.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    wall: Duration,
    peak_rss_kb: u64,
    machine_cpu_secs: f64,
    etl_cpu_secs: f64,
}

impl Usage {
    /// Two phases one after the other: times add up, the peak is the larger one's.
    fn then(self, next: Usage) -> Usage {
        Usage {
            wall: self.wall + next.wall,
            peak_rss_kb: self.peak_rss_kb.max(next.peak_rss_kb),
            machine_cpu_secs: self.machine_cpu_secs + next.machine_cpu_secs,
            etl_cpu_secs: self.etl_cpu_secs + next.etl_cpu_secs,
        }
    }
}

/// The configuration of an `etl` process the bench runs: the databases, and the landing and
/// processed stores under `stores`.
fn stage_env(
    source: &str,
    warehouse: &str,
    stores: &Path,
    row_budget: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("ETL_SOURCE_URL", source.to_owned()),
        ("ETL_WAREHOUSE_URL", warehouse.to_owned()),
        ("ETL_LANDING", stores.join("landing").display().to_string()),
        (
            "ETL_PROCESSED",
            stores.join("processed").display().to_string(),
        ),
        ("ETL_ROW_BUDGET", row_budget.to_string()),
    ]
}

/// Runs `etl <args>` with `env`: its wall time, peak RSS and CPU time, and the machine's.
fn run_stage(env: &[(&str, String)], args: &[&str]) -> anyhow::Result<Usage> {
    let exe = std::env::current_exe().context("locating the etl binary")?;
    let usage_file = tempfile::NamedTempFile::new().context("creating the usage file")?;
    let meter = Meter::start()?;
    let mut child = std::process::Command::new(exe)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .env(USAGE_FILE, usage_file.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting etl {}", args.join(" ")))?;
    let status = child
        .wait()
        .with_context(|| format!("waiting for etl {}", args.join(" ")))?;
    let reported = std::fs::read_to_string(usage_file.path()).unwrap_or_default();
    let usage = meter.stop()?;
    if !status.success() {
        bail!("etl {} failed ({status})", args.join(" "));
    }
    let mut fields = reported.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(peak_kb)), Some(Ok(cpu_ticks))) = (fields.next(), fields.next()) else {
        bail!(
            "etl {} did not report its peak RSS and CPU time",
            args.join(" ")
        );
    };
    Ok(Usage {
        peak_rss_kb: peak_kb,
        etl_cpu_secs: cpu_ticks as f64 / TICKS_PER_SEC,
        ..usage
    })
}

fn dir_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The size of the floor's writes into COPY FROM STDIN.
const FLOOR_WRITE: usize = 1 << 20;

/// Binary COPY of every source table into a second database: the fastest a Postgres-to-Postgres
/// mover can be on this machine.
async fn copy_floor(source: &str, floor: &str, timeout: Duration) -> anyhow::Result<(u64, u64)> {
    let from = etl_adapters::db::connect("source", source, "etl-bench", timeout).await?;
    let mut to = etl_adapters::db::connect("floor", floor, "etl-bench", timeout).await?;
    // Same tables and keys, without foreign keys: the floor is pure data movement.
    to.batch_execute(seed::SCHEMA_SQL).await?;
    to.batch_execute(
        "DO $$ DECLARE c record; BEGIN \
           FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint \
                    WHERE contype = 'f' AND connamespace = 'public'::regnamespace LOOP \
             EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname); \
           END LOOP; END $$",
    )
    .await?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    let tx = to.transaction().await?;
    for table in &SOURCE_TABLES {
        let out = from
            .copy_out(&format!("COPY {} TO STDOUT (FORMAT binary)", table.name))
            .await?;
        let sink = tx
            .copy_in(&format!("COPY {} FROM STDIN (FORMAT binary)", table.name))
            .await?;
        futures_util::pin_mut!(out);
        futures_util::pin_mut!(sink);
        // COPY OUT yields one message per row; sending each on its own (a flush per row) made
        // the floor slower than the pipeline. Forward them in 1 MiB writes, as psql's pipe does.
        let mut buffer = BytesMut::with_capacity(FLOOR_WRITE);
        while let Some(chunk) = out.next().await {
            let chunk: Bytes = chunk?;
            bytes += chunk.len() as u64;
            buffer.extend_from_slice(&chunk);
            if buffer.len() >= FLOOR_WRITE {
                sink.send(buffer.split().freeze()).await?;
            }
        }
        if !buffer.is_empty() {
            sink.send(buffer.freeze()).await?;
        }
        rows += sink.finish().await?;
    }
    tx.commit().await?;
    Ok((rows, bytes))
}

pub async fn bench(config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    let mut cluster = None;
    let result = run(config, &args, &mut cluster).await;
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await?;
    }
    result
}

async fn run(
    config: &Config,
    args: &BenchArgs,
    cluster: &mut Option<Cluster>,
) -> anyhow::Result<()> {
    let timeout = config.connect_timeout;
    // Before anything slow: a missing peer environment fails now, not after the seed.
    let peer_tools = args.peers.as_deref().map(Peers::new).transpose()?;
    let admin_url = admin_url(config, cluster).await?;
    let admin = etl_adapters::db::connect("bench", &admin_url, "etl-bench", timeout).await?;
    let postgres: String = admin.query_one("SHOW server_version", &[]).await?.get(0);
    let mut databases = vec![
        "etl_bench_source",
        "etl_bench_floor",
        "etl_bench_warehouse",
        "etl_bench_run",
    ];
    if peer_tools.is_some() {
        databases.extend(["etl_bench_peer_dlt", "etl_bench_peer_sling"]);
    }
    let mut urls = Vec::new();
    for name in &databases {
        urls.push(fresh_database(&admin, &admin_url, name).await?);
    }
    let (source, floor, warehouse) = (urls[0].clone(), urls[1].clone(), urls[2].clone());
    let stores = tempfile::tempdir()?;
    let landing = stores.path().join("landing");
    let processed = stores.path().join("processed");
    let env = stage_env(&source, &warehouse, stores.path(), config.row_budget);

    eprintln!("seeding {} sales orders", args.scale);
    let mut source_client =
        etl_adapters::db::connect("source", &source, "etl-bench", timeout).await?;
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
    .await?;
    let source_rows = seeded.total_rows();
    settle(&source, timeout).await?;

    eprintln!("measuring the COPY floor");
    let meter = Meter::start()?;
    let (floor_rows, floor_bytes) = copy_floor(&source, &floor, timeout).await?;
    let floor_usage = meter.stop()?;
    let copy_floor = figures("copy floor", floor_usage, floor_rows, floor_bytes);
    settle(&floor, timeout).await?;

    // The peers' full loads, each into its own empty database, checked row for row.
    let mut peers = Vec::new();
    if let Some(tools) = &peer_tools {
        for (tool, target) in peers::TOOLS.iter().zip(&urls[4..]) {
            eprintln!("full load by {tool}");
            let usage = tools
                .run_checked(tool, "full", (&source, &source_client), target, timeout)
                .await?;
            peers.push(PeerFigures {
                tool: (*tool).into(),
                version: tools.version(tool),
                full_secs: usage.wall.as_secs_f64(),
                full_peak_rss_mb: usage.peak_rss_kb as f64 / 1024.0,
                full_cpu_secs: usage.machine_cpu_secs,
                incremental_secs: 0.0,
                incremental_peak_rss_mb: 0.0,
            });
        }
    }

    eprintln!("full load, one `etl run` (stages overlapping)");
    let run_stores = tempfile::tempdir()?;
    let run_env = stage_env(&source, &urls[3], run_stores.path(), config.row_budget);
    let run_usage = run_stage(&run_env, &["run"])?;
    let etl_run = figures(
        "etl run",
        run_usage,
        source_rows,
        dir_bytes(&run_stores.path().join("landing")),
    );
    drop(run_stores);
    settle(&urls[3], timeout).await?;

    eprintln!("full load, one process per stage");
    let mut full_load = Vec::new();
    let mut total = Usage::default();
    for stage in ["extract", "transform", "load"] {
        let usage = run_stage(&env, &["run", "--stage", stage])?;
        let bytes = match stage {
            "extract" => dir_bytes(&landing),
            _ => dir_bytes(&processed),
        };
        full_load.push(figures(stage, usage, source_rows, bytes));
        total = total.then(usage);
    }
    let end_to_end = figures("end to end", total, source_rows, dir_bytes(&landing));
    settle(&warehouse, timeout).await?;
    eprintln!("full load, publishing every run to a lake (an etl run with nothing else to do)");
    let lake_dir = stores.path().join("lake");
    std::fs::create_dir_all(&lake_dir).context("creating the bench's lake")?;
    let mut lake_env = env.clone();
    lake_env.push(("ETL_LAKE", lake_dir.display().to_string()));
    let lake_usage = run_stage(&lake_env, &["run"])?;
    let lake = figures("lake", lake_usage, source_rows, dir_bytes(&lake_dir));
    let ratio_to_floor = run_usage.wall.as_secs_f64() / floor_usage.wall.as_secs_f64();

    eprintln!("incremental: about {} changed rows", args.incremental_rows);
    let report = simulate::simulate(
        &source,
        timeout,
        &SimulateOptions {
            operations: Some(args.incremental_rows / 3),
            settle_rate: 0.0,
            order_edit_rate: 0.0,
            dimension_edit_rate: 0.0,
            ..SimulateOptions::default()
        },
    )
    .await?;
    let incremental_rows = report.distinct_rows() as u64;
    let mut incremental = Vec::new();
    let mut incremental_total = Duration::ZERO;
    for stage in ["extract", "transform", "load"] {
        let usage = run_stage(&env, &["run", "--stage", stage])?;
        incremental.push(figures(stage, usage, incremental_rows, 0));
        incremental_total += usage.wall;
    }
    if let Some(tools) = &peer_tools {
        for (peer, target) in peers.iter_mut().zip(&urls[4..]) {
            eprintln!("incremental by {}", peer.tool);
            let usage = tools
                .run_checked(
                    &peer.tool,
                    "incremental",
                    (&source, &source_client),
                    target,
                    timeout,
                )
                .await?;
            peer.incremental_secs = usage.wall.as_secs_f64();
            peer.incremental_peak_rss_mb = usage.peak_rss_kb as f64 / 1024.0;
        }
    }
    let fastest = |secs: fn(&PeerFigures) -> f64| peers.iter().map(secs).min_by(f64::total_cmp);
    let full_ratio_to_fastest_peer =
        fastest(|p| p.full_secs).map(|s| run_usage.wall.as_secs_f64() / s);
    let incremental_ratio_to_fastest_peer =
        fastest(|p| p.incremental_secs).map(|s| incremental_total.as_secs_f64() / s);

    eprintln!("bulk update: every payment stamped alike, then one etl run for all stages");
    let landing_store = etl_adapters::store::LocalStore::new(&landing)?;
    let runs_before = crate::status::manifests(&landing_store).await?.len();
    let bulk_rows: i64 = source_client
        .query_one(
            "WITH t AS (UPDATE payment SET last_updated = now() AT TIME ZONE 'UTC' RETURNING 1) \
             SELECT count(*) FROM t",
            &[],
        )
        .await?
        .get(0);
    settle(&source, timeout).await?;
    let bulk_usage = run_stage(&env, &["run"])?;
    let bulk_runs: Vec<u64> = crate::status::manifests(&landing_store).await?[runs_before..]
        .iter()
        .map(|m| m.total_rows())
        .collect();
    let warehouse_client =
        etl_adapters::db::connect("warehouse", &warehouse, "etl-bench", timeout).await?;
    let mismatches = reconcile::compare(&source_client, &warehouse_client).await?;
    if !mismatches.is_empty() {
        bail!(
            "after the bulk UPDATE the warehouse does not reconcile with the OLTP: {}",
            mismatches
                .iter()
                .map(|m| format!(
                    "{} ({} rows, {} expected)",
                    m.table, m.actual_rows, m.expected_rows
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let bulk = BulkFigures {
        rows: bulk_rows.max(0) as u64,
        row_budget: config.row_budget,
        runs: bulk_runs.len(),
        max_run_rows: bulk_runs.iter().copied().max().unwrap_or(0),
        wall_secs: bulk_usage.wall.as_secs_f64(),
        peak_rss_mb: bulk_usage.peak_rss_kb as f64 / 1024.0,
        reconciled: true,
    };

    eprintln!("Lambda binaries: time to ready-for-first-event, zip sizes");
    let lambdas = lambda_figures(&env)?;

    let report = BenchReport {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        scale: args.scale,
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: memory_gib(),
            postgres,
        },
        seed_secs: seeded.elapsed.as_secs_f64(),
        source_rows,
        copy_floor,
        etl_run,
        full_load,
        end_to_end,
        lake,
        ratio_to_floor,
        incremental_rows,
        incremental,
        incremental_total_secs: incremental_total.as_secs_f64(),
        bulk,
        lambdas,
        peers,
        full_ratio_to_fastest_peer,
        incremental_ratio_to_fastest_peer,
    };
    let path = write_report(&args.out, &report)?;
    println!("{}", markdown(&report));
    println!("written to {}", path.display());
    for name in &databases {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// The server a benchmark creates its databases on: the one of ETL_SOURCE_URL, or a throwaway
/// cluster it starts (stopped by the caller).
async fn admin_url(config: &Config, cluster: &mut Option<Cluster>) -> anyhow::Result<String> {
    Ok(match &config.source {
        Some(locator) => {
            database_url(locator, "ETL_SOURCE_URL", "ETL_SOURCE_SECRET_ARN")?.to_owned()
        }
        None => {
            eprintln!("starting a throwaway PostgreSQL for the benchmark");
            let started = tokio::task::spawn_blocking(|| Cluster::start("etl-bench-pg-")).await??;
            let url = started.url("postgres");
            *cluster = Some(started);
            url
        }
    })
}

/// Vacuums and analyses a database the last phase wrote, checkpoints, and has the kernel write
/// every dirty page out, all unmeasured, so that a phase does not pay for the autovacuum and
/// writeback the one before it left. Measured at 3,000,000 sales orders (README, Benchmark):
/// the `etl run` phase took 61.7 s unsettled, 60.1 s after a VACUUM alone and 57.8 s settled
/// like this, against 49.6-51.0 s for the same build on a cluster left quiet; what remains of
/// that gap is not explained.
async fn settle(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = etl_adapters::db::connect("bench", url, "etl-bench", timeout).await?;
    client
        .batch_execute("VACUUM (ANALYZE)")
        .await
        .context("vacuuming a database between two phases of the bench")?;
    // A role without pg_checkpoint (a server of the user's own) leaves it to the checkpointer.
    if let Err(e) = client.batch_execute("CHECKPOINT").await {
        eprintln!("  (no CHECKPOINT between phases: {e})");
    }
    let synced = std::process::Command::new("sync")
        .status()
        .context("running sync(1) between two phases of the bench")?;
    if !synced.success() {
        bail!("sync(1) failed between two phases of the bench ({synced})");
    }
    Ok(())
}

/// Creates database `name` on the admin connection's server, empty (dropping one left by an
/// earlier benchmark); returns its URL.
async fn fresh_database(
    admin: &tokio_postgres::Client,
    admin_url: &str,
    name: &str,
) -> anyhow::Result<String> {
    // Two statements: a multi-statement string is one transaction, which DROP DATABASE refuses.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let mut url = url::Url::parse(admin_url).context("the server URL must be a postgres:// URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0)
}

fn write_report(dir: &Path, report: &BenchReport) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}-scale{}.json", report.date, report.scale));
    std::fs::write(&path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The report as a Markdown table.
pub fn markdown(r: &BenchReport) -> String {
    let mut out = format!(
        "## etl bench, scale {} ({} source rows), {} cores, {:.0} GiB, PostgreSQL {}\n\n\
         | phase | wall s | rows/s | MB/s | peak RSS MB | busy CPU s | etl CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        r.scale, r.source_rows, r.machine.cores, r.machine.memory_gib, r.machine.postgres
    );
    let dash_if_zero = |v: f64, digits: usize| {
        if v > 0.0 {
            format!("{v:.digits$}")
        } else {
            "-".into()
        }
    };
    let row = |f: &StageFigures, label: &str| {
        format!(
            "| {label} | {:.2} | {:.0} | {:.1} | {} | {:.1} | {} |\n",
            f.wall_secs,
            f.rows_per_sec,
            f.mb_per_sec,
            dash_if_zero(f.peak_rss_mb, 0),
            f.cpu_secs,
            dash_if_zero(f.etl_cpu_secs, 1),
        )
    };
    out += &row(&r.copy_floor, "COPY floor (binary, PG to PG)");
    out += &row(&r.etl_run, "full load: one `etl run`, stages overlapping");
    for f in &r.full_load {
        out += &row(f, &format!("full load: {}", f.stage));
    }
    out += &row(
        &r.end_to_end,
        "full load: the three stages one after the other",
    );
    out += &row(
        &r.lake,
        "full load: publishing every run to the lake, alone",
    );
    for f in &r.incremental {
        out += &row(
            f,
            &format!("incremental {} rows: {}", r.incremental_rows, f.stage),
        );
    }
    out += &format!(
        "| bulk UPDATE of {} payments, one `etl run` ({} runs, largest {} rows, budget {}; reconciles) | {:.2} | {:.0} | - | {:.0} | - | - |\n",
        r.bulk.rows,
        r.bulk.runs,
        r.bulk.max_run_rows,
        r.bulk.row_budget,
        r.bulk.wall_secs,
        r.bulk.rows as f64 / r.bulk.wall_secs.max(1e-9),
        r.bulk.peak_rss_mb
    );
    for p in &r.peers {
        out += &format!(
            "| peer: {} {} full load | {:.2} | {:.0} | - | {:.0} | {:.1} | - |\n",
            p.tool,
            p.version,
            p.full_secs,
            r.source_rows as f64 / p.full_secs.max(1e-9),
            p.full_peak_rss_mb,
            p.full_cpu_secs
        );
        out += &format!(
            "| peer: {} {} incremental {} rows | {:.2} | {:.0} | - | {:.0} | - | - |\n",
            p.tool,
            p.version,
            r.incremental_rows,
            p.incremental_secs,
            r.incremental_rows as f64 / p.incremental_secs.max(1e-9),
            p.incremental_peak_rss_mb
        );
    }
    out += "\n| Lambda binary | ready for first event, median ms | max ms | zip MB |\n|---|---:|---:|---:|\n";
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
    for l in &r.lambdas {
        out += &format!(
            "| {} | {} | {} | {} |\n",
            l.name,
            opt(l.ready_ms_median, 1),
            opt(l.ready_ms_max, 1),
            opt(l.zip_mb, 2)
        );
    }
    let per_row = |f: &StageFigures| f.cpu_secs * 1e6 / r.source_rows.max(1) as f64;
    out += &format!(
        "\netl run / COPY floor (wall): {:.2}; incremental extract-to-load: {:.2} s; seed: {:.1} s\n\
         busy CPU per source row: etl run {:.2} us, COPY floor {:.2} us (compare scales by these)\n",
        r.ratio_to_floor,
        r.incremental_total_secs,
        r.seed_secs,
        per_row(&r.etl_run),
        per_row(&r.copy_floor),
    );
    if let (Some(full), Some(incremental)) = (
        r.full_ratio_to_fastest_peer,
        r.incremental_ratio_to_fastest_peer,
    ) {
        out += &format!(
            "full load / fastest peer: {full:.2}; incremental / fastest peer: {incremental:.2}\n"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (etl (run) x) S 1 4242 4242 0 -1 4194304 900 0 0 0 1234 567 0 0 20 0 \
                    9 0 100 0 0";
        assert_eq!(own_cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(own_cpu_ticks("4242 (etl) S 1"), None);
    }

    #[test]
    fn machine_busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 5 20 9000 300 1 2 3 0 0\ncpu0 50 2 10 4500 150 0 1 1 0 0\n";
        assert_eq!(machine_busy_ticks(stat), Some(100 + 5 + 20 + 1 + 2 + 3));
        assert_eq!(machine_busy_ticks("intr 1 2 3\n"), None);
    }
}
