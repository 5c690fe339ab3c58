//! Applying `schema/<table>.json`: creating the table, or evolving it as
//! [`crate::declaration::evolve`] allows, in one transaction with the registry row and the log.

use chrono::Utc;
use serde_json::Value;
use tokio_postgres::{Client, GenericClient};

use etl_adapters::store::{Entry, ObjectStore};

use crate::apply::{LogRow, begin, version_of, write_log};
use crate::declaration::{BadRows, Declaration, evolve};
use crate::error::InboxError;
use crate::sql;

/// What applying a declaration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created,
    /// The statements that changed the table (none: the declaration changed only its checks,
    /// actions or bad-rows policy).
    Evolved(Vec<String>),
}

/// The declarations in force, by table.
pub async fn declarations(
    client: &impl GenericClient,
) -> Result<std::collections::BTreeMap<String, Declaration>, InboxError> {
    let rows = client
        .query(
            "SELECT table_name, declaration FROM inbox.etl_inbox_tables",
            &[],
        )
        .await
        .map_err(InboxError::query("-", "reading the declarations"))?;
    let mut out = std::collections::BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        let json: Value = row.get(1);
        let declaration = stored(&table, &json)?;
        out.insert(table, declaration);
    }
    Ok(out)
}

/// A declaration as the registry stores it.
pub fn stored(table: &str, json: &Value) -> Result<Declaration, InboxError> {
    Declaration::parse(table, json.to_string().as_bytes()).map_err(|e| InboxError::Internal {
        file: format!("inbox.etl_inbox_tables ({table})"),
        reason: format!("the stored declaration does not parse: {e}"),
    })
}

/// Applies the declaration at `entry` (`schema/<table>.json`). `Ok(None)`: this version was
/// applied (or refused) before.
pub async fn apply(
    client: &mut Client,
    store: &dyn ObjectStore,
    source: &str,
    table: &str,
    entry: &Entry,
) -> Result<Option<Applied>, InboxError> {
    let started = Utc::now();
    let key = entry.key.as_str();
    let version = version_of(entry);
    let Some(object) = store.get(key).await.map_err(InboxError::store(key))? else {
        return Err(InboxError::Rejected {
            file: key.to_owned(),
            reason: "the object no longer exists in the inbox".into(),
        });
    };
    let next = Declaration::parse(table, &object.bytes).map_err(|e| InboxError::Rejected {
        file: key.to_owned(),
        reason: e.to_string(),
    })?;
    let Some(tx) = begin(client, table, source, key, &version).await? else {
        return Ok(None);
    };
    let current = tx
        .query_opt(
            "SELECT declaration FROM inbox.etl_inbox_tables WHERE table_name = $1",
            &[&table],
        )
        .await
        .map_err(InboxError::query(key, "reading the declaration in force"))?
        .map(|row| stored(table, &row.get::<_, Value>(0)))
        .transpose()?;
    let (applied, statements) = match &current {
        None => (Applied::Created, vec![sql::create_table(&next)]),
        Some(current) => {
            let evolution = evolve(current, &next).map_err(|e| InboxError::Rejected {
                file: key.to_owned(),
                reason: e.to_string(),
            })?;
            let statements = sql::evolve(&next, &evolution);
            (Applied::Evolved(statements.clone()), statements)
        }
    };
    let mut statements = statements;
    if next.bad_rows == BadRows::ErrorTable {
        statements.push(sql::create_errors_table(table));
    }
    for statement in &statements {
        tx.batch_execute(statement)
            .await
            .map_err(InboxError::query(key, "changing the table"))?;
    }
    tx.execute(
        "INSERT INTO inbox.etl_inbox_tables (table_name, declaration, schema_file, schema_version) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (table_name) DO UPDATE SET \
         declaration = EXCLUDED.declaration, schema_file = EXCLUDED.schema_file, \
         schema_version = EXCLUDED.schema_version, updated_at = now()",
        &[&table, &next.to_json(), &key, &version],
    )
    .await
    .map_err(InboxError::query(key, "recording the declaration"))?;
    write_log(
        &tx,
        &LogRow {
            source,
            file: key,
            version: &version,
            action: "schema",
            table,
            rows_loaded: 0,
            rows_rejected: 0,
            checks: Value::Array(Vec::new()),
            status: "applied",
            reason: None,
            alerted: true,
            started,
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(InboxError::query(key, "committing"))?;
    tracing::info!(file = key, table, ?applied, "declaration applied");
    Ok(Some(applied))
}
