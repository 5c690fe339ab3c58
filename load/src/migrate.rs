//! Warehouse DDL as versioned migrations (`load/migrations/V<n>__<name>.sql`), applied with
//! refinery at the start of every load. Applying them again is a no-op: refinery records what it
//! applied in `refinery_schema_history` and refuses a changed migration that was already applied.

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
