//! Database credentials from AWS Secrets Manager, in the JSON shape RDS uses for its managed
//! secrets (docs/security.md has the exact document):
//!
//! `{"engine": "postgres", "host": ..., "port": 5432, "username": ..., "password": ...,
//! "dbname": ..., "sslmode": "verify-full", "sslrootcert": ..., "channel_binding": ...}`
//!
//! `sslmode` defaults to `verify-full` and must verify or at least encrypt (`require`,
//! `verify-ca`, `verify-full`): a secret is how the cloud stack connects, over networks we do
//! not own, so `disable` (and `prefer`, which an attacker turns into `disable`) are refused.
//! Without `sslrootcert` the built-in Amazon RDS CA bundle is trusted (`db::tls`).
//!
//! A secret becomes a connection URL at cold start and again whenever the server refuses the
//! password ([`DatabaseUrl::connect`]), so a rotation needs no redeploy. Nothing here ever puts
//! the secret's text, or any of its values but the host, into an error: a malformed secret is
//! reported by the field that is wrong.

use serde_json::Value;
use thiserror::Error;
use tokio::sync::Mutex;
use tokio_postgres::Client;

use crate::db::tls::SslMode;
use crate::error::DbError;
use etl_contract::config::DatabaseLocator;
use etl_contract::error::{Classify, Disposition};

/// TLS mode of a secret that does not name one: the server's certificate is checked against
/// the RDS CAs and its name against the secret's host.
pub const DEFAULT_SECRET_SSLMODE: SslMode = SslMode::VerifyFull;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("cannot read secret {arn}: {message}")]
    Fetch {
        arn: String,
        message: String,
        retryable: bool,
    },
    #[error(
        "secret {arn} is not usable: {problem} (expected RDS JSON: host, port, username, \
         password, optional dbname, sslmode, sslrootcert and channel_binding; docs/security.md)"
    )]
    Malformed { arn: String, problem: String },
}

impl Classify for SecretError {
    fn disposition(&self) -> Disposition {
        match self {
            SecretError::Fetch { retryable, .. } => Disposition::transient(*retryable),
            SecretError::Malformed { .. } => Disposition::Fail,
        }
    }
}

/// The connection URL a secret describes. Pure, so it is tested without AWS.
pub fn url_from_secret(arn: &str, secret: &str) -> Result<String, SecretError> {
    let malformed = |problem: String| SecretError::Malformed {
        arn: arn.to_owned(),
        problem,
    };
    // serde's messages can quote the offending input; only field names are reported here.
    let value: Value = serde_json::from_str(secret)
        .map_err(|_| malformed("the secret string is not a JSON object".into()))?;
    let Value::Object(fields) = value else {
        return Err(malformed("the secret string is not a JSON object".into()));
    };
    let text = |name: &str| -> Result<Option<String>, SecretError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(malformed(format!("\"{name}\" must be a non-empty string"))),
        }
    };
    let required = |name: &str| -> Result<String, SecretError> {
        text(name)?.ok_or_else(|| malformed(format!("\"{name}\" is missing")))
    };
    let host = required("host")?;
    let username = required("username")?;
    let password = required("password")?;
    let port = match fields.get("port") {
        None | Some(Value::Null) => 5432,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| malformed("\"port\" must be a port number".into()))?,
        Some(Value::String(s)) => s
            .parse::<u16>()
            .map_err(|_| malformed("\"port\" must be a port number".into()))?,
        Some(_) => return Err(malformed("\"port\" must be a port number".into())),
    };
    // libpq's default: a database named like the user.
    let dbname = text("dbname")?.unwrap_or_else(|| username.clone());
    let sslmode = match text("sslmode")? {
        None => DEFAULT_SECRET_SSLMODE,
        Some(mode) => match SslMode::parse(&mode) {
            Some(SslMode::Disable | SslMode::Prefer) => {
                return Err(malformed(format!(
                    "\"sslmode\" is {mode:?}, which can send the password in clear text; use \
                     verify-full (the default), verify-ca or require"
                )));
            }
            Some(mode) => mode,
            None => {
                return Err(malformed(format!(
                    "\"sslmode\" is {mode:?}; use verify-full (the default), verify-ca or require"
                )));
            }
        },
    };
    let channel_binding = text("channel_binding")?;
    if let Some(binding) = &channel_binding
        && !matches!(binding.as_str(), "disable" | "prefer" | "require")
    {
        return Err(malformed(format!(
            "\"channel_binding\" is {binding:?}; use prefer (the default), require or disable"
        )));
    }
    if host.contains(['/', '@', '?', '#']) {
        return Err(malformed("\"host\" must be a host name or address".into()));
    }
    let mut url = format!(
        "postgres://{}:{}@{host}:{port}/{}?sslmode={}",
        encode(&username),
        encode(&password),
        encode(&dbname),
        sslmode.as_str()
    );
    if let Some(root) = text("sslrootcert")? {
        url.push_str(&format!("&sslrootcert={}", encode(&root)));
    }
    if let Some(binding) = channel_binding {
        url.push_str(&format!("&channel_binding={binding}"));
    }
    Ok(url)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The connection URL secret `arn` holds now.
