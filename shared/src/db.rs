//! Connecting to Postgres with the pipeline's conventions: a bounded connect timeout, an
//! `application_name` that names the stage (it shows up in `pg_stat_activity`, which extract
//! reads to find other open transactions), and URLs that never leak a password into logs.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::error::DbError;

/// Connects and spawns the connection driver on the current tokio runtime.
///
/// `role` ("source", "warehouse") appears in errors so an operator knows which URL to fix.
pub async fn connect(
    role: &'static str,
    url: &str,
    application_name: &str,
    timeout: Duration,
) -> Result<Client, DbError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|source| DbError::BadUrl {
        role,
        url: redact_url(url),
        source,
    })?;
    config
        .application_name(application_name)
        .connect_timeout(timeout);
    // connect_timeout bounds only the TCP connect; a server that accepts and then says nothing
    // would hang the startup handshake, so the whole connect is bounded too.
    let connecting = tokio::time::timeout(timeout, config.connect(NoTls));
    let (client, connection) = connecting
        .await
        .map_err(|_| DbError::Timeout {
            role,
            url: redact_url(url),
            timeout_secs: timeout.as_secs(),
        })?
        .map_err(|source| DbError::Connect {
            role,
            url: redact_url(url),
            timeout_secs: timeout.as_secs(),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%err, "database connection closed with an error");
        }
    });
    Ok(client)
}

/// Replaces the password of a `postgres://user:password@host/db` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://etl:s3cr3t@db:5432/totesys"),
            "postgres://etl:***@db:5432/totesys"
        );
        assert_eq!(
            redact_url("postgres://etl@db/totesys"),
            "postgres://etl@db/totesys"
        );
        assert_eq!(redact_url("host=db user=etl"), "host=db user=etl");
    }
}
