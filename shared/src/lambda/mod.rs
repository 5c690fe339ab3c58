//! What the three Lambda handlers share: the AWS configuration loaded once at cold start, the
//! invocation deadline, the error a handler returns to Lambda, and one alert per failed run.
//!
//! A handler's error becomes a Lambda diagnostic whose `errorType` is `Retryable` or
//! `Permanent`, so an operator (and a Step Functions `Retry`, should one be added) can tell
//! at a glance whether Lambda's own retries can help.

pub mod event;

use std::time::{Duration, SystemTime};

use crate::alert::{self, Alert, AlertSink};
use crate::config::StoreLocation;
use crate::error::ConfigError;
use crate::error::{Classify, Disposition, ErrorKind};
use crate::layout::RunId;
use crate::manifest::Stage;
use crate::quarantine;
use crate::store::{self, ObjectStore};

/// The process's AWS configuration from the standard chain (environment, the Lambda role);
/// `AWS_ENDPOINT_URL` points it at a local AWS API server in tests.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's HTTPS client: rustls with the *ring* provider (the same as our database TLS),
/// trusting the OS certificate store. Every `SdkConfig` must be given it: the SDK is built
/// without its default client, whose aws-lc-rs build takes minutes (Cargo.toml).
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A failed invocation, as Lambda records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    /// The failure for `error`, its source chain in the message.
    pub fn new(kind: ErrorKind, error: &(dyn std::error::Error + 'static)) -> Failure {
        Failure {
            kind,
            message: crate::error::chain(error).join(": "),
        }
    }

    pub fn of<E: Classify + std::error::Error + 'static>(error: &E) -> Failure {
        Failure::new(error.kind(), error)
    }

    /// `Retryable` or `Permanent`: the diagnostic's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self.kind {
            ErrorKind::Retryable => "Retryable",
            ErrorKind::Permanent => "Permanent",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message)
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(failure: Failure) -> Self {
        lambda_runtime::Diagnostic {
            error_type: failure.error_type().to_owned(),
            error_message: failure.message,
        }
    }
}

/// The store a variable names, or a configuration failure naming the variable.
pub fn required_store(
    location: Option<&StoreLocation>,
    var: &'static str,
    sdk: &aws_config::SdkConfig,
) -> Result<Box<dyn ObjectStore>, Failure> {
    let location = location.ok_or_else(|| {
        Failure::of(&ConfigError::Missing {
            var,
            hint: "a bucket, s3://bucket[/prefix]",
        })
    })?;
    store::open(location, Some(sdk)).map_err(|e| Failure::of(&e))
}

/// The key prefix of a store location (empty for a bucket root or a directory).
pub fn prefix_of(location: Option<&StoreLocation>) -> String {
    match location {
        Some(StoreLocation::S3 { prefix, .. }) => prefix.clone(),
        _ => String::new(),
    }
}

/// Sends the one alert of a failure, naming the Lambda's log group and stream.
async fn send_alert(
    alerts: &dyn AlertSink,
    stage: &str,
    run_id: Option<String>,
    kind: ErrorKind,
    error: &(dyn std::error::Error + Send + Sync + 'static),
    quarantine: Option<String>,
) {
    let alert = Alert::new(stage, run_id, kind, error)
        .with_quarantine(quarantine)
        .with_lambda_logs();
    alert::send_logged(alerts, &alert).await;
}

/// A cold start that failed: alerts it (no run yet) and returns the failure for Lambda's
/// init error, so a broken deployment reaches a person, not only the log.
pub async fn cold_start_failed(stage: &str, alerts: &dyn AlertSink, failure: Failure) -> Failure {
    send_alert(alerts, stage, None, failure.kind, &failure, None).await;
    failure
}

/// A failure of a whole invocation (before or outside any one run's result): alerts it and
/// returns it for Lambda.
pub async fn alert_and_fail<E>(
    stage: &str,
    run_id: Option<String>,
    alerts: &dyn AlertSink,
    error: &E,
) -> Failure
where
    E: Classify + std::error::Error + Send + Sync + 'static,
{
    send_alert(alerts, stage, run_id, error.kind(), error, None).await;
    Failure::of(error)
}

/// How long a handler may take new work before Lambda's `deadline`: all but a fifth of the
/// time left, keeping at least 10 s (one extract run with its manifest) for finishing up.
pub fn work_budget(deadline: SystemTime, now: SystemTime) -> Duration {
    let left = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    let margin = (left / 5).max(Duration::from_secs(10)).min(left);
    left - margin
}

/// The instant after which a handler takes no new work (see [`work_budget`]).
pub fn stop_taking_work_at(deadline: SystemTime) -> tokio::time::Instant {
    tokio::time::Instant::now() + work_budget(deadline, SystemTime::now())
}

/// Alerts every failed run of a stage's results and folds them into the invocation's result:
/// retryable if any failure is, so Lambda retries the event.
///
/// A run whose error quarantines its input ([`Disposition::QuarantineInput`]: it has, or was
/// meant to have, a quarantine record in `records`) is alerted once across redeliveries: the
/// alert is published unless the record says it already was, then recorded (see
/// [`crate::quarantine`] for the at-least-once window). Other failures are alerted at each
/// attempt.
pub async fn report_runs<T, E>(
    stage: Stage,
    results: &[(RunId, Result<T, E>)],
    alerts: &dyn AlertSink,
    records: &dyn ObjectStore,
) -> Result<(), Failure>
where
    E: Classify + std::error::Error + Send + Sync + 'static,
{
    let name = stage.to_string();
    let mut failures = Vec::new();
    for (run_id, result) in results {
        let Err(error) = result else { continue };
        failures.push(Failure::of(error));
        let is_quarantined = error.disposition() == Disposition::QuarantineInput;
        // Unknown (the store failing) counts as not yet alerted: a duplicate beats silence.
        if is_quarantined
            && quarantine::was_alerted(records, run_id, stage)
                .await
                .unwrap_or(false)
        {
            tracing::info!(%run_id, %stage, "quarantined run already alerted");
            continue;
        }
        let folder = is_quarantined.then(|| quarantine::prefix(run_id, stage));
        fail::fail_point!("alert::before_publish");
        send_alert(
            alerts,
            &name,
            Some(run_id.to_string()),
            error.kind(),
            error,
            folder,
        )
        .await;
        if !is_quarantined {
            continue;
        }
        fail::fail_point!("alert::after_publish");
        if let Err(e) = quarantine::mark_alerted(records, run_id, stage).await {
            tracing::warn!(%run_id, error = %e, "could not record the alert; a redelivery alerts again");
        }
        fail::fail_point!("alert::after_record");
    }
    if failures.is_empty() {
        return Ok(());
    }
    let kind = if failures.iter().any(|f| f.kind == ErrorKind::Retryable) {
        ErrorKind::Retryable
    } else {
        ErrorKind::Permanent
    };
    Err(Failure {
        kind,
        message: failures
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_a_margin() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let secs = |s| Duration::from_secs(s);
        assert_eq!(work_budget(now + secs(300), now), secs(240));
        assert_eq!(work_budget(now + secs(30), now), secs(20));
        assert_eq!(work_budget(now + secs(5), now), Duration::ZERO);
        assert_eq!(work_budget(now - secs(5), now), Duration::ZERO);
    }

    #[test]
    fn failures_become_typed_diagnostics() {
        let f = Failure::new(ErrorKind::Permanent, &std::io::Error::other("bad manifest"));
        let d: lambda_runtime::Diagnostic = f.into();
        assert_eq!(d.error_type, "Permanent");
        assert_eq!(d.error_message, "bad manifest");
    }
}
