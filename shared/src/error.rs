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

/// An error and its `source()` chain, outermost first, each text once: thiserror messages often
/// embed their source, which is then not repeated.
///
/// Postgres errors are described by [`describe_postgres`]: their DETAIL can quote row values,
/// and these texts go into alerts and quarantine records.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = vec![text_of(error)];
    let mut source = error.source();
    while let Some(e) = source {
        let text = text_of(e);
        if !chain.iter().any(|outer| outer.contains(&text)) {
            chain.push(text);
        }
        source = e.source();
    }
    chain
}

fn text_of(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(pg) = error.downcast_ref::<tokio_postgres::Error>() {
        return describe_postgres(pg);
    }
    match error.downcast_ref::<tokio_postgres::error::DbError>() {
        Some(db) => describe_db_error(db),
        None => error.to_string(),
    }
}

/// A Postgres error without its DETAIL and HINT, which quote row values ("Failing row contains
/// (...)", "Key (id)=(5) already exists"): the server's message, the SQLSTATE and the objects
/// it names. Errors that did not come from the server (a closed connection) are as they are.
pub fn describe_postgres(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("db error: {}", describe_db_error(db)),
        None => error.to_string(),
    }
}

fn describe_db_error(db: &tokio_postgres::error::DbError) -> String {
    let mut text = format!(
        "{}: {} (SQLSTATE {}",
        db.severity(),
        db.message(),
        db.code().code()
    );
    let named = [
        ("table", db.table()),
        ("column", db.column()),
        ("constraint", db.constraint()),
    ];
    for (what, name) in named {
        if let Some(name) = name {
            text.push_str(&format!(", {what} {name}"));
        }
    }
    text.push(')');
    text
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
        "cannot connect to the {role} database at {url} within {timeout_secs}s: {} \
         (is the server running and the URL right?)",
        describe_postgres(source)
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
    #[error("{role} database URL {url} has unusable TLS parameters: {problem}")]
    BadTlsParameters {
        role: &'static str,
        url: String,
        problem: String,
    },
    #[error("refusing the {role} database at {url}: {problem}")]
    Certificate {
        role: &'static str,
        url: String,
        problem: String,
    },
    #[error("cannot set up TLS for the {role} database: {message}")]
    Tls { role: &'static str, message: String },
    #[error("the {role} database refused the password, and its secret could not be read again")]
    Credentials {
        role: &'static str,
        #[source]
        source: crate::secrets::SecretError,
    },
}

impl Classify for DbError {
    fn disposition(&self) -> Disposition {
        match self {
            // A certificate that does not verify is a configuration to fix or an attack to
            // look at: a person must, retries cannot.
            DbError::BadUrl { .. }
            | DbError::BadTlsParameters { .. }
            | DbError::Certificate { .. }
            | DbError::Tls { .. } => Disposition::Fail,
            DbError::Connect { .. } | DbError::Timeout { .. } => Disposition::RetryRunLater,
            DbError::Credentials { source, .. } => source.disposition(),
        }
    }
}

/// Disposes of a Postgres error: lost connections, timeouts, serialization failures and server
/// shutdowns retry the run later; everything else (constraint, syntax, permission errors) is
/// the database refusing what we sent, which a person fixes there.
pub fn postgres_disposition(err: &tokio_postgres::Error) -> Disposition {
    use tokio_postgres::error::SqlState;
    if err.is_closed() {
        return Disposition::RetryRunLater;
    }
    match err.code() {
        None => Disposition::RetryRunLater,
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
                Disposition::RetryRunLater
            } else {
                Disposition::Fail
            }
        }
    }
}
