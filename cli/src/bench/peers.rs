//! The peers of `etl bench --peers`: dlt (pyarrow + ADBC) and Sling move the same seeded source
//! into an empty database of the same server, in the same run as the floor and the pipeline, so
//! the ratios hold on a noisy machine. The tools run from their own virtual environment
//! (`requirements/bench.txt`, `make bench-peers`), driven by `bench/peers.py`, which is built
//! into this binary so the bench needs no checkout beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use etl_contract::catalog::SOURCE_TABLES;
use serde::Serialize;
use tokio_postgres::Client;

use super::{Meter, Usage};

const SCRIPT: &str = include_str!("../../../bench/peers.py");

/// The peers, in the order they run.
pub const TOOLS: [&str; 2] = ["dlt", "sling"];

#[derive(Debug, Clone, Serialize)]
pub struct PeerFigures {
    pub tool: String,
    pub version: String,
    pub full_secs: f64,
    pub full_peak_rss_mb: f64,
    /// Busy CPU-seconds of the whole machine during the full load (the tool and Postgres).
    pub full_cpu_secs: f64,
    pub incremental_secs: f64,
    pub incremental_peak_rss_mb: f64,
}

/// The Python environment the peers run in, and the script driving them.
pub struct Peers {
    python: PathBuf,
    script: tempfile::NamedTempFile,
    workdir: tempfile::TempDir,
}

impl Peers {
    pub fn new(venv: &Path) -> anyhow::Result<Peers> {
        let python = venv.join("bin").join("python");
        if !python.exists() {
            bail!(
                "no Python at {}: `make bench-peers` installs dlt and Sling there \
                 (scripts/ensure-tools.sh peers)",
                python.display()
            );
        }
        let script = tempfile::Builder::new()
            .suffix(".py")
            .tempfile()
            .context("writing the peers script")?;
        std::fs::write(script.path(), SCRIPT).context("writing the peers script")?;
        Ok(Peers {
            python,
            script,
            workdir: tempfile::tempdir().context("creating the peers' work directory")?,
        })
    }

    /// The tool's version, as its package reports it.
    pub fn version(&self, tool: &str) -> String {
        let package = match tool {
            "sling" => "sling-linux-amd64",
            other => other,
        };
        std::process::Command::new(&self.python)
            .args([
                "-c",
                &format!("import importlib.metadata as m; print(m.version({package:?}))"),
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Runs one tool in one mode (`full` or `incremental`) from `source` into `target`:
    /// the process's wall time, its peak RSS (its own or its child's) and the machine's CPU.
    pub fn run(&self, tool: &str, mode: &str, source: &str, target: &str) -> anyhow::Result<Usage> {
        let mut command = std::process::Command::new(&self.python);
        command
            .arg(self.script.path())
            .args([tool, mode, "--source", source, "--target", target])
            .arg("--workdir")
            .arg(self.workdir.path().join(tool))
            .env("RUNTIME__LOG_LEVEL", "ERROR");
        for table in &SOURCE_TABLES {
            command
                .arg("--table")
                .arg(format!("{}:{}", table.name, table.primary_key));
        }
        let meter = Meter::start()?;
        let output = command
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("starting {tool} ({})", self.python.display()))?;
        let usage = meter.stop()?;
        if !output.status.success() {
            bail!("{tool} {mode} load failed ({})", output.status);
        }
        let line = String::from_utf8_lossy(&output.stdout);
        let reported: serde_json::Value = line
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .with_context(|| format!("{tool} {mode}: no result line from the peers script"))?;
        let peak_rss_mb = reported["peak_rss_mb"].as_f64().unwrap_or(0.0);
        Ok(Usage {
            peak_rss_kb: (peak_rss_mb * 1024.0) as u64,
            ..usage
        })
    }
}

impl Peers {
    /// [`Peers::run`], then [`check_counts`] against the source: the timing of a load that
    /// is known to be whole.
    pub async fn run_checked(
        &self,
        tool: &str,
        mode: &str,
        (source_url, source): (&str, &Client),
        target: &str,
        timeout: Duration,
    ) -> anyhow::Result<Usage> {
        let figures = self.run(tool, mode, source_url, target)?;
        let target = etl_adapters::db::connect("peer", target, "etl-bench", timeout).await?;
        check_counts(tool, source, &target).await?;
        Ok(figures)
    }
}

/// Fails unless every source table arrived whole in the peer's `peer` schema: a peer that
/// skipped rows would look fast.
async fn check_counts(tool: &str, source: &Client, target: &Client) -> anyhow::Result<()> {
    for table in &SOURCE_TABLES {
        let want: i64 = source
            .query_one(&format!("SELECT count(*) FROM public.{}", table.name), &[])
            .await?
            .get(0);
        let got: i64 = target
            .query_one(&format!("SELECT count(*) FROM peer.{}", table.name), &[])
            .await
            .with_context(|| format!("{tool} left no table peer.{}", table.name))?
            .get(0);
        if got != want {
            bail!("{tool} moved {got} of {want} rows of {}", table.name);
        }
    }
    Ok(())
}
