//! The source connection, as the Lambda and the local runner both open it.

use etl_adapters::secrets::DatabaseUrl;
use tokio_postgres::Client;

use crate::error::ExtractError;

/// The application name extract's connections carry (seen in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "etl-extract";

/// A source connection: how the Lambda and the local runner both connect.
pub async fn connect(
    url: &DatabaseUrl,
    timeout: std::time::Duration,
) -> Result<Client, ExtractError> {
    Ok(url.connect("source", APPLICATION_NAME, timeout).await?)
}

/// Where extract opens its reader connections: the coordinator's URL and connect timeout.
/// Each [`Source::connect`] is a new session as the same role in the same database, which is
/// what importing the coordinator's snapshot requires.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub url: &'a DatabaseUrl,
    pub timeout: std::time::Duration,
}

impl Source<'_> {
    pub async fn connect(&self) -> Result<Client, ExtractError> {
        connect(self.url, self.timeout).await
    }
}
