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

use aws_sdk_glue::error::{DisplayErrorContext, SdkError};
use aws_sdk_glue::operation::create_table::CreateTableError;
use aws_sdk_glue::operation::get_table::GetTableError;
use aws_sdk_glue::operation::update_table::UpdateTableError;
use aws_sdk_glue::types::{Column, StorageDescriptor, TableInput};
use etl_contract::warehouse::{WarehouseType, warehouse_table};
use iceberg::{Error, ErrorKind, Result};

/// The Glue parameter naming a table's current metadata file.
pub const METADATA_LOCATION: &str = "metadata_location";
const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";

/// The lake's tables in one Glue database.
#[derive(Debug, Clone)]
pub struct GlueTables {
    client: aws_sdk_glue::Client,
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
            client: aws_sdk_glue::Client::new(sdk),
            database: database.to_owned(),
        }
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The table's current metadata file, or `None` before its first commit.
    pub(crate) async fn current(&self, table: &str) -> Result<Option<GlueCurrent>> {
        let out = match self
            .client
            .get_table()
            .database_name(&self.database)
            .name(table)
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetTableError::EntityNotFoundException(_)) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.failed("GetTable", table, e)),
        };
        let entry = out.table();
        let location = entry
            .and_then(|t| t.parameters())
            .and_then(|p| p.get(METADATA_LOCATION));
        match location {
            Some(location) => Ok(Some(GlueCurrent {
                metadata_location: location.clone(),
                version_id: entry.and_then(|t| t.version_id()).map(str::to_owned),
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
        let input = self.input(table, location, metadata_location, None)?;
        match self
            .client
            .create_table()
            .database_name(&self.database)
            .table_input(input)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), CreateTableError::AlreadyExistsException(_)) =>
            {
                Ok(false)
            }
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
        let input = self.input(
            table,
            location,
            metadata_location,
            Some(&current.metadata_location),
        )?;
        match self
            .client
            .update_table()
            .database_name(&self.database)
            .table_input(input)
            .set_version_id(current.version_id.clone())
            // Glue otherwise keeps every earlier definition as a table version (one per commit).
            .skip_archive(true)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    UpdateTableError::ConcurrentModificationException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.failed("UpdateTable", table, e)),
        }
    }

    /// The whole table definition (`UpdateTable` replaces it): an external Iceberg table at
    /// `location` whose columns are the catalog's, for engines that list them from Glue.
    fn input(
        &self,
        table: &str,
        location: &str,
        metadata_location: &str,
        previous: Option<&str>,
    ) -> Result<TableInput> {
        let columns = warehouse_table(table)
            .map(|t| {
                t.columns
                    .iter()
                    .map(|c| {
                        Column::builder()
                            .name(c.name)
                            .r#type(glue_type(c.ty))
                            .build()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| self.invalid(table, e))?
            .unwrap_or_default();
        let mut input = TableInput::builder()
            .name(table)
            .table_type("EXTERNAL_TABLE")
            .parameters("table_type", "ICEBERG")
            .parameters(METADATA_LOCATION, metadata_location)
            .storage_descriptor(
                StorageDescriptor::builder()
                    .location(location)
                    .set_columns(Some(columns))
                    .build(),
            );
        if let Some(previous) = previous {
            input = input.parameters(PREVIOUS_METADATA_LOCATION, previous);
        }
        input.build().map_err(|e| self.invalid(table, e))
    }

    fn invalid(&self, table: &str, e: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Unexpected,
            format!("Glue table {}.{table}: {e}", self.database),
        )
    }

    fn failed<E, R>(&self, operation: &str, table: &str, e: SdkError<E, R>) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        // Throttling, timeouts and 5xx were retried by the SDK already; what is left may
        // still pass on the next delivery.
        Error::new(
            ErrorKind::Unexpected,
            format!(
                "Glue {operation} of {}.{table} failed: {}",
                self.database,
                DisplayErrorContext(&e)
            ),
        )
        .with_retryable(matches!(
            e,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ))
    }
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
