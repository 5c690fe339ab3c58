//! Connecting to Postgres with the pipeline's conventions: a bounded connect timeout, an
//! `application_name` that names the stage (it shows up in `pg_stat_activity`, which extract
//! reads to find other open transactions), TLS when the URL asks for it, and URLs that never
//! leak a password into logs.
//!
//! TLS follows libpq's `sslmode`: `disable` never uses it, `prefer` (the default) uses it when
//! the server offers it, `require` fails unless the connection is encrypted. As in libpq, these
//! modes encrypt without verifying the server's certificate (the `verify-*` modes are not
//! supported by the driver); RDS, the intended server, is reached inside a VPC.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::SslMode;
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
    let timed_out = || DbError::Timeout {
        role,
        url: redact_url(url),
        timeout_secs: timeout.as_secs(),
    };
    let failed = |source| DbError::Connect {
        role,
        url: redact_url(url),
        timeout_secs: timeout.as_secs(),
        source,
    };
    if config.get_ssl_mode() == SslMode::Disable {
        let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
            .await
            .map_err(|_| timed_out())?
            .map_err(failed)?;
        tokio::spawn(drive(connection));
        Ok(client)
    } else {
        let tls = tls().map_err(|e| DbError::Tls {
            role,
            message: e.to_string(),
        })?;
        let (client, connection) = tokio::time::timeout(timeout, config.connect(tls))
            .await
            .map_err(|_| timed_out())?
            .map_err(failed)?;
        tokio::spawn(drive(connection));
        Ok(client)
    }
}

async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(err) = connection.await {
        tracing::debug!(%err, "database connection closed with an error");
    }
}

/// The rustls connector for `prefer` and `require`: encryption without certificate checks.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, rustls::Error> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    /// libpq's `require`: the handshake's signatures are checked, the certificate is not.
    #[derive(Debug)]
    struct EncryptOnly(Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
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
