//! TLS to Postgres as libpq does it: the `sslmode` and `sslrootcert` parameters of a connection
//! string, and the rustls configuration each mode needs.
//!
//! The driver (tokio-postgres) knows only `disable`, `prefer` and `require`, none of which looks
//! at the server's certificate. The parameters are therefore taken out of the connection string
//! here, the driver is told to require TLS, and the connector carries the verifier:
//!
//! | `sslmode` | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | `disable` | never | - | - |
//! | `prefer` (default) | if the server offers it | no | no |
//! | `require` | always | no | no |
//! | `verify-ca` | always | yes | no |
//! | `verify-full` | always | yes | yes |
//!
//! `sslrootcert` names the trusted CA certificates: a PEM file, or `system` for the operating
//! system's store (as libpq 16 does). Without it, the `verify-*` modes trust the Amazon RDS CA
//! bundle built into the binary (`adapters/certs/rds-ca-bundle.pem`, from
//! `scripts/refresh-rds-ca.sh`), because RDS is the server this pipeline is deployed against;
//! libpq would read `~/.postgresql/root.crt`, which a Lambda does not have.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};

/// The Amazon RDS and RDS Proxy CA certificates (scripts/refresh-rds-ca.sh).
const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../certs/rds-ca-bundle.pem");

/// libpq's `sslmode`, those of its values this pipeline supports (not `allow`, which tries
/// clear text first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn parse(text: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against trusted CAs.
    pub fn verifies(self) -> bool {
        match self {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            SslMode::Disable | SslMode::Prefer | SslMode::Require => false,
        }
    }

    /// The mode the driver is given: it must insist on TLS whenever we verify.
    pub(crate) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            SslMode::Disable => Driver::Disable,
            SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }
}

/// Where the trusted CA certificates of the `verify-*` modes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The Amazon RDS bundle built into the binary (no `sslrootcert`).
    Rds,
    /// The operating system's trust store (`sslrootcert=system`).
    System,
    /// A PEM file (`sslrootcert=<path>`).
    File(PathBuf),
}

impl RootCerts {
    fn from_param(value: Option<&str>) -> RootCerts {
        match value {
            None | Some("") => RootCerts::Rds,
            Some("system") => RootCerts::System,
            Some(path) => RootCerts::File(path.into()),
        }
    }
}

impl std::fmt::Display for RootCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootCerts::Rds => f.write_str("the built-in Amazon RDS CA bundle"),
            RootCerts::System => f.write_str("the system trust store"),
            RootCerts::File(path) => write!(f, "sslrootcert {}", path.display()),
        }
    }
}

