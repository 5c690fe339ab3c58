//! Reading what the pipeline publishes, back from `moto_server`: SQS queues (S3 notifications
//! land there as Terraform wires them for the Lambdas) and an SNS alert topic with an SQS
//! subscription.

use std::time::{Duration, Instant};

use aws_sdk_sqs::Client as Sqs;
use serde_json::Value;

/// A new queue: its URL and ARN.
pub async fn queue(sqs: &Sqs, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating queue {name}: {e}"))
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading the ARN of queue {name}: {e}"))
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    (url, arn)
}

/// Message bodies from `queue`, until `done` says enough arrived (long polls, bounded).
pub async fn receive(
    sqs: &Sqs,
    queue: &str,
    mut done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut bodies = Vec::new();
    while !done(&bodies) {
        assert!(
            Instant::now() < deadline,
            "queue {queue} did not deliver enough messages: {bodies:?}"
        );
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receiving from {queue}: {e}"));
        for message in out.messages() {
            bodies.push(message.body().unwrap_or_default().to_owned());
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| panic!("deleting from {queue}: {e}"));
        }
    }
    bodies
}

/// Everything left in `queue` now (it ends after three long polls come back empty in a row).
pub async fn drain(sqs: &Sqs, queue: &str) -> Vec<String> {
    let mut empty_polls = 0;
    let mut seen = 0;
    receive(sqs, queue, |bodies| {
        if bodies.len() > seen {
            seen = bodies.len();
            empty_polls = 0;
        } else {
            empty_polls += 1;
        }
        empty_polls > 3
    })
    .await
}

/// An SNS topic with an SQS subscription, to read alerts back.
pub struct AlertTopic {
    pub arn: String,
    sqs: Sqs,
    queue: String,
}

impl AlertTopic {
    pub async fn create(sdk: &aws_config::SdkConfig, name: &str) -> AlertTopic {
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = Sqs::new(sdk);
        let arn = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"))
            .topic_arn()
            .unwrap_or_default()
            .to_owned();
        let (queue, queue_arn) = queue(&sqs, name).await;
        sns.subscribe()
            .topic_arn(&arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("subscribing to {name}: {e}"));
        AlertTopic { arn, sqs, queue }
    }

    /// (subject, message) of every alert published since the last call.
    pub async fn published(&self) -> Vec<(String, String)> {
        drain(&self.sqs, &self.queue)
            .await
            .iter()
            .map(|b| {
                let v: Value = serde_json::from_str(b)
                    .unwrap_or_else(|e| panic!("not an SNS notification ({e}): {b}"));
                (
                    v["Subject"].as_str().unwrap_or_default().to_owned(),
                    v["Message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}
