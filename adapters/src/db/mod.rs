//! Connecting to Postgres with the pipeline's conventions: a bounded connect timeout, an
//! `application_name` that names the stage (it shows up in `pg_stat_activity`, which extract
//! reads to find other open transactions), TLS as libpq's `sslmode` says ([`tls`]), a fixed
//! `search_path`, and connection strings that never leak a password into logs.

pub mod tls;

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::error::DbError;
use tls::SslMode;

/// The schemas unqualified names resolve in. Without it the server's default (`"$user",
/// public`) lets a schema named like the connecting role shadow the pipeline's tables;
/// pg_catalog is still searched first, as it always is when not listed.
const SEARCH_PATH: &str = "public";

/// Connects and spawns the connection driver on the current tokio runtime.
///
/// `role` ("source", "warehouse") appears in errors so an operator knows which URL to fix.
pub async fn connect(
    role: &'static str,
    url: &str,
    application_name: &str,
    timeout: Duration,
) -> Result<Client, DbError> {
    let params = tls::split(url).map_err(|problem| DbError::BadTlsParameters {
        role,
        url: redact_url(url),
        problem,
    })?;
    let mut config: tokio_postgres::Config =
        params.driver.parse().map_err(|source| DbError::BadUrl {
            role,
            url: redact_url(url),
            source,
        })?;
    let options = match config.get_options() {
        Some(given) if given.contains("search_path") => given.to_owned(),
        Some(given) => format!("{given} -c search_path={SEARCH_PATH}"),
        None => format!("-c search_path={SEARCH_PATH}"),
    };
    config
        .application_name(application_name)
        .connect_timeout(timeout)
        .options(&options)
        .ssl_mode(params.mode.driver_mode());
    // connect_timeout bounds only the TCP connect; a server that accepts and then says nothing
    // would hang the startup handshake, so the whole connect is bounded too.
    let timed_out = || DbError::Timeout {
        role,
        url: redact_url(url),
        timeout_secs: timeout.as_secs(),
    };
    let failed = |source: tokio_postgres::Error| {
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_default();
        match tls::certificate_problem(&source, &host, &params.roots) {
            Some(problem) => DbError::Certificate {
                role,
                url: redact_url(url),
                problem,
            },
            None => DbError::Connect {
                role,
                url: redact_url(url),
                timeout_secs: timeout.as_secs(),
                source,
            },
        }
    };
    let opened = if params.mode == SslMode::Disable {
        open(&config, NoTls, timeout).await
    } else {
        let tls = tls::connector(params.mode, &params.roots).map_err(|e| DbError::Tls {
            role,
            message: e.to_string(),
        })?;
        open(&config, tls, timeout).await
    };
    opened.map_err(|_| timed_out())?.map_err(failed)
}

/// Connects with `tls` within `timeout` and drives the connection on the current runtime: the
/// one connect path of every mode, whatever the connector's type.
async fn open<T>(
    config: &tokio_postgres::Config,
    tls: T,
    timeout: Duration,
) -> Result<Result<Client, tokio_postgres::Error>, tokio::time::error::Elapsed>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let connected = tokio::time::timeout(timeout, config.connect(tls)).await?;
    Ok(connected.map(|(client, connection)| {
        tokio::spawn(drive(connection));
        client
    }))
}

/// Whether the server refused the password (SQLSTATE 28P01): after a rotation, the secret
/// holds the new one.
pub fn password_rejected(error: &DbError) -> bool {
    match error {
        DbError::Connect { source, .. } => source.code() == Some(&SqlState::INVALID_PASSWORD),
        DbError::BadUrl { .. }
        | DbError::BadTlsParameters { .. }
        | DbError::Certificate { .. }
        | DbError::Timeout { .. }
        | DbError::Tls { .. }
        | DbError::Credentials { .. } => false,
    }
}

async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(err) = connection.await {
        tracing::debug!(%err, "database connection closed with an error");
    }
}

/// Replaces the password of a `postgres://user:password@host/db` URL, or the `password=` of a
/// key=value string, with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_key_values(url);
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    // A password may also be a query parameter.
    let rest = match rest.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***".to_owned(),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// `password=...` of a key=value string, bare or quoted, becomes `password=***`.
fn redact_key_values(conn: &str) -> String {
    let mut out = String::with_capacity(conn.len());
    let mut rest = conn;
    while let Some(at) = rest.find("password") {
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + "password".len()..].trim_start();
        if !before_ok || !after.starts_with('=') {
            out.push_str(&rest[..at + "password".len()]);
            rest = &rest[at + "password".len()..];
            continue;
        }
        out.push_str(&rest[..at]);
        out.push_str("password=***");
        let value = after[1..].trim_start();
        rest = skip_value(value);
    }
    out.push_str(rest);
    out
}

/// What follows a key=value value (bare, or quoted with backslash escapes).
fn skip_value(value: &str) -> &str {
    let mut chars = value.char_indices();
    let quoted = value.starts_with('\'');
    if quoted {
        chars.next();
    }
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' if quoted => return &value[at + 1..],
            c if !quoted && c.is_whitespace() => return &value[at..],
            _ => {}
        }
    }
    ""
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
        assert_eq!(
            redact_url("postgres://etl@db/totesys?sslmode=require&password=s3cr3t"),
            "postgres://etl@db/totesys?sslmode=require&password=***"
        );
        assert_eq!(redact_url("host=db user=etl"), "host=db user=etl");
        assert_eq!(
            redact_url("host=db password=s3cr3t user=etl"),
            "host=db password=*** user=etl"
        );
        assert_eq!(
            redact_url("host=db password = 'it\\'s s3cr3t' user=etl"),
            "host=db password=*** user=etl"
        );
        assert_eq!(redact_url("password=s3cr3t"), "password=***");
        assert_eq!(
            redact_url("host=db mypassword=x"),
            "host=db mypassword=x",
            "only the password parameter itself"
        );
    }
}
