//! The lake's tables without a catalog server: each at `<lake>/<table>/`, its metadata files in
//! `metadata/` and `metadata/version-hint.text` naming the current one. That is the layout
//! DuckDB's `iceberg_scan('<lake>/<table>')` and pyiceberg's `StaticTable` read, and the one a
//! Glue table's `metadata_location` can point into.
//!
//! A commit writes a new metadata file (its name is new: a version and a UUID) and then swaps
//! the hint by compare-and-swap on the version last read (`ObjectStore::put_if_match`), so two
//! writers of one table cannot both win: the loser's commit fails as a conflict and iceberg's
//! transaction retries it on the new current metadata. A metadata file whose swap lost is never
//! named by the hint and is ignored by every reader.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use etl_adapters::store::{ObjectStore, PutOutcome, Version};
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, MetadataLocation, Namespace, NamespaceIdent, Result, TableCommit,
    TableCreation, TableIdent,
};

use crate::storage::{StoreStorage, StoreStorageFactory, store_error};

/// The snapshot summary property that records which run a snapshot appended.
pub const RUN_PROPERTY: &str = "etl.run-id";

const HINT: &str = "metadata/version-hint.text";
const METADATA_SUFFIX: &str = ".metadata.json";

/// The lake's tables in one store.
#[derive(Clone)]
pub struct DirectoryCatalog {
    store: Arc<dyn ObjectStore>,
    /// The location of the store's root, as iceberg writes it into metadata.
    root: String,
    namespace: NamespaceIdent,
    file_io: FileIO,
}

impl std::fmt::Debug for DirectoryCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryCatalog")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// A table's current metadata and the version of the hint that named it.
struct Current {
    table: Table,
    hint: Version,
}

impl DirectoryCatalog {
    /// The tables in `store`, whose root is at `root` (`s3://bucket/prefix` or an absolute
    /// directory path).
    pub fn new(store: Arc<dyn ObjectStore>, root: &str) -> DirectoryCatalog {
        let root = root.trim_end_matches('/').to_owned();
        let storage = StoreStorage::new(store.clone(), root.clone());
        let file_io = FileIOBuilder::new(Arc::new(StoreStorageFactory(storage))).build();
        DirectoryCatalog {
            store,
            root,
            namespace: NamespaceIdent::new("etl".to_owned()),
            file_io,
        }
    }

    pub fn ident(&self, table: &str) -> TableIdent {
        TableIdent::new(self.namespace.clone(), table.to_owned())
    }

    /// Where a table's files are, as iceberg writes it into the table's metadata.
    pub fn location(&self, table: &str) -> String {
        format!("{}/{table}", self.root)
    }

    /// The table, or `None` before its first commit.
    async fn current(&self, ident: &TableIdent) -> Result<Option<Current>> {
        let name = ident.name();
        let hint_key = format!("{name}/{HINT}");
        let Some(hint) = self.store.get(&hint_key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let stem = std::str::from_utf8(&hint.bytes)
            .map(str::trim)
            .map_err(|e| Error::new(ErrorKind::DataInvalid, format!("{hint_key}: {e}")))?;
        let metadata_location = format!("{}/metadata/{stem}{METADATA_SUFFIX}", self.location(name));
        let metadata = TableMetadata::read_from(&self.file_io, &metadata_location).await?;
        let table = self.table(ident, metadata_location, metadata)?;
        Ok(Some(Current {
            table,
            hint: hint.version,
        }))
    }

    fn table(
        &self,
        ident: &TableIdent,
        location: String,
        metadata: TableMetadata,
    ) -> Result<Table> {
        Table::builder()
            .file_io(self.file_io.clone())
            .metadata_location(location)
            .metadata(metadata)
            .identifier(ident.clone())
            .runtime(iceberg::Runtime::try_current()?)
            .build()
    }

    /// The table, created empty with `creation`'s schema when it does not exist yet. Two
    /// creators race on the hint; the loser takes the winner's table.
    pub async fn load_or_create(&self, creation: TableCreation) -> Result<Table> {
        let ident = self.ident(&creation.name);
        if let Some(current) = self.current(&ident).await? {
            return Ok(current.table);
        }
        let location = self.location(&creation.name);
        let metadata = TableMetadataBuilder::from_table_creation(TableCreation {
            location: Some(location.clone()),
            ..creation
        })?
        .build()?
        .metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata.write_to(&self.file_io, &metadata_location).await?;
        let hint_key = format!("{}/{HINT}", ident.name());
        let stem = stem_of(&metadata_location.to_string())?;
        match self
            .store
            .put_if_absent(&hint_key, Bytes::from(stem))
            .await
            .map_err(store_error)?
        {
            PutOutcome::Written(_) => self.table(&ident, metadata_location.to_string(), metadata),
            PutOutcome::ConditionFailed => self.load_table(&ident).await,
        }
    }
}

/// The name a hint records for a metadata file: its file name without `.metadata.json`.
fn stem_of(metadata_location: &str) -> Result<String> {
    metadata_location
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(METADATA_SUFFIX))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                format!("{metadata_location} is not a metadata file"),
            )
        })
}

