//! The lake function: invoked by an EventBridge rule for each manifest created in the processed
//! bucket, it publishes the announced run to the lake's Iceberg tables (registered in Glue).
//!
//! A fourth function rather than a step of load: the lake is its own failure domain (a Glue or
//! lake-bucket outage must not fail, retry or hold back the warehouse load, and a warehouse
//! outage must not hold back the lake), and its retries (EventBridge's asynchronous invocation,
//! then the failure queue) are its own. It reads the same processed run load reads.

use std::sync::Arc;

use etl_adapters::alert::{self, AlertSink};
use etl_adapters::report::{Failure, cold_start_failed, report_runs};
use etl_adapters::store::ObjectStore;
use etl_contract::config::{Config, LAKE, PROCESSED};
use etl_contract::error::ConfigError;
use etl_contract::manifest::Stage;
use lake::{Lake, TableOutcome};
use serde_json::{Value, json};

use crate::event::ObjectCreated;
use crate::{prefix_of, required_store};

pub struct Handler {
    lake: Lake,
    processed: Arc<dyn ObjectStore>,
    processed_prefix: String,
    alerts: Box<dyn AlertSink>,
}

impl Handler {
    /// The cold start: the processed store, the lake (and its Glue database) and the alert sink.
    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Handler, Failure> {
        let alerts = alert::sink(sdk, config.alert_topic_arn.as_deref());
        let opened = (|| {
            let processed = required_store(config.processed.as_ref(), PROCESSED, sdk)?;
            let location = config.lake.as_ref().ok_or_else(|| {
                Failure::of(&ConfigError::Missing {
                    var: LAKE,
                    hint: "the lake's location, s3://bucket[/prefix]",
                })
            })?;
            let lake = Lake::open(location, config.lake_glue_database.as_deref(), Some(sdk))
                .map_err(|e| Failure::of(&e))?;
            Ok::<_, Failure>((processed, lake))
        })();
        let (processed, lake) = match opened {
            Ok(parts) => parts,
            Err(failure) => return Err(cold_start_failed("lake", alerts.as_ref(), failure).await),
        };
        Ok(Handler {
            lake,
            processed: Arc::from(processed),
            processed_prefix: prefix_of(config.processed.as_ref()),
            alerts,
        })
    }

    /// One event: publishes the run whose manifest it announces (none: nothing to do).
    pub async fn handle(&self, event: ObjectCreated) -> Result<Value, Failure> {
        let Some(run) = event.manifest_run(&self.processed_prefix) else {
            return Ok(json!({ "published": Value::Null }));
        };
        let results = [(
            run.clone(),
            lake::publish(&self.lake, self.processed.as_ref(), &run).await,
        )];
        report_runs(
            Stage::Lake,
            &results,
            self.alerts.as_ref(),
            self.processed.as_ref(),
        )
        .await?;
        let [(_, result)] = results;
        // report_runs returned Ok only because the run succeeded.
        let Ok(published) = result else {
            return Ok(json!({ "published": Value::Null }));
        };
        let tables: serde_json::Map<String, Value> = published
            .tables
            .iter()
            .map(|(table, outcome)| {
                let outcome = match outcome {
                    TableOutcome::Appended { rows, .. } => json!({ "appended": rows }),
                    TableOutcome::AlreadyThere => json!("already there"),
                };
                (table.to_string(), outcome)
            })
            .collect();
        Ok(json!({ "published": run.to_string(), "tables": tables }))
    }
}
