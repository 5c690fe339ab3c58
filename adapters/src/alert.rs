//! The alert port: one message per failed run, to SNS (email) in the cloud and to the log
//! locally (docs/architecture.md §8).
//!
//! An alert is written for a person reading email: the subject names the stage and the run and
//! fits SNS's 100-character limit; the body has the whole error chain, whether a retry can help,
//! where the input was quarantined, and which log group and stream hold the details.

use async_trait::async_trait;
use thiserror::Error;

use etl_contract::error::ErrorKind;

/// SNS rejects subjects of 100 characters or more, and any control character.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertKind {
    /// A run or an invocation failed.
    Failure(ErrorKind),
    /// Nothing failed, but the data needs a person (rows stamped in the future, say): the
    /// headline says what, in a few words.
    Warning { headline: String },
    /// Nothing is wrong: a piece of work finished and someone asked to hear of it (an inbox
    /// file loaded, to `ETL_NOTIFY_TOPIC_ARN`).
    Notice { headline: String },
}

/// A failure, or a condition of the data, worth a person's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `extract`, `transform` or `load`.
    pub stage: String,
    /// The run that failed, when the failure belongs to one.
    pub run_id: Option<String>,
    pub kind: AlertKind,
    /// The error and its sources, outermost first (for a warning: what was seen and what to
    /// do, one line each).
    pub chain: Vec<String>,
    /// Where the failed input was copied, if it was quarantined.
    pub quarantine: Option<String>,
    /// Where the logs are: `(log group, log stream)`.
    pub logs: Option<(String, String)>,
}

impl Alert {
    /// An alert for `error`, with its `source()` chain.
    pub fn new(
        stage: &str,
        run_id: Option<String>,
        kind: ErrorKind,
        error: &(dyn std::error::Error + 'static),
    ) -> Alert {
        Alert {
            stage: stage.to_owned(),
            run_id,
            kind: AlertKind::Failure(kind),
            chain: crate::error::chain(error),
            quarantine: None,
            logs: None,
        }
    }

    /// A warning: nothing failed, but `lines` need a person's attention.
    pub fn warning(stage: &str, headline: &str, lines: Vec<String>) -> Alert {
        Alert {
            stage: stage.to_owned(),
            run_id: None,
            kind: AlertKind::Warning {
                headline: headline.to_owned(),
            },
            chain: lines,
            quarantine: None,
            logs: None,
        }
    }

    /// A notice: `headline` finished; `lines` say what it did.
    pub fn notice(stage: &str, headline: &str, lines: Vec<String>) -> Alert {
        Alert {
            kind: AlertKind::Notice {
                headline: headline.to_owned(),
            },
            ..Alert::warning(stage, headline, lines)
        }
    }

    pub fn with_quarantine(mut self, folder: Option<String>) -> Alert {
        self.quarantine = folder;
        self
    }

    /// Names the log group and stream, from the variables Lambda sets
    /// (`AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME`), when they are set.
    pub fn with_lambda_logs(mut self) -> Alert {
        let group = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok();
        let stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").ok();
        if let (Some(group), Some(stream)) = (group, stream) {
            self.logs = Some((group, stream));
        }
        self
    }

    /// `totesys-etl transform failed: run 20261125T081500.123456Z-0a1b2c3d (permanent)`, or
    /// `totesys-etl extract warning: <headline>`: printable ASCII only, at most
    /// [`MAX_SUBJECT_CHARS`].
    pub fn subject(&self) -> String {
        let what = match &self.run_id {
            Some(run) => format!("run {run}"),
            None => "no run".to_owned(),
        };
        let subject = match &self.kind {
            AlertKind::Failure(kind) => {
                let kind = match kind {
                    ErrorKind::Retryable => "retryable",
                    ErrorKind::Permanent => "permanent",
                };
                format!("totesys-etl {} failed: {what} ({kind})", self.stage)
            }
            AlertKind::Warning { headline } => {
                format!("totesys-etl {} warning: {headline}", self.stage)
            }
            AlertKind::Notice { headline } => format!("totesys-etl {}: {headline}", self.stage),
        };
        let subject: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if subject.len() > MAX_SUBJECT_CHARS {
            format!("{}...", &subject[..MAX_SUBJECT_CHARS - 3])
        } else {
            subject
        }
    }

    /// The message body: what failed, why, what to do, where to look.
    pub fn body(&self) -> String {
        let mut body = format!("Stage: {}\n", self.stage);
        let warning = matches!(
            self.kind,
            AlertKind::Warning { .. } | AlertKind::Notice { .. }
        );
        if !warning {
            body.push_str(&format!(
                "Run: {}\n",
                self.run_id
                    .as_deref()
                    .unwrap_or("(none: the stage failed before a run began)")
            ));
        }
        body.push_str(match self.kind {
            AlertKind::Failure(ErrorKind::Retryable) => {
                "Kind: retryable (the same input may succeed later; Lambda retries it)\n"
            }
            AlertKind::Failure(ErrorKind::Permanent) => {
                "Kind: permanent (retrying cannot help: fix the input or the code, then `etl replay`)\n"
            }
            AlertKind::Warning { .. } => {
                "Kind: warning (nothing failed; the data needs a person's attention)\n"
            }
            AlertKind::Notice { .. } => "Kind: notice (nothing failed)\n",
        });
        body.push_str(match self.kind {
            AlertKind::Failure(_) => "\nError:\n",
            AlertKind::Warning { .. } => "\nSeen:\n",
            AlertKind::Notice { .. } => "\nDone:\n",
        });
        for (depth, line) in self.chain.iter().enumerate() {
            let lead = if depth == 0 || warning {
                ""
            } else {
                "caused by: "
            };
            body.push_str(&format!("  {lead}{line}\n"));
        }
        if let Some(folder) = &self.quarantine {
            body.push_str(&format!("\nThe input was quarantined under {folder}\n"));
        }
        if let Some((group, stream)) = &self.logs {
            body.push_str(&format!("\nLogs: log group {group}, stream {stream}\n"));
        }
        body
    }
}

#[derive(Debug, Error)]
#[error("could not publish the alert \"{subject}\": {message}")]
pub struct AlertError {
    pub subject: String,
    pub message: String,
}

/// Where alerts go. Sending is best effort from the caller's view: a failed alert is logged and
/// never hides the failure it was about.
#[async_trait]
pub trait AlertSink: Send + Sync {
    async fn send(&self, alert: &Alert) -> Result<(), AlertError>;
}

/// Alerts as error log lines: the local default, and the fallback when no topic is configured.
#[derive(Debug, Default, Clone)]
pub struct LogAlerts;

#[async_trait]
impl AlertSink for LogAlerts {
    async fn send(&self, alert: &Alert) -> Result<(), AlertError> {
        match alert.kind {
            AlertKind::Failure(_) => tracing::error!(
                alert = %alert.subject(),
                stage = %alert.stage,
                run_id = alert.run_id.as_deref().unwrap_or("-"),
                error = alert.chain.join(": "),
                "alert"
            ),
            AlertKind::Warning { .. } => tracing::warn!(
                alert = %alert.subject(),
                stage = %alert.stage,
                seen = alert.chain.join("; "),
                "alert"
            ),
            AlertKind::Notice { .. } => tracing::info!(
                notice = %alert.subject(),
                stage = %alert.stage,
                done = alert.chain.join("; "),
                "notice"
            ),
        }
        Ok(())
    }
}

/// Alerts published to an SNS topic (its subscribers get email).
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: &str) -> SnsAlerts {
        SnsAlerts {
            client: aws_sdk_sns::Client::new(sdk),
            topic_arn: topic_arn.to_owned(),
        }
    }
}