/// The run ids recorded in a table's snapshots.
pub fn runs_of(table: &Table) -> impl Iterator<Item = &str> {
    table
        .metadata()
        .snapshots()
        .filter_map(|s| s.summary().additional_properties.get(RUN_PROPERTY))
        .map(String::as_str)
}

fn unsupported<T>(what: &str) -> Result<T> {
    Err(Error::new(
        ErrorKind::FeatureUnsupported,
        format!("the lake's directory catalog does not {what}"),
    ))
}

#[async_trait]
impl Catalog for DirectoryCatalog {
    async fn list_namespaces(&self, _: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        Ok(vec![self.namespace.clone()])
    }

    async fn create_namespace(
        &self,
        _: &NamespaceIdent,
        _: HashMap<String, String>,
    ) -> Result<Namespace> {
        unsupported("create namespaces")
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        if *namespace == self.namespace {
            Ok(Namespace::new(namespace.clone()))
        } else {
            unsupported("hold other namespaces")
        }
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        Ok(*namespace == self.namespace)
    }

    async fn update_namespace(&self, _: &NamespaceIdent, _: HashMap<String, String>) -> Result<()> {
        unsupported("update namespaces")
    }

    async fn drop_namespace(&self, _: &NamespaceIdent) -> Result<()> {
        unsupported("drop namespaces")
    }

    async fn list_tables(&self, _: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        unsupported("list tables (the warehouse catalog lists them)")
    }

    async fn create_table(&self, _: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        self.load_or_create(creation).await
    }

    async fn load_table(&self, ident: &TableIdent) -> Result<Table> {
        match self.current(ident).await? {
            Some(current) => Ok(current.table),
            None => Err(Error::new(
                ErrorKind::TableNotFound,
                format!("{} has no lake table yet", ident.name()),
            )),
        }
    }

    async fn drop_table(&self, _: &TableIdent) -> Result<()> {
        unsupported("drop tables")
    }

    async fn purge_table(&self, _: &TableIdent) -> Result<()> {
        unsupported("purge tables")
    }

    async fn table_exists(&self, ident: &TableIdent) -> Result<bool> {
        Ok(self.current(ident).await?.is_some())
    }

    async fn rename_table(&self, _: &TableIdent, _: &TableIdent) -> Result<()> {
        unsupported("rename tables")
    }

    async fn register_table(&self, _: &TableIdent, _: String) -> Result<Table> {
        unsupported("register tables")
    }

    /// Writes the committed metadata and swaps the hint to it. A snapshot for a run the table
    /// already holds is refused (`AlreadyPublished` in the message, not retryable): two
    /// deliveries of one run racing each other append it once.
    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        let ident = commit.identifier().clone();
        let Some(current) = self.current(&ident).await? else {
            return self.load_table(&ident).await;
        };
        let held_ids: BTreeSet<i64> = current
            .table
            .metadata()
            .snapshots()
            .map(|s| s.snapshot_id())
            .collect();
        let held_runs: BTreeSet<String> = runs_of(&current.table).map(str::to_owned).collect();
        let staged = commit.apply(current.table)?;
        let repeats = staged
            .metadata()
            .snapshots()
            .filter(|s| !held_ids.contains(&s.snapshot_id()))
            .filter_map(|s| s.summary().additional_properties.get(RUN_PROPERTY))
            .any(|run| held_runs.contains(run));
        if repeats {
            return Err(Error::new(ErrorKind::DataInvalid, ALREADY_PUBLISHED));
        }
        let location = MetadataLocation::from_str(staged.metadata_location_result()?)?;
        staged.metadata().write_to(&self.file_io, &location).await?;
        let hint_key = format!("{}/{HINT}", ident.name());
        let stem = stem_of(&location.to_string())?;
        match self
            .store
            .put_if_match(&hint_key, Bytes::from(stem), &current.hint)
            .await
            .map_err(store_error)?
        {
            PutOutcome::Written(_) => Ok(staged),
            PutOutcome::ConditionFailed => Err(Error::new(
                ErrorKind::CatalogCommitConflicts,
                format!("{} changed while this commit was made", ident.name()),
            )
            .with_retryable(true)),
        }
    }
}

/// The message of the error a commit of a run the table holds already gets.
pub(crate) const ALREADY_PUBLISHED: &str =
    "AlreadyPublished: the table holds a snapshot of this run";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_names_the_metadata_file_without_its_suffix() {
        assert_eq!(
            stem_of("/lake/t/metadata/00001-0b5a.metadata.json").unwrap(),
            "00001-0b5a"
        );
        assert!(stem_of("/lake/t/metadata/00001.avro").is_err());
    }
}
