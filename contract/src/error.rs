//! The error taxonomy shared by every stage.
//!
//! Every error says what is to be done about it, its [`Disposition`], with one vocabulary in
//! every stage: retry the request in place, retry the whole run later, quarantine the input, or
//! fail for a person to fix our side (configuration, the warehouse, a bug). Only
//! [`Disposition::QuarantineInput`] blames the input. [`ErrorKind`] (`Retryable` or `Permanent`,
//! the Lambda diagnostic's `errorType`) follows from the disposition.

use thiserror::Error;

/// Whether retrying the same work can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Retryable,
    Permanent,
}

/// What is done with a failed piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A transient fault of one request (a 503, a reset connection to the store): retried where
    /// it happened with bounded backoff (`retry::Backoff`); if it persists, the run is retried
    /// later like [`Disposition::RetryRunLater`].
    RetryInPlace,
    /// The run can succeed later unchanged: a database outage, a lost race with a concurrent
    /// run. Lambda's retries and the next tick take it again; nothing is quarantined.
    RetryRunLater,
    /// The input itself cannot be processed (malformed, edited, missing, of an unknown format):
    /// it is quarantined with the reason and alerted once, and waits for `etl replay`.
    QuarantineInput,
    /// Our side is wrong: configuration, a warehouse that refuses a statement, a state file, a
    /// bug. Alerted at each attempt and never blamed on the input.
    Fail,
}

impl Disposition {
    pub fn kind(self) -> ErrorKind {
        match self {
            Disposition::RetryInPlace | Disposition::RetryRunLater => ErrorKind::Retryable,
            Disposition::QuarantineInput | Disposition::Fail => ErrorKind::Permanent,
        }
    }

    /// A remote fault, transient or not.
    pub fn transient(retryable: bool) -> Disposition {
        if retryable {
            Disposition::RetryInPlace
        } else {
            Disposition::Fail
        }
    }
}

/// Implemented by every stage error so callers can dispose of failures without matching on them.
pub trait Classify {
    fn disposition(&self) -> Disposition;

    fn kind(&self) -> ErrorKind {
        self.disposition().kind()
    }
}

/// A configuration value is missing or unusable.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{var} is not set: set it to {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{first} and {second} are both set: set only one of them")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
}

impl Classify for ConfigError {
    fn disposition(&self) -> Disposition {
        Disposition::Fail
    }
}
