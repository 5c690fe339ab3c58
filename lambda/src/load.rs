//! The load Lambda: invoked by the processed bucket's notifications for `manifests/`, it merges
//! every announced run into the warehouse.
//!
//! The store's S3 client, the alert sink, the warehouse URL (from Secrets Manager, read again
//! after a refused password) and the warehouse connection, with the migrations applied, are set
//! up at cold start and reused by later invocations while the connection stays open. Concurrent
//! loads are correct under the advisory lock; a reserved concurrency of 1 (Terraform's
//! `reserved_concurrency`, off by default) only keeps them from queueing on it.

use etl_adapters::alert::{self, AlertSink};
use etl_adapters::report::{Failure, alert_and_fail, cold_start_failed, report_runs};
use etl_adapters::secrets::DatabaseUrl;
use etl_adapters::store::ObjectStore;
use etl_contract::config::{Config, PROCESSED};
use etl_contract::manifest::Stage;
use serde_json::{Value, json};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::Client;

use load::{LoadError, LoadOutcome, connect, process};

use crate::event::S3Event;
use crate::{prefix_of, required_store};

pub struct Handler {
    config: Config,
    warehouse_url: DatabaseUrl,
    processed: Box<dyn ObjectStore>,
    processed_prefix: String,
    alerts: Box<dyn AlertSink>,
    warehouse: Mutex<Option<Client>>,
}

impl Handler {
    /// The cold start. Fails only on what no retry can fix; an unreachable warehouse is
    /// retried at each invocation.
    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Handler, Failure> {
        let alerts = alert::sink(sdk, config.alert_topic_arn.as_deref());
        let result = async {
            let processed = required_store(config.processed.as_ref(), PROCESSED, sdk)?;
            let warehouse = config.warehouse().map_err(|e| Failure::of(&e))?;
            let url = DatabaseUrl::resolve(warehouse, sdk)
                .await
                .map_err(|e| Failure::of(&e))?;
            Ok::<_, Failure>((processed, url))
        }
        .await;
        let (processed, warehouse_url) = match result {
            Ok(parts) => parts,
            Err(failure) => {
                return Err(cold_start_failed("load", alerts.as_ref(), failure).await);
            }
        };
        let handler = Handler {
            processed_prefix: prefix_of(config.processed.as_ref()),
            config,
            warehouse_url,
            processed,
            alerts,
            warehouse: Mutex::new(None),
        };
        if let Err(error) = handler.connected().await {
            tracing::warn!(%error, "warehouse not ready at cold start; retrying per invocation");
        }
        Ok(handler)
    }

    /// The kept warehouse connection, or a new one with the migrations applied.
    async fn connected(&self) -> Result<MappedMutexGuard<'_, Client>, LoadError> {
        let mut slot = self.warehouse.lock().await;
        let client = match slot.take() {
            Some(client) if !client.is_closed() => client,
            _ => connect(&self.warehouse_url, self.config.connect_timeout).await?,
        };
        Ok(MutexGuard::map(slot, |slot| slot.insert(client)))
    }

    /// One S3 notification (possibly several records; the `s3:TestEvent` has none).
    pub async fn handle(&self, event: S3Event) -> Result<Value, Failure> {
        let runs = event.manifest_runs(&self.processed_prefix);
        if runs.is_empty() {
            return Ok(json!({ "loaded": [], "already_loaded": [] }));
        }
        let mut client = match self.connected().await {
            Ok(client) => client,
            Err(error) => {
                let run = runs.first().map(ToString::to_string);
                return Err(alert_and_fail("load", run, self.alerts.as_ref(), &error).await);
            }
        };
        let results = process(&runs, &mut client, self.processed.as_ref()).await;
        report_runs(
            Stage::Load,
            &results,
            self.alerts.as_ref(),
            self.processed.as_ref(),
        )
        .await?;
        let (mut loaded, mut already) = (Vec::new(), Vec::new());
        for (run, result) in &results {
            match result {
                Ok(LoadOutcome::Loaded { rows, .. }) => loaded.push(json!({
                    "run_id": run.to_string(),
                    "rows": rows.values().sum::<u64>(),
                })),
                Ok(LoadOutcome::AlreadyLoaded { .. }) => already.push(run.to_string()),
                Err(_) => {}
            }
        }
        Ok(json!({ "loaded": loaded, "already_loaded": already }))
    }
}
