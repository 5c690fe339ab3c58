//! The lake's tables in the AWS Glue Data Catalog, where Athena, Redshift Spectrum, EMR and
//! Glue jobs find them: one Glue table per warehouse table, an Iceberg table
//! (`table_type=ICEBERG`) whose `metadata_location` parameter names the current metadata file.
//!
//! In the cloud that parameter *is* the pointer a commit swaps (instead of the directory
//! layout's `version-hint.text`): `UpdateTable` carries the `VersionId` the commit started
//! from, and Glue refuses it with `ConcurrentModificationException` when another writer (a
//! racing delivery, Athena's `OPTIMIZE` or `VACUUM`) moved the table since. That is the
//! optimistic lock Iceberg's own Glue catalog takes, so the lake and Athena's maintenance
//! commands can share the tables.
//!
//! The lake needs three Glue operations, so it speaks Glue's JSON protocol itself
//! ([`GlueClient`]: a POST signed with SigV4 by `aws-sigv4`, over the SDK's own HTTPS
//! connector) rather than through the generated `aws-sdk-glue`, whose hundreds of operations
//! cost about 100 compile-seconds of every clean build (README, build time).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use etl_contract::warehouse::{WarehouseType, warehouse_table};
use iceberg::{Error, ErrorKind, Result};
use serde_json::{Value, json};

/// The Glue parameter naming a table's current metadata file.
pub const METADATA_LOCATION: &str = "metadata_location";
const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";

/// Attempts per Glue call: throttling, 5xx and dropped connections are retried with backoff
/// (as the SDK would) before the run is handed back for a later retry.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// One attempt's bound: Glue answers these calls in milliseconds; a hung connection must not
/// hold the function until its own timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a Glue call failed.
#[derive(Debug, thiserror::Error)]
pub enum GlueCallError {
    /// Glue answered with an error (`code` is the exception's name, e.g.
    /// `EntityNotFoundException`).
    #[error("{code} (HTTP {status}): {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer: the connection failed or timed out.
    #[error("no answer from {endpoint}: {reason}")]
    Transport { endpoint: String, reason: String },
    /// The request could not be made: no region, no credentials, a signing failure.
    #[error("{0}")]
    Setup(String),
    /// An answer that is not Glue's JSON.
    #[error("an answer that is not Glue's JSON (HTTP {status}): {reason}")]
    Malformed { status: u16, reason: String },
}

impl GlueCallError {
    /// Whether the same call may succeed later unchanged.
    pub fn retryable(&self) -> bool {
        match self {
            GlueCallError::Service { status, code, .. } => {
                *status >= 500
                    || matches!(
                        code.as_str(),
                        "ThrottlingException"
                            | "ThrottledException"
                            | "TooManyRequestsException"
                            | "RequestLimitExceeded"
                            | "RequestTimeoutException"
                            | "InternalServiceException"
                            | "OperationTimeoutException"
                    )
            }
            GlueCallError::Transport { .. } => true,
            GlueCallError::Setup(_) | GlueCallError::Malformed { .. } => false,
        }
    }

    fn is(&self, exception: &str) -> bool {
        matches!(self, GlueCallError::Service { code, .. } if code == exception)
    }
}

/// Glue's JSON API (`AWSGlue.<Operation>`, JSON 1.1) for the process's AWS configuration:
/// its region, credentials chain and `AWS_ENDPOINT_URL`.
///
/// Contract: `call` sends one operation's request body and returns its response body; an
/// error answer becomes [`GlueCallError::Service`] with the exception's name. Throttling, 5xx
/// and transport failures are retried up to four times with exponential backoff.
#[derive(Clone)]
pub struct GlueClient {
    connector: std::sync::Arc<Connector>,
    endpoint: String,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
}