/// A connection string with its TLS parameters taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// The connection string without `sslmode` and `sslrootcert`, for the driver.
    pub driver: String,
    pub mode: SslMode,
    pub roots: RootCerts,
}

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=verify-full`) or a
/// key=value string (`host=db sslmode=verify-full`). The last of repeated parameters wins, as
/// in libpq. Errors name the parameter, never quote other parts of the string.
pub fn split(conn: &str) -> Result<TlsParams, String> {
    let (driver, mode, root) =
        if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
            split_url(conn)?
        } else {
            split_key_values(conn)?
        };
    let mode = match mode {
        None => SslMode::Prefer,
        Some(text) => SslMode::parse(&text).ok_or_else(|| {
            format!(
                "sslmode {text:?} is not supported; use one of {}",
                SslMode::ALL.map(SslMode::as_str).join(", ")
            )
        })?,
    };
    Ok(TlsParams {
        driver,
        mode,
        roots: RootCerts::from_param(root.as_deref()),
    })
}

type Split = (String, Option<String>, Option<String>);

fn split_url(conn: &str) -> Result<Split, String> {
    let Some((base, query)) = conn.split_once('?') else {
        return Ok((conn.to_owned(), None, None));
    };
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(percent_decode(value, "sslmode")?),
            "sslrootcert" => root = Some(percent_decode(value, "sslrootcert")?),
            _ => kept.push(pair),
        }
    }
    let driver = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver, mode, root))
}

fn percent_decode(text: &str, param: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{param} has a malformed %-escape"))?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{param} is not UTF-8 once %-decoded"))
}

/// libpq's key=value syntax: values bare or in single quotes, `\` escaping the next character.
fn split_key_values(conn: &str) -> Result<Split, String> {
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("parameter {key:?} has no value"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut end = conn.len();
        let mut closed = !quoted;
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => return Err(format!("parameter {key:?} ends in a lone backslash")),
                },
                '\'' if quoted => {
                    closed = true;
                    end = at + 1;
                    break;
                }
                c if !quoted && c.is_whitespace() => {
                    end = at;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            return Err(format!("parameter {key:?} has an unterminated quote"));
        }
        match key.as_str() {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            _ => kept.push(&conn[start..end]),
        }
    }
    Ok((kept.join(" "), mode, root))
}

/// Why a connection could not be given TLS, before any byte was sent.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {roots}: {reason}")]
    Roots { roots: RootCerts, reason: String },
    #[error("cannot build the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls connector for a mode other than `disable`.
pub(crate) fn connector(
    mode: SslMode,
    roots: &RootCerts,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?
        .dangerous();
    let chain = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => None,
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let store = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Roots {
                    roots: roots.clone(),
                    reason: e.to_string(),
                })?;
            Some(ChainCheck {
                webpki,
                check_host_name: mode == SslMode::VerifyFull,
            })
        }
    };
    let verifier = Arc::new(ServerCheck { provider, chain });
    let config = builder
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The trust anchors `roots` names. A source that yields no certificate is an error: a
/// verifier with nothing to trust would refuse every server with a misleading reason.
pub fn root_store(roots: &RootCerts) -> Result<RootCertStore, TlsSetupError> {
    let failed = |reason: String| TlsSetupError::Roots {
        roots: roots.clone(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = match roots {
        RootCerts::Rds => CertificateDer::pem_slice_iter(RDS_CA_BUNDLE)
            .collect::<Result<_, _>>()
            .map_err(|e| failed(e.to_string()))?,
        RootCerts::File(path) => CertificateDer::pem_file_iter(path)
            .map_err(|e| failed(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| failed(e.to_string()))?,
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(failed(format!(
                    "no certificate found ({})",
                    errors.join("; ")
                )));
            }
            found.certs
        }
    };
    let mut store = RootCertStore::empty();
    let (added, _unusable) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(failed("it holds no usable PEM certificate".into()));
    }
    Ok(store)
}

/// What was wrong with a server's certificate, in words an operator can act on; `None` when
/// the error is not about the certificate.
pub(crate) fn certificate_problem(
    error: &(dyn std::error::Error + 'static),
    host: &str,
    roots: &RootCerts,
) -> Option<String> {
    let mut source = Some(error);
    while let Some(e) = source {
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(problem)) =
            inner.or_else(|| e.downcast_ref::<rustls::Error>())
        {
            return Some(describe(problem, host, roots));
        }
        source = e.source();
    }
    None
}

fn describe(problem: &CertificateError, host: &str, roots: &RootCerts) -> String {
    match problem {
        CertificateError::UnknownIssuer => format!(
            "its certificate is not signed by a CA in {roots}: if this is the right server, set \
             sslrootcert to its CA; if not, the connection may be intercepted"
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "its certificate is not valid for the host name {host}: connect by a name the \
                 certificate lists (for RDS, the instance endpoint), or use sslmode=verify-ca"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "its certificate has expired: renew the server's certificate".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "its certificate is not valid yet: check the server's and this machine's clocks".into()
        }
        CertificateError::Other(other) if other.0.is::<SelfSigned>() => format!(
            "it presented a self-signed certificate, which {roots} does not trust: give the \
             server a certificate from your CA, or set sslrootcert to that CA"
        ),
        other => format!("its certificate was refused ({other:?}), checked against {roots}"),
    }
}

/// Marks an unknown issuer that is the certificate itself.
#[derive(Debug, thiserror::Error)]
#[error("self-signed certificate")]
struct SelfSigned;

fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(cert.as_ref())
        .is_ok_and(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
}

/// How a server's certificate is judged. Without a [`ChainCheck`] (`prefer`, `require`) only
/// the handshake's signatures are checked, as libpq does: such a connection resists a passive
/// eavesdropper only.
#[derive(Debug)]
struct ServerCheck {
    provider: Arc<CryptoProvider>,
    chain: Option<ChainCheck>,
}

/// `verify-ca` and `verify-full`: webpki's chain check, with the host name check left out for
/// `verify-ca`, and a self-signed certificate told apart from one of an unknown CA.
#[derive(Debug)]
struct ChainCheck {
    webpki: Arc<WebPkiServerVerifier>,
    check_host_name: bool,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let verified = chain.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !chain.check_host_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
                if is_self_signed(end_entity) =>
            {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(SelfSigned)),
                )))
            }
            other => other,
        }
    }

    // The signature checks are webpki's own (the same provider's algorithms), in every mode.
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_the_rest_stays() {
        let p = split("postgres://u:p@db:5432/wh?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(p.driver, "postgres://u:p@db:5432/wh?application_name=x");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.roots, RootCerts::File("/etc/ca.pem".into()));

        let p = split("postgresql://db/wh?sslmode=verify-ca&sslrootcert=system").unwrap();
        assert_eq!(p.driver, "postgresql://db/wh");
        assert_eq!((p.mode, p.roots), (SslMode::VerifyCa, RootCerts::System));

        let p = split("postgres://db/wh").unwrap();
        assert_eq!((p.mode, p.roots), (SslMode::Prefer, RootCerts::Rds));
    }

    #[test]
    fn key_value_strings_keep_quotes_and_escapes() {
        let p = split(
            "host=db password='it\\'s secret' sslmode = verify-full sslrootcert='/a b/ca.pem' dbname=wh",
        )
        .unwrap();
        assert_eq!(p.driver, "host=db password='it\\'s secret' dbname=wh");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.roots, RootCerts::File("/a b/ca.pem".into()));
        let driver: tokio_postgres::Config = p.driver.parse().unwrap();
        assert_eq!(driver.get_password(), Some("it's secret".as_bytes()));
    }

    #[test]
    fn unsupported_modes_are_named_with_the_supported_ones() {
        let err = split("postgres://db/wh?sslmode=allow").unwrap_err();
        assert!(
            err.contains("\"allow\"") && err.contains("verify-full"),
            "{err}"
        );
        let err = split("host=db password='s3cr3t").unwrap_err();
        assert!(err.contains("password") && err.contains("quote"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn the_built_in_rds_bundle_loads() {
        let store = root_store(&RootCerts::Rds).unwrap();
        // Every certificate of the bundle is a usable trust anchor.
        let in_file = String::from_utf8_lossy(RDS_CA_BUNDLE)
            .matches("BEGIN CERTIFICATE")
            .count();
        assert!(in_file > 100, "{in_file}");
        assert_eq!(store.len(), in_file);
    }

    #[test]
    fn a_root_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = root_store(&RootCerts::File(path.clone()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
