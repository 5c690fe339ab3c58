//! The transform Lambda (provided.al2023): one S3 notification from the landing bucket's
//! `manifests/` turns each announced run into galaxy-schema Parquet.

use etl_shared::Config;
use etl_shared::lambda::event::S3Event;
use etl_shared::lambda::{Failure, aws_config};
use lambda_runtime::{LambdaEvent, service_fn};
use transform::lambda::Handler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    etl_shared::telemetry::init("info");
    let config = Config::from_env().map_err(|e| Failure::of(&e))?;
    let handler = Handler::new(&config, &aws_config().await).await?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        handler.handle(event.payload).await
    }))
    .await
}