#[async_trait]
impl AlertSink for SnsAlerts {
    async fn send(&self, alert: &Alert) -> Result<(), AlertError> {
        let subject = alert.subject();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&subject)
            .message(alert.body())
            .send()
            .await
            .map_err(|e| AlertError {
                subject: subject.clone(),
                message: aws_sdk_sns::error::DisplayErrorContext(&e).to_string(),
            })?;
        tracing::info!(topic = %self.topic_arn, subject, "alert published");
        Ok(())
    }
}

/// The sink for a configured topic, or the log when there is none.
pub fn sink(sdk: &aws_config::SdkConfig, topic_arn: Option<&str>) -> Box<dyn AlertSink> {
    match topic_arn {
        Some(arn) => Box::new(SnsAlerts::new(sdk, arn)),
        None => Box::new(LogAlerts),
    }
}

/// Sends `alert`, logging (not returning) a failure to send it.
pub async fn send_logged(sink: &dyn AlertSink, alert: &Alert) {
    if let Err(e) = sink.send(alert).await {
        tracing::error!(error = %e, "alert not delivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Error)]
    #[error("load of run x failed")]
    struct Outer(#[source] std::io::Error);

    fn alert() -> Alert {
        let error = Outer(std::io::Error::other("connection reset"));
        Alert::new(
            "load",
            Some("20261125T081500.123456Z-0a1b2c3d".into()),
            ErrorKind::Retryable,
            &error,
        )
    }

    #[test]
    fn subjects_fit_sns_limits() {
        let a = alert();
        assert_eq!(
            a.subject(),
            "totesys-etl load failed: run 20261125T081500.123456Z-0a1b2c3d (retryable)"
        );
        let long = Alert {
            stage: "transform\n".repeat(20),
            ..a
        };
        let subject = long.subject();
        assert!(subject.len() <= MAX_SUBJECT_CHARS, "{}", subject.len());
        assert!(subject.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }

    #[test]
    fn bodies_carry_the_chain_and_where_to_look() {
        let mut a = alert().with_quarantine(Some("quarantine/r/load/".into()));
        a.logs = Some(("/aws/lambda/load".into(), "2026/11/25/[$LATEST]abc".into()));
        let body = a.body();
        assert!(body.contains("load of run x failed"), "{body}");
        assert!(body.contains("caused by: connection reset"), "{body}");
        assert!(body.contains("quarantine/r/load/"), "{body}");
        assert!(body.contains("/aws/lambda/load") && body.contains("[$LATEST]abc"));
        assert!(body.contains("retryable"));
    }

    #[test]
    fn warnings_say_nothing_failed() {
        let a = Alert::warning(
            "extract",
            "3 payment rows stamped in the future",
            vec!["line one".into(), "line two".into()],
        );
        assert_eq!(
            a.subject(),
            "totesys-etl extract warning: 3 payment rows stamped in the future"
        );
        let body = a.body();
        assert!(body.contains("nothing failed"), "{body}");
        assert!(body.contains("  line one\n  line two\n"), "{body}");
        assert!(
            !body.contains("caused by") && !body.contains("Run:"),
            "{body}"
        );
    }
}
