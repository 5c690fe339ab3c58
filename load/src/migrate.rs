//! Warehouse DDL as versioned migrations (`load/migrations/V<n>__<name>.sql`), applied with
//! refinery at the start of every load. Applying them again is a no-op: refinery records what it
//! applied in `refinery_schema_history` and refuses a changed migration that was already applied.

use etl_adapters::secrets::DatabaseUrl;
use tokio_postgres::Client;

use crate::error::LoadError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Applies the migrations not applied yet; returns the names of those it applied.
pub async fn migrate(client: &mut Client) -> Result<Vec<String>, LoadError> {
    let report = embedded::migrations::runner()
        .run_async(client)
        .await
        .map_err(LoadError::Migrate)?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}
/// The application name load's connections carry.
pub const APPLICATION_NAME: &str = "etl-load";

/// A warehouse connection with the migrations applied: how the Lambda and the local runner
/// both connect.
pub async fn connect(url: &DatabaseUrl, timeout: std::time::Duration) -> Result<Client, LoadError> {
    let mut client = url.connect("warehouse", APPLICATION_NAME, timeout).await?;
    let applied = migrate(&mut client).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = applied.join(", "), "warehouse migrated");
    }
    Ok(client)
}