async fn read_secret(arn: &str, sdk: &aws_config::SdkConfig) -> Result<String, SecretError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_secretsmanager::error::SdkError;
            let retryable = match &e {
                SdkError::ServiceError(_) => e
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 429 || r.status().as_u16() >= 500),
                SdkError::ConstructionFailure(_) => false,
                _ => true,
            };
            SecretError::Fetch {
                arn: arn.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                retryable,
            }
        })?;
    let secret = out.secret_string().ok_or_else(|| SecretError::Malformed {
        arn: arn.to_owned(),
        problem: "the secret has no string value (a binary secret?)".into(),
    })?;
    url_from_secret(arn, secret)
}

/// A database's connection URL that follows its secret.
///
/// The secret is read once when this is made and read again only when the server refuses the
/// password (SQLSTATE 28P01), which is what a rotation looks like to a warm Lambda: the next
/// connection then uses the new password, with no redeploy and no read per invocation.
#[derive(Debug)]
pub struct DatabaseUrl {
    secret: Option<(String, aws_config::SdkConfig)>,
    current: Mutex<String>,
}

impl DatabaseUrl {
    /// A URL given as such: nothing to refresh.
    pub fn fixed(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl {
            secret: None,
            current: Mutex::new(url.into()),
        }
    }

    /// The URL `locator` names, reading its secret now when it is one.
    pub async fn resolve(
        locator: &DatabaseLocator,
        sdk: &aws_config::SdkConfig,
    ) -> Result<DatabaseUrl, SecretError> {
        match locator {
            DatabaseLocator::Url(url) => Ok(DatabaseUrl::fixed(url.clone())),
            DatabaseLocator::SecretArn(arn) => Ok(DatabaseUrl {
                current: Mutex::new(read_secret(arn, sdk).await?),
                secret: Some((arn.clone(), sdk.clone())),
            }),
        }
    }

    /// The URL connections use now.
    pub async fn current(&self) -> String {
        self.current.lock().await.clone()
    }

    /// Connects (see [`crate::db::connect`]); a refused password re-reads the secret and, when
    /// it changed, tries once more with the new one.
    pub async fn connect(
        &self,
        role: &'static str,
        application_name: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, DbError> {
        let tried = self.current().await;
        let error = match crate::db::connect(role, &tried, application_name, timeout).await {
            Ok(client) => return Ok(client),
            Err(error) => error,
        };
        let Some((arn, sdk)) = &self.secret else {
            return Err(error);
        };
        if !crate::db::password_rejected(&error) {
            return Err(error);
        }
        let retry = {
            let mut current = self.current.lock().await;
            // Another connection may have refreshed it meanwhile.
            if *current == tried {
                let fresh = read_secret(arn, sdk)
                    .await
                    .map_err(|source| DbError::Credentials { role, source })?;
                if fresh == tried {
                    return Err(error);
                }
                tracing::info!(role, secret = %arn, "password refused; connecting with the secret's new value");
                *current = fresh;
            }
            current.clone()
        };
        crate::db::connect(role, &retry, application_name, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:wh";

    #[test]
    fn rds_secrets_become_urls() {
        let url = url_from_secret(
            ARN,
            r#"{"engine":"postgres","host":"db.example","port":5433,"username":"etl",
                "password":"p@ss:w/rd?","dbname":"warehouse"}"#,
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://etl:p%40ss%3Aw%2Frd%3F@db.example:5433/warehouse?sslmode=verify-full"
        );
        let driver = crate::db::tls::split(&url).unwrap().driver;
        let parsed: tokio_postgres::Config = driver.parse().unwrap();
        assert_eq!(parsed.get_password(), Some("p@ss:w/rd?".as_bytes()));
        let url = url_from_secret(
            ARN,
            r#"{"host":"h","port":"5432","username":"u","password":"x","sslmode":"require",
                "sslrootcert":"/var/task/ca.pem","channel_binding":"require"}"#,
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:x@h:5432/u?sslmode=require&sslrootcert=%2Fvar%2Ftask%2Fca.pem&channel_binding=require"
        );
        let tls = crate::db::tls::split(&url).unwrap();
        assert_eq!(
            tls.roots,
            crate::db::tls::RootCerts::File("/var/task/ca.pem".into())
        );
    }

    #[test]
    fn malformed_secrets_name_the_field_never_the_password() {
        let cases = [
            (r#"{"host":"h","username":"u"}"#, "\"password\" is missing"),
            (
                r#"{"host":"h","username":"u","password":98765}"#,
                "\"password\" must be",
            ),
            (
                r#"{"host":"h","username":"u","password":"hunter2","port":"x"}"#,
                "\"port\"",
            ),
            ("hunter2 not json", "not a JSON object"),
            (
                r#"{"host":"h","username":"u","password":"hunter2","sslmode":"verify"}"#,
                "sslmode",
            ),
            (
                r#"{"host":"h","username":"u","password":"hunter2","sslmode":"disable"}"#,
                "clear text",
            ),
            (
                r#"{"host":"h","username":"u","password":"hunter2","sslmode":"prefer"}"#,
                "clear text",
            ),
            (
                r#"{"host":"h","username":"u","password":"hunter2","channel_binding":"x"}"#,
                "channel_binding",
            ),
        ];
        for (secret, expected) in cases {
            let err = url_from_secret(ARN, secret).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains(ARN), "{err}");
            assert!(!err.contains("hunter2") && !err.contains("98765"), "{err}");
        }
    }
}
