//! The error taxonomy shared by every stage.
//!
//! Errors are sorted into [`ErrorKind::Retryable`] (the same input may succeed later: network,
//! throttling, a lost connection) and [`ErrorKind::Permanent`] (retrying cannot help: bad input,
//! schema drift, wrong configuration). The Lambda edge and the local runner use the kind to decide
//! between retrying and quarantining.

use thiserror::Error;

/// Whether retrying the same work can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Retryable,
    Permanent,
}

/// Implemented by every stage error so callers can classify failures without matching on them.
pub trait Classify {
    fn kind(&self) -> ErrorKind;
}

/// An error and its `source()` chain, outermost first, each text once: thiserror messages often
/// embed their source, which is then not repeated.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !chain.iter().any(|outer| outer.contains(&text)) {
            chain.push(text);
        }
        source = e.source();
    }
    chain
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
    fn kind(&self) -> ErrorKind {
        ErrorKind::Permanent
    }
}

/// A database could not be reached or used.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("{role} database URL {url} is invalid: {source}")]
    BadUrl {
        role: &'static str,
        url: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "cannot connect to the {role} database at {url} within {timeout_secs}s: {source} \
         (is the server running and the URL right?)"
    )]
    Connect {
        role: &'static str,
        url: String,
        timeout_secs: u64,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "the {role} database at {url} did not answer within {timeout_secs}s \
         (is the host right and the server up? raise ETL_CONNECT_TIMEOUT_SECS if it is slow)"
    )]
    Timeout {
        role: &'static str,
        url: String,
        timeout_secs: u64,
    },
    #[error("cannot set up TLS for the {role} database: {message}")]
    Tls { role: &'static str, message: String },
}

impl Classify for DbError {
    fn kind(&self) -> ErrorKind {
        match self {
            DbError::BadUrl { .. } | DbError::Tls { .. } => ErrorKind::Permanent,
            DbError::Connect { .. } | DbError::Timeout { .. } => ErrorKind::Retryable,
        }
    }
}

/// Classifies a Postgres error: lost connections, timeouts, serialization failures and server
/// shutdowns are retryable; everything else (constraint, syntax, data errors) is permanent.
pub fn postgres_error_kind(err: &tokio_postgres::Error) -> ErrorKind {
    use tokio_postgres::error::SqlState;
    if err.is_closed() {
        return ErrorKind::Retryable;
    }
    match err.code() {
        None => ErrorKind::Retryable,
        Some(code) => {
            let retryable = [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_EXCEPTION,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::QUERY_CANCELED,
                SqlState::LOCK_NOT_AVAILABLE,
            ];
            if retryable.contains(code) {
                ErrorKind::Retryable
            } else {
                ErrorKind::Permanent
            }
        }
    }
}
