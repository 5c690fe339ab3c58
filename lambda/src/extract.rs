//! The extract Lambda: invoked by EventBridge Scheduler, it takes runs until the source is caught
//! up or the invocation nears its deadline.
//!
//! Everything that can be built once is built at cold start ([`Handler::new`]): the landing
//! store's S3 client, the alert sink, the source URL (read from Secrets Manager, and again only
//! when the server refuses the password after a rotation) and the source connection, which
//! later invocations reuse while it stays open.

use std::time::SystemTime;

use etl_adapters::alert::{self, AlertSink};
use etl_adapters::report::{Failure, alert_and_fail, cold_start_failed};
use etl_adapters::secrets::DatabaseUrl;
use etl_adapters::store::ObjectStore;
use etl_adapters::telemetry;
use etl_contract::catalog::SOURCE_TABLES;
use etl_contract::config::{Config, LANDING};
use serde_json::{Value, json};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::Client;

use extract::future::alert_future_rows;
use extract::source::connect;
use extract::{ExtractError, ExtractOptions, ExtractOutcome, Source, extract};

use crate::{required_store, stop_taking_work_at};

pub struct Handler {
    config: Config,
    source_url: DatabaseUrl,
    landing: Box<dyn ObjectStore>,
    alerts: Box<dyn AlertSink>,
    source: Mutex<Option<Client>>,
}

impl Handler {
    /// The cold start. Fails only on what no retry can fix (configuration, an unreadable
    /// secret); an unreachable database is retried at each invocation.
    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Handler, Failure> {
        let alerts = alert::sink(sdk, config.alert_topic_arn.as_deref());
        let result = async {
            let landing = required_store(config.landing.as_ref(), LANDING, sdk)?;
            let source = config.source().map_err(|e| Failure::of(&e))?;
            let source_url = DatabaseUrl::resolve(source, sdk)
                .await
                .map_err(|e| Failure::of(&e))?;
            Ok::<_, Failure>((landing, source_url))
        }
        .await;
        let (landing, source_url) = match result {
            Ok(parts) => parts,
            Err(failure) => {
                return Err(cold_start_failed("extract", alerts.as_ref(), failure).await);
            }
        };
        let handler = Handler {
            config,
            source_url,
            landing,
            alerts,
            source: Mutex::new(None),
        };
        if let Err(error) = handler.connected().await {
            tracing::warn!(%error, "source not reachable at cold start; retrying per invocation");
        }
        Ok(handler)
    }

    /// A connection to the source: the one kept from earlier invocations while it is open.
    async fn connected(&self) -> Result<MappedMutexGuard<'_, Client>, ExtractError> {
        let mut slot = self.source.lock().await;
        let client = match slot.take() {
            Some(client) if !client.is_closed() => client,
            _ => connect(&self.source_url, self.config.connect_timeout).await?,
        };
        Ok(MutexGuard::map(slot, |slot| slot.insert(client)))
    }

    /// One scheduled invocation. The payload (the schedule's input) is not used: the watermark
    /// says where to start.
    pub async fn handle(
        &self,
        _payload: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Value, Failure> {
        match self.extract(deadline).await {
            Ok(outcome) => {
                alert_future_rows(&outcome, self.alerts.as_ref()).await;
                let lag = outcome
                    .watermark
                    .map(|w| (chrono::Utc::now() - w).num_milliseconds() as f64 / 1000.0);
                telemetry::emit_metrics(
                    "extract",
                    &[
                        ("RowsExtracted", "Count", outcome.total_rows() as f64),
                        ("RunsExtracted", "Count", outcome.runs.len() as f64),
                        (
                            telemetry::WATERMARK_LAG_METRIC,
                            "Seconds",
                            lag.unwrap_or(0.0),
                        ),
                    ],
                );
                Ok(json!({
                    "runs": outcome.runs.iter().map(|r| json!({
                        "run_id": r.run_id.to_string(),
                        "rows": r.total_rows(),
                        "bytes": r.bytes,
                    })).collect::<Vec<_>>(),
                    "rows": outcome.total_rows(),
                    "stop": format!("{:?}", outcome.stop),
                    "watermark": outcome.watermark.map(etl_contract::time::format_micros),
                }))
            }
            Err(error) => Err(alert_and_fail("extract", None, self.alerts.as_ref(), &error).await),
        }
    }

    async fn extract(&self, deadline: Option<SystemTime>) -> Result<ExtractOutcome, ExtractError> {
        let mut client = self.connected().await?;
        let options = ExtractOptions {
            row_budget: self.config.row_budget,
            lookback: self.config.lookback,
            readers: self.config.source_readers,
            deadline: deadline.map(stop_taking_work_at),
            ..ExtractOptions::new(&SOURCE_TABLES)
        };
        let source = Source {
            url: &self.source_url,
            timeout: self.config.connect_timeout,
        };
        extract(&mut client, &source, self.landing.as_ref(), &options).await
    }
}
