//! Typed configuration, read once at start from `ETL_*` environment variables (docs/architecture.md §9).
//!
//! The variable names are a contract shared with Terraform, the tests and operators, so they live
//! here as constants. Every value is validated up front and a bad one is reported with the variable
//! name and what to do about it, never with a panic deep inside a stage.

use std::time::Duration;

use crate::error::ConfigError;

pub const SOURCE_URL: &str = "ETL_SOURCE_URL";
pub const SOURCE_SECRET_ARN: &str = "ETL_SOURCE_SECRET_ARN";
pub const WAREHOUSE_URL: &str = "ETL_WAREHOUSE_URL";
pub const WAREHOUSE_SECRET_ARN: &str = "ETL_WAREHOUSE_SECRET_ARN";
pub const LANDING: &str = "ETL_LANDING";
pub const PROCESSED: &str = "ETL_PROCESSED";
pub const ALERT_TOPIC_ARN: &str = "ETL_ALERT_TOPIC_ARN";
pub const ROW_BUDGET: &str = "ETL_ROW_BUDGET";
pub const LOOKBACK_SECS: &str = "ETL_LOOKBACK_SECS";
pub const CONNECT_TIMEOUT_SECS: &str = "ETL_CONNECT_TIMEOUT_SECS";
pub const SOURCE_READERS: &str = "ETL_SOURCE_READERS";
pub const INBOX: &str = "ETL_INBOX";
pub const NOTIFY_TOPIC_ARN: &str = "ETL_NOTIFY_TOPIC_ARN";
pub const LAKE: &str = "ETL_LAKE";
pub const LAKE_GLUE_DATABASE: &str = "ETL_LAKE_GLUE_DATABASE";

/// Every variable the pipeline reads, for documentation and for the Terraform drift test.
pub const ALL_VARIABLES: [&str; 15] = [
    SOURCE_URL,
    SOURCE_SECRET_ARN,
    WAREHOUSE_URL,
    WAREHOUSE_SECRET_ARN,
    LANDING,
    PROCESSED,
    ALERT_TOPIC_ARN,
    ROW_BUDGET,
    LOOKBACK_SECS,
    CONNECT_TIMEOUT_SECS,
    SOURCE_READERS,
    INBOX,
    NOTIFY_TOPIC_ARN,
    LAKE,
    LAKE_GLUE_DATABASE,
];

/// Rows per extract run when `ETL_ROW_BUDGET` is not set.
pub const DEFAULT_ROW_BUDGET: u64 = 100_000;
/// Seconds re-read each extract run when `ETL_LOOKBACK_SECS` is not set.
pub const DEFAULT_LOOKBACK_SECS: u64 = 0;
/// How long a database connection attempt may take before the run fails.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Connections extract reads the source's tables through, besides the one holding the
/// snapshot, when `ETL_SOURCE_READERS` is not set: the big tables' sorts split over two server
/// processes, the most a two-core source gains from.
pub const DEFAULT_SOURCE_READERS: u64 = 2;

/// Where a database is: a URL for local runs and tests, or a Secrets Manager secret in the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocator {
    Url(String),
    SecretArn(String),
}

/// Where a stage's objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    S3 { bucket: String, prefix: String },
    Local(std::path::PathBuf),
}

impl StoreLocation {
    /// Parses `s3://bucket[/prefix]` or a local directory path.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(ConfigError::Invalid {
                    var,
                    value: value.to_owned(),
                    reason: "the S3 location has no bucket; use s3://bucket[/prefix]".into(),
                });
            }
            return Ok(StoreLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if value.contains("://") {
            return Err(ConfigError::Invalid {
                var,
                value: value.to_owned(),
                reason: "only s3:// URLs and local directory paths are supported".into(),
            });
        }
        Ok(StoreLocation::Local(value.into()))
    }
}

