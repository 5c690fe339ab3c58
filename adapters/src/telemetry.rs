//! Log output: readable lines on a terminal, JSON lines otherwise (Lambda, CI, cron,
//! containers), on stderr so the `etl` tool's stdout carries only its report. CloudWatch
//! collects both streams of a Lambda; JSON lines make every field (run_id, stage, rows)
//! queryable with Logs Insights.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber at `default_level`; `RUST_LOG` overrides it.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.compact().init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

/// Prints one CloudWatch embedded-metric-format record on stdout: CloudWatch Logs turns it into
/// metrics (namespace `totesys-etl`, dimension `Stage`) without an API call or extra latency,
/// and the freshness alarm reads `WatermarkLagSeconds` from it.
pub fn emit_metrics(stage: &str, metrics: &[(&str, &str, f64)]) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let definitions: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    let mut record = serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Stage"]],
                "Metrics": definitions,
            }],
        },
        "Stage": stage,
    });
    for (name, _, value) in metrics {
        record[*name] = serde_json::json!(value);
    }
    println!("{record}");
}

/// The CloudWatch namespace of the pipeline's metrics (Terraform's alarms use it too).
pub const METRICS_NAMESPACE: &str = "totesys-etl";
/// Seconds between now and the watermark, emitted by extract; the freshness alarm's metric.
pub const WATERMARK_LAG_METRIC: &str = "WatermarkLagSeconds";
