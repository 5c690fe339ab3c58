//! The one reporter of every entry point (the Lambda handlers and `etl run` alike): a failed run
//! becomes one alert, once across redeliveries for quarantined input, and the failures of an
//! invocation fold into one [`Failure`] whose kind says whether retrying can help.
//!
//! A Lambda handler turns a [`Failure`] into its diagnostic, whose `errorType` is `Retryable` or
//! `Permanent` (`etl-lambda`), so an operator can tell at a glance whether Lambda's own retries
//! can help.

use etl_contract::error::{Classify, Disposition, ErrorKind};
use etl_contract::layout::RunId;
use etl_contract::manifest::Stage;

use crate::alert::{self, Alert, AlertSink};
use crate::quarantine;
use crate::store::ObjectStore;

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

    /// The failures of one invocation as one: retryable if any is (so Lambda retries the
    /// event), their messages joined; `Ok` when there are none.
    pub fn fold(failures: Vec<Failure>) -> Result<(), Failure> {
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
    Failure::fold(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_its_kind_and_source_chain() {
        let f = Failure::new(ErrorKind::Permanent, &std::io::Error::other("bad manifest"));
        assert_eq!(f.error_type(), "Permanent");
        assert_eq!(f.to_string(), "Permanent: bad manifest");
    }
}
