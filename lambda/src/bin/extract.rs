//! The extract Lambda (provided.al2023): one EventBridge Scheduler invocation lands what
//! changed in the source since the watermark.

use etl_adapters::aws::aws_config;
use etl_adapters::report::Failure;
use etl_contract::Config;
use etl_lambda::diagnostic;
use etl_lambda::extract::Handler;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

fn main() -> Result<(), lambda_runtime::Error> {
    etl_lambda::start(run)
}

async fn run() -> Result<(), lambda_runtime::Error> {
    etl_adapters::telemetry::init("info");
    let config = Config::from_env().map_err(|e| Failure::of(&e))?;
    let handler = Handler::new(config, &aws_config().await).await?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler
            .handle(event.payload, Some(event.context.deadline()))
            .await
            .map_err(diagnostic)
    }))
    .await
}
