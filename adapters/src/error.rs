//! Errors of the I/O adapters: databases that cannot be reached or used, and error texts that
//! are safe to put in alerts and quarantine records (no row values).

use etl_contract::error::{Classify, Disposition};
use thiserror::Error;

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
