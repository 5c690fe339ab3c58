//! The lake Lambda (provided.al2023): one EventBridge "Object Created" event for a processed
//! manifest publishes that run to the lake's Iceberg tables.

// iceberg's commit futures nest deeper than rustc's default layout query depth of 128.
#![recursion_limit = "256"]

use etl_adapters::aws::aws_config;
use etl_adapters::report::Failure;
use etl_contract::Config;
use etl_lambda::diagnostic;
use etl_lambda::event::ObjectCreated;
use etl_lambda::lake::Handler;
use lambda_runtime::{LambdaEvent, service_fn};

fn main() -> Result<(), lambda_runtime::Error> {
    etl_lambda::start(run)
}

async fn run() -> Result<(), lambda_runtime::Error> {
    etl_adapters::telemetry::init("info");
    let config = Config::from_env().map_err(|e| Failure::of(&e))?;
    let handler = Handler::new(config, &aws_config().await).await?;
    let handler = &handler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ObjectCreated>| async move {
            handler.handle(event.payload).await.map_err(diagnostic)
        },
    ))
    .await
}
