//! Database credentials from AWS Secrets Manager, in the JSON shape RDS uses for its managed
//! secrets: `{"engine": "postgres", "host": ..., "port": 5432, "username": ..., "password": ...,
//! "dbname": ...}`, plus an optional `"sslmode"` (`disable`, `prefer` or `require`).
//!
//! A secret becomes a connection URL once, at cold start. Nothing here ever puts the secret's
//! text, or any of its values but the host, into an error: a malformed secret is reported by
//! the field that is wrong.

use serde_json::Value;
use thiserror::Error;

use crate::config::DatabaseLocator;
use crate::error::{Classify, ErrorKind};

/// TLS mode of a secret that does not name one: RDS accepts it, and it never sends a password
/// in clear text.
pub const DEFAULT_SECRET_SSLMODE: &str = "require";

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
         password, optional dbname and sslmode)"
    )]
    Malformed { arn: String, problem: String },
}

impl Classify for SecretError {
    fn kind(&self) -> ErrorKind {
        match self {
            SecretError::Fetch {
                retryable: true, ..
            } => ErrorKind::Retryable,
            _ => ErrorKind::Permanent,
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
    let sslmode = text("sslmode")?.unwrap_or_else(|| DEFAULT_SECRET_SSLMODE.to_owned());
    if !matches!(sslmode.as_str(), "disable" | "prefer" | "require") {
        return Err(malformed(format!(
            "\"sslmode\" is {sslmode:?}; use disable, prefer or require"
        )));
    }
    if host.contains(['/', '@', '?', '#']) {
        return Err(malformed("\"host\" must be a host name or address".into()));
    }
    Ok(format!(
        "postgres://{}:{}@{host}:{port}/{}?sslmode={sslmode}",
        encode(&username),
        encode(&password),
        encode(&dbname)
    ))
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

/// The URL of a database: as given, or read from its secret.
pub async fn database_url(
    locator: &DatabaseLocator,
    sdk: &aws_config::SdkConfig,
) -> Result<String, SecretError> {
    let arn = match locator {
        DatabaseLocator::Url(url) => return Ok(url.clone()),
        DatabaseLocator::SecretArn(arn) => arn,
    };
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
                arn: arn.clone(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                retryable,
            }
        })?;
    let secret = out.secret_string().ok_or_else(|| SecretError::Malformed {
        arn: arn.clone(),
        problem: "the secret has no string value (a binary secret?)".into(),
    })?;
    url_from_secret(arn, secret)
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
            "postgres://etl:p%40ss%3Aw%2Frd%3F@db.example:5433/warehouse?sslmode=require"
        );
        let parsed: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(parsed.get_password(), Some("p@ss:w/rd?".as_bytes()));
        let url = url_from_secret(
            ARN,
            r#"{"host":"h","port":"5432","username":"u","password":"x","sslmode":"disable"}"#,
        )
        .unwrap();
        assert_eq!(url, "postgres://u:x@h:5432/u?sslmode=disable");
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
        ];
        for (secret, expected) in cases {
            let err = url_from_secret(ARN, secret).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains(ARN), "{err}");
            assert!(!err.contains("hunter2") && !err.contains("98765"), "{err}");
        }
    }
}