/// As the variable would be written: `s3://bucket/prefix` or the path.
impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            StoreLocation::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The pipeline's configuration. Fields a command does not need may be absent; the accessors
/// turn an absent one into an error naming the variable.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Option<DatabaseLocator>,
    pub warehouse: Option<DatabaseLocator>,
    pub landing: Option<StoreLocation>,
    pub processed: Option<StoreLocation>,
    /// Where files are dropped for the inbox (`inbox` crate).
    pub inbox: Option<StoreLocation>,
    pub alert_topic_arn: Option<String>,
    /// Where successes are published (an inbox file loaded); absent: only the log hears.
    pub notify_topic_arn: Option<String>,
    /// The lake's Iceberg tables (`lake` crate); absent: no lake.
    pub lake: Option<StoreLocation>,
    /// The Glue database the lake's tables are registered in (and committed through); only
    /// with an S3 lake.
    pub lake_glue_database: Option<String>,
    pub row_budget: u64,
    pub lookback: Duration,
    pub connect_timeout: Duration,
    /// Extract's reader connections (`ETL_SOURCE_READERS`, at least 1).
    pub source_readers: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database =
            |url_var: &'static str, arn_var: &'static str| match (get(url_var), get(arn_var)) {
                (Some(_), Some(_)) => Err(ConfigError::Conflict {
                    first: url_var,
                    second: arn_var,
                }),
                (Some(url), None) => Ok(Some(DatabaseLocator::Url(url))),
                (None, Some(arn)) => Ok(Some(DatabaseLocator::SecretArn(arn))),
                (None, None) => Ok(None),
            };
        let store = |var: &'static str| get(var).map(|v| StoreLocation::parse(var, &v)).transpose();
        let number = |var: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            let Some(raw) = get(var) else {
                return Ok(default);
            };
            match raw.trim().parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ConfigError::Invalid {
                    var,
                    value: raw,
                    reason: format!("expected a whole number >= {min}"),
                }),
            }
        };
        Ok(Config {
            source: database(SOURCE_URL, SOURCE_SECRET_ARN)?,
            warehouse: database(WAREHOUSE_URL, WAREHOUSE_SECRET_ARN)?,
            landing: store(LANDING)?,
            processed: store(PROCESSED)?,
            inbox: store(INBOX)?,
            alert_topic_arn: get(ALERT_TOPIC_ARN),
            notify_topic_arn: get(NOTIFY_TOPIC_ARN),
            lake_glue_database: match (get(LAKE_GLUE_DATABASE), store(LAKE)?) {
                (None, _) => None,
                (Some(database), Some(StoreLocation::S3 { .. }))
                    if !database.is_empty()
                        && database
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
                {
                    Some(database)
                }
                (Some(database), Some(StoreLocation::S3 { .. })) => {
                    return Err(ConfigError::Invalid {
                        var: LAKE_GLUE_DATABASE,
                        value: database,
                        reason: "a Glue database name is lower-case letters, digits and \
                                 underscores (Terraform's output lake_glue_database)"
                            .into(),
                    });
                }
                (Some(database), _) => {
                    return Err(ConfigError::Invalid {
                        var: LAKE_GLUE_DATABASE,
                        value: database,
                        reason: format!(
                            "Glue registers tables in S3: set {LAKE} to s3://bucket/prefix, or \
                             unset {LAKE_GLUE_DATABASE} for a lake in a directory"
                        ),
                    });
                }
            },
            lake: store(LAKE)?,
            row_budget: number(ROW_BUDGET, DEFAULT_ROW_BUDGET, 1)?,
            lookback: Duration::from_secs(number(LOOKBACK_SECS, DEFAULT_LOOKBACK_SECS, 0)?),
            connect_timeout: Duration::from_secs(number(
                CONNECT_TIMEOUT_SECS,
                DEFAULT_CONNECT_TIMEOUT_SECS,
                1,
            )?),
            source_readers: number(SOURCE_READERS, DEFAULT_SOURCE_READERS, 1)? as usize,
        })
    }

    /// The source database, or an error saying which variable to set.
    pub fn source(&self) -> Result<&DatabaseLocator, ConfigError> {
        self.source.as_ref().ok_or(ConfigError::Missing {
            var: SOURCE_URL,
            hint: "the totesys OLTP database, e.g. postgres://user@localhost:5432/totesys",
        })
    }

    /// The warehouse database, or an error saying which variable to set.
    pub fn warehouse(&self) -> Result<&DatabaseLocator, ConfigError> {
        self.warehouse.as_ref().ok_or(ConfigError::Missing {
            var: WAREHOUSE_URL,
            hint: "the warehouse database, e.g. postgres://user@localhost:5432/warehouse",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.row_budget, DEFAULT_ROW_BUDGET);
        assert_eq!(c.lookback, Duration::from_secs(DEFAULT_LOOKBACK_SECS));
        assert_eq!(c.source_readers, DEFAULT_SOURCE_READERS as usize);
        let err = c.source().unwrap_err().to_string();
        assert!(err.contains("ETL_SOURCE_URL"), "{err}");
    }

    #[test]
    fn store_locations_parse() {
        let c = config(&[
            (LANDING, "s3://landing-bucket/team/a/"),
            (PROCESSED, "./data/processed"),
        ])
        .unwrap();
        assert_eq!(
            c.landing,
            Some(StoreLocation::S3 {
                bucket: "landing-bucket".into(),
                prefix: "team/a".into()
            })
        );
        assert_eq!(
            c.processed,
            Some(StoreLocation::Local("./data/processed".into()))
        );
        assert!(config(&[(LANDING, "s3:///x")]).is_err());
        assert!(config(&[(LANDING, "gs://bucket")]).is_err());
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let err = config(&[(ROW_BUDGET, "lots")]).unwrap_err().to_string();
        assert!(
            err.contains("ETL_ROW_BUDGET") && err.contains("lots"),
            "{err}"
        );
        assert!(config(&[(ROW_BUDGET, "0")]).is_err());
        let err = config(&[(SOURCE_READERS, "0")]).unwrap_err().to_string();
        assert!(err.contains("ETL_SOURCE_READERS"), "{err}");
        assert_eq!(config(&[(SOURCE_READERS, "4")]).unwrap().source_readers, 4);
    }

    #[test]
    fn a_glue_database_needs_an_s3_lake_and_a_glue_name() {
        let s3 = (LAKE, "s3://lake-bucket/lake");
        let c = config(&[s3, (LAKE_GLUE_DATABASE, "etl_dev_lake")]).unwrap();
        assert_eq!(c.lake_glue_database.as_deref(), Some("etl_dev_lake"));
        assert_eq!(config(&[s3]).unwrap().lake_glue_database, None);
        let err = config(&[(LAKE, "./lake"), (LAKE_GLUE_DATABASE, "etl_dev_lake")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ETL_LAKE_GLUE_DATABASE") && err.contains("s3://bucket/prefix"),
            "{err}"
        );
        assert!(config(&[(LAKE_GLUE_DATABASE, "etl_dev_lake")]).is_err());
        let err = config(&[s3, (LAKE_GLUE_DATABASE, "Etl-Lake")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lower-case"), "{err}");
    }

    #[test]
    fn url_and_secret_together_conflict() {
        let err = config(&[(SOURCE_URL, "postgres://x"), (SOURCE_SECRET_ARN, "arn:x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ETL_SOURCE_URL") && err.contains("ETL_SOURCE_SECRET_ARN"));
    }
}