impl std::fmt::Debug for GlueClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlueClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl GlueClient {
    pub fn new(sdk: &aws_config::SdkConfig) -> GlueClient {
        let region = sdk.region().map(|r| r.as_ref().to_owned());
        let endpoint = match (sdk.endpoint_url(), &region) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(region)) => regional_endpoint(region),
            // Reported by the first call, with the fix.
            (None, None) => String::new(),
        };
        GlueClient {
            connector: std::sync::Arc::new(etl_adapters::aws::https_connector()),
            endpoint,
            region,
            credentials: sdk.credentials_provider(),
        }
    }

    /// Sends `operation` (e.g. `GetTable`) with `request` and returns Glue's answer.
    pub async fn call(
        &self,
        operation: &str,
        request: &Value,
    ) -> std::result::Result<Value, GlueCallError> {
        let body = serde_json::to_vec(request).map_err(|e| {
            GlueCallError::Setup(format!("the {operation} request is not JSON: {e}"))
        })?;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(operation, &body).await {
                Err(e) if e.retryable() && attempt < ATTEMPTS => {
                    tracing::warn!(operation, attempt, error = %e, "Glue call failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn attempt(
        &self,
        operation: &str,
        body: &[u8],
    ) -> std::result::Result<Value, GlueCallError> {
        let request = self.signed(operation, body).await?;
        let transport = |reason: String| GlueCallError::Transport {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let response = tokio::time::timeout(ATTEMPT_TIMEOUT, self.connector.call(request))
            .await
            .map_err(|_| transport(format!("timed out after {ATTEMPT_TIMEOUT:?}")))?
            .map_err(|e| {
                if e.is_user() {
                    GlueCallError::Setup(format!("{operation}: {e}"))
                } else {
                    transport(e.to_string())
                }
            })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-ErrorType")
            .map(str::to_owned);
        let bytes = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| transport(format!("reading the answer: {e}")))?
            .into_bytes();
        let parsed = if bytes.is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_slice::<Value>(&bytes)
        };
        if (200..300).contains(&status) {
            return parsed.map_err(|e| GlueCallError::Malformed {
                status,
                reason: e.to_string(),
            });
        }
        let answer = parsed.unwrap_or(Value::Null);
        let code = error_type
            .as_deref()
            .or_else(|| answer.get("__type").and_then(Value::as_str))
            .map(exception_name)
            .unwrap_or("UnknownError")
            .to_owned();
        let message = ["message", "Message"]
            .iter()
            .find_map(|k| answer.get(k).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned();
        Err(GlueCallError::Service {
            status,
            code,
            message,
        })
    }

    /// The POST for `operation`, signed for this moment with the chain's current credentials.
    async fn signed(
        &self,
        operation: &str,
        body: &[u8],
    ) -> std::result::Result<aws_smithy_runtime_api::http::Request, GlueCallError> {
        let region = self.region.as_deref().ok_or_else(|| {
            GlueCallError::Setup("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)".into())
        })?;
        let credentials = self
            .credentials
            .as_ref()
            .ok_or_else(|| GlueCallError::Setup("no AWS credentials provider configured".into()))?
            .provide_credentials()
            .await
            .map_err(|e| GlueCallError::Setup(format!("no AWS credentials: {e}")))?;
        let identity: Identity = credentials.into();
        let uri = format!("{}/", self.endpoint);
        let target = format!("AWSGlue.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("glue")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| GlueCallError::Setup(format!("signing {operation}: {e}")))?
            .into();
        let signable =
            SignableRequest::new("POST", &uri, headers.into_iter(), SignableBody::Bytes(body))
                .map_err(|e| GlueCallError::Setup(format!("signing {operation}: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| GlueCallError::Setup(format!("signing {operation}: {e}")))?
            .into_parts();
        let mut request = http::Request::builder().method("POST").uri(&uri);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request
            .body(SdkBody::from(body.to_vec()))
            .map_err(|e| GlueCallError::Setup(format!("{operation} to {uri}: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        aws_smithy_runtime_api::http::Request::try_from(request)
            .map_err(|e| GlueCallError::Setup(format!("{operation} to {uri}: {e}")))
    }
}

/// Glue's public endpoint in `region` (China's regions have their own domain).
fn regional_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://glue.{region}.{domain}")
}

/// The exception's name from an `x-amzn-ErrorType` header or a `__type` field, which may carry
/// a namespace (`com.amazonaws.glue#EntityNotFoundException`) or a suffix (`...:http://...`).
fn exception_name(raw: &str) -> &str {
    let name = raw.rsplit('#').next().unwrap_or(raw);
    name.split(':').next().unwrap_or(name)
}

/// The lake's tables in one Glue database.
#[derive(Debug, Clone)]
pub struct GlueTables {
    client: GlueClient,
    database: String,
}

/// A Glue table's current metadata file and the version a swap starts from.
pub(crate) struct GlueCurrent {
    pub metadata_location: String,
    pub version_id: Option<String>,
}

impl GlueTables {
    /// The tables of Glue database `database` (Terraform creates it; the lake creates tables).
    pub fn new(sdk: &aws_config::SdkConfig, database: &str) -> GlueTables {
        GlueTables {
            client: GlueClient::new(sdk),
            database: database.to_owned(),
        }
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The table's current metadata file, or `None` before its first commit.
    pub(crate) async fn current(&self, table: &str) -> Result<Option<GlueCurrent>> {
        let request = json!({"DatabaseName": self.database, "Name": table});
        let answer = match self.client.call("GetTable", &request).await {
            Ok(answer) => answer,
            Err(e) if e.is("EntityNotFoundException") => return Ok(None),
            Err(e) => return Err(self.failed("GetTable", table, e)),
        };
        let entry = &answer["Table"];
        match entry["Parameters"][METADATA_LOCATION].as_str() {
            Some(location) => Ok(Some(GlueCurrent {
                metadata_location: location.to_owned(),
                version_id: entry["VersionId"].as_str().map(str::to_owned),
            })),
            None => Err(Error::new(
                ErrorKind::DataInvalid,
                format!(
                    "Glue table {}.{table} is not an Iceberg table (no {METADATA_LOCATION}): \
                     drop it or point ETL_LAKE_GLUE_DATABASE at the lake's own database",
                    self.database
                ),
            )),
        }
    }

    /// Registers the table's first metadata file. `false`: another creator registered it first.
    pub(crate) async fn create(
        &self,
        table: &str,
        location: &str,
        metadata_location: &str,
    ) -> Result<bool> {
        let request = json!({
            "DatabaseName": self.database,
            "TableInput": table_input(table, location, metadata_location, None),
        });
        match self.client.call("CreateTable", &request).await {
            Ok(_) => Ok(true),
            Err(e) if e.is("AlreadyExistsException") => Ok(false),
            Err(e) => Err(self.failed("CreateTable", table, e)),
        }
    }

    /// Moves the table from `current` to `metadata_location`. `false`: the table moved since
    /// `current` was read (the commit is retried on the new metadata).
    pub(crate) async fn swap(
        &self,
        table: &str,
        location: &str,
        current: &GlueCurrent,
        metadata_location: &str,
    ) -> Result<bool> {
        let mut request = json!({
            "DatabaseName": self.database,
            "TableInput": table_input(
                table,
                location,
                metadata_location,
                Some(&current.metadata_location),
            ),
            // Glue otherwise keeps every earlier definition as a table version (one per commit).
            "SkipArchive": true,
        });
        if let Some(version_id) = &current.version_id {
            request["VersionId"] = json!(version_id);
        }
        match self.client.call("UpdateTable", &request).await {
            Ok(_) => Ok(true),
            Err(e) if e.is("ConcurrentModificationException") => Ok(false),
            Err(e) => Err(self.failed("UpdateTable", table, e)),
        }
    }

    fn failed(&self, operation: &str, table: &str, e: GlueCallError) -> Error {
        // Throttling, timeouts and 5xx were retried already; what is left may still pass on
        // the next delivery.
        let retryable = e.retryable();
        Error::new(
            ErrorKind::Unexpected,
            format!("Glue {operation} of {}.{table} failed: {e}", self.database),
        )
        .with_retryable(retryable)
    }
}

/// The whole table definition (`UpdateTable` replaces it): an external Iceberg table at
/// `location` whose columns are the catalog's, for engines that list them from Glue.
fn table_input(
    table: &str,
    location: &str,
    metadata_location: &str,
    previous: Option<&str>,
) -> Value {
    let columns: Vec<Value> = warehouse_table(table)
        .map(|t| {
            t.columns
                .iter()
                .map(|c| json!({"Name": c.name, "Type": glue_type(c.ty)}))
                .collect()
        })
        .unwrap_or_default();
    let mut parameters = json!({
        "table_type": "ICEBERG",
        METADATA_LOCATION: metadata_location,
    });
    if let Some(previous) = previous {
        parameters[PREVIOUS_METADATA_LOCATION] = json!(previous);
    }
    json!({
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": {"Location": location, "Columns": columns},
    })
}

/// The Hive type Glue lists a column with (informational: Iceberg engines read the types from
/// the metadata). Glue has no time-of-day type; Iceberg's own Glue catalog lists `time` as
/// `string` too.
fn glue_type(ty: WarehouseType) -> &'static str {
    match ty {
        WarehouseType::Int => "int",
        WarehouseType::Text | WarehouseType::Time => "string",
        WarehouseType::Bool => "boolean",
        WarehouseType::Date => "date",
        WarehouseType::Money => "decimal(10,2)",
        WarehouseType::Version => "timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names_lose_their_namespace_and_suffix() {
        assert_eq!(
            exception_name("com.amazonaws.glue#EntityNotFoundException"),
            "EntityNotFoundException"
        );
        assert_eq!(
            exception_name("ConcurrentModificationException:http://internal.amazon.com/"),
            "ConcurrentModificationException"
        );
        assert_eq!(
            exception_name("AlreadyExistsException"),
            "AlreadyExistsException"
        );
    }

    #[test]
    fn throttling_server_faults_and_transport_are_retried_and_nothing_else() {
        let service = |status, code: &str| GlueCallError::Service {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(service(400, "ThrottlingException").retryable());
        assert!(service(503, "UnknownError").retryable());
        assert!(
            GlueCallError::Transport {
                endpoint: "x".into(),
                reason: "reset".into()
            }
            .retryable()
        );
        assert!(!service(400, "AccessDeniedException").retryable());
        assert!(!service(400, "EntityNotFoundException").retryable());
        assert!(!GlueCallError::Setup("no region".into()).retryable());
    }

    #[test]
    fn the_table_input_is_an_iceberg_table_with_the_catalogs_columns() {
        let input = table_input(
            "dim_date",
            "s3://lake/dim_date",
            "s3://lake/dim_date/metadata/2.metadata.json",
            Some("s3://lake/dim_date/metadata/1.metadata.json"),
        );
        assert_eq!(input["Parameters"]["table_type"], "ICEBERG");
        assert_eq!(
            input["Parameters"][PREVIOUS_METADATA_LOCATION],
            "s3://lake/dim_date/metadata/1.metadata.json"
        );
        let columns = input["StorageDescriptor"]["Columns"].as_array().unwrap();
        assert_eq!(
            columns.len(),
            warehouse_table("dim_date").unwrap().columns.len()
        );
        assert_eq!(columns[0]["Name"], "date_id");
        assert_eq!(columns[0]["Type"], "date");
    }

    #[test]
    fn the_endpoint_follows_the_region() {
        assert_eq!(
            regional_endpoint("eu-west-2"),
            "https://glue.eu-west-2.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("cn-north-1"),
            "https://glue.cn-north-1.amazonaws.com.cn"
        );
    }
}
