//! Reporting the inbox's results as the other stages do: every failure alerts, a rejected file
//! exactly once (its log row records that the alert went out, so a redelivery or a later run
//! does not alert again, and a crash before the alert leaves the row unalerted for the next run
//! to alert: at least once), and a loaded file is published to the notify topic when one is set.

use etl_adapters::alert::{self, Alert, AlertSink};
use etl_adapters::report::Failure;
use etl_contract::error::{Classify, ErrorKind};
use tokio_postgres::Client;

use crate::error::InboxError;
use crate::process::{FileResult, Outcome};

/// The stage name in alerts and notices.
pub const STAGE: &str = "inbox";

/// Alerts failures, notifies successes, and folds the failures into the invocation's result:
/// retryable if any is, so Lambda retries the event.
pub async fn report(
    client: &Client,
    source: &str,
    results: &[FileResult],
    alerts: &dyn AlertSink,
    notices: Option<&dyn AlertSink>,
) -> Result<(), Failure> {
    let mut failures = Vec::new();
    for r in results {
        match &r.result {
            Ok(Outcome::Loaded(loaded)) => {
                if let Some(notices) = notices {
                    let headline = format!(
                        "{} {} {} rows{}",
                        r.table,
                        r.action,
                        loaded.rows,
                        if loaded.rejected > 0 {
                            format!(" ({} rejected)", loaded.rejected)
                        } else {
                            String::new()
                        }
                    );
                    let lines = vec![
                        format!("file: {}", r.file),
                        format!("table: inbox.{}", r.table),
                        format!("action: {}", r.action),
                        format!("rows loaded: {}", loaded.rows),
                        format!("rows rejected: {}", loaded.rejected),
                    ];
                    alert::send_logged(notices, &Alert::notice(STAGE, &headline, lines)).await;
                }
            }
            Ok(Outcome::Declared(_)) | Ok(Outcome::Waiting) => {}
            Ok(Outcome::RejectedBefore { reason }) => {
                let error = InboxError::Rejected {
                    file: r.file.clone(),
                    reason: reason.clone(),
                };
                failures.push(Failure::of(&error));
                alert_rejection(client, source, r, &error, alerts).await;
            }
            Err(error) => {
                failures.push(Failure::of(error));
                if error.rejects_file() {
                    alert_rejection(client, source, r, error, alerts).await;
                } else {
                    let alert = Alert::new(STAGE, Some(r.file.clone()), error.kind(), error)
                        .with_lambda_logs();
                    alert::send_logged(alerts, &alert).await;
                }
            }
        }
    }
    Failure::fold(failures)
}

/// Alerts a rejected file, then records that it did.
async fn alert_rejection(
    client: &Client,
    source: &str,
    r: &FileResult,
    error: &InboxError,
    alerts: &dyn AlertSink,
) {
    let alert =
        Alert::new(STAGE, Some(r.file.clone()), ErrorKind::Permanent, error).with_lambda_logs();
    alert::send_logged(alerts, &alert).await;
    fail::fail_point!("inbox::after_alert");
    if let Err(e) = client
        .execute(
            "UPDATE inbox.etl_inbox_log SET alerted = true \
             WHERE source = $1 AND file = $2 AND version = $3",
            &[&source, &r.file, &r.version],
        )
        .await
    {
        tracing::warn!(file = %r.file, error = %e, "could not record the alert; the next run alerts again");
    }
}
