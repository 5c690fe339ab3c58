//! The transform Lambda: invoked by the landing bucket's notifications for `manifests/`, it
//! transforms every run the event announces.
//!
//! The stores' S3 clients and the alert sink are built once at cold start. Each failed run is
//! alerted once (a redelivery of a quarantined run is not alerted again) and the invocation
//! fails, typed `Retryable` or `Permanent`, so Lambda's retries and on-failure destination see it.

use etl_adapters::alert::{self, AlertSink};
use etl_adapters::report::{Failure, cold_start_failed, report_runs};
use etl_adapters::store::ObjectStore;
use etl_contract::config::{Config, LANDING, PROCESSED};
use etl_contract::manifest::Stage;
use serde_json::{Value, json};

use transform::process;

use crate::event::S3Event;
use crate::{prefix_of, required_store};

pub struct Handler {
    landing: Box<dyn ObjectStore>,
    /// The landing location's key prefix: event keys are matched against it.
    landing_prefix: String,
    processed: Box<dyn ObjectStore>,
    alerts: Box<dyn AlertSink>,
}

impl Handler {
    pub async fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Handler, Failure> {
        let alerts = alert::sink(sdk, config.alert_topic_arn.as_deref());
        let stores = required_store(config.landing.as_ref(), LANDING, sdk).and_then(|landing| {
            Ok((
                landing,
                required_store(config.processed.as_ref(), PROCESSED, sdk)?,
            ))
        });
        match stores {
            Ok((landing, processed)) => Ok(Handler {
                landing,
                landing_prefix: prefix_of(config.landing.as_ref()),
                processed,
                alerts,
            }),
            Err(failure) => Err(cold_start_failed("transform", alerts.as_ref(), failure).await),
        }
    }

    /// One S3 notification (possibly several records; the `s3:TestEvent` has none).
    pub async fn handle(&self, event: S3Event) -> Result<Value, Failure> {
        let runs = event.manifest_runs(&self.landing_prefix);
        let results = process(&runs, self.landing.as_ref(), self.processed.as_ref()).await;
        report_runs(
            Stage::Transform,
            &results,
            self.alerts.as_ref(),
            self.processed.as_ref(),
        )
        .await?;
        Ok(json!({
            "transformed": results.iter().filter_map(|(run, r)| r.as_ref().ok().map(|o| json!({
                "run_id": run.to_string(),
                "rows": o.rows.values().sum::<u64>(),
                "bytes": o.bytes,
            }))).collect::<Vec<_>>(),
        }))
    }
}
