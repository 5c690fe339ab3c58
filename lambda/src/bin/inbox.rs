//! The inbox Lambda (provided.al2023): S3 notifications of the inbox bucket load dropped files;
//! function URL requests (`GET /log`) read the processing log.

use etl_adapters::aws::aws_config;
use etl_adapters::report::Failure;
use etl_contract::Config;
use etl_lambda::diagnostic;
use etl_lambda::inbox::{Handler, InboxEvent};
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
        move |event: LambdaEvent<InboxEvent>| async move {
            handler.handle(event.payload).await.map_err(diagnostic)
        },
    ))
    .await
}
