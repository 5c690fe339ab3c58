//! The lake's tables: each at `<lake>/<table>/`, its metadata files in `metadata/`, and one
//! pointer naming the current one. Without a catalog server (a directory, or S3 read by
//! DuckDB and pyiceberg) the pointer is `metadata/version-hint.text`, the layout DuckDB's
//! `iceberg_scan('<lake>/<table>')` and pyiceberg's `StaticTable` read. With a Glue database
//! (`ETL_LAKE_GLUE_DATABASE`) it is the Glue table's `metadata_location` (crate::glue), where
//! Athena and Spectrum look.
//!
//! A commit writes a new metadata file (its name is new: a version and a UUID) and then swaps
//! the pointer by compare-and-swap on the version last read (the hint's `put_if_match`, Glue's
//! `VersionId`), so two writers of one table cannot both win: the loser's commit fails as a
//! conflict and iceberg's transaction retries it on the new current metadata. A metadata file
//! whose swap lost is never named by the pointer and is ignored by every reader.

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

use crate::glue::{GlueCurrent, GlueTables};
use crate::storage::{StoreStorage, StoreStorageFactory, store_error};

/// The snapshot summary property that records which run a snapshot appended.
pub const RUN_PROPERTY: &str = "etl.run-id";

const HINT: &str = "metadata/version-hint.text";
const METADATA_SUFFIX: &str = ".metadata.json";

/// The lake's tables in one store.
#[derive(Clone)]
pub struct LakeCatalog {
    store: Arc<dyn ObjectStore>,
    /// Where the tables' pointers are kept: Glue when set, else each table's hint.
    glue: Option<GlueTables>,
    /// The location of the store's root, as iceberg writes it into metadata.
    root: String,
    namespace: NamespaceIdent,
    file_io: FileIO,
}

impl std::fmt::Debug for LakeCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeCatalog")
            .field("root", &self.root)
            .field("glue", &self.glue.as_ref().map(GlueTables::database))
            .finish_non_exhaustive()
    }
}

/// A table's current metadata and the version of the pointer that named it.
struct Current {
    table: Table,
    pointer: Pointer,
}

/// The pointer's version a commit swaps from.
enum Pointer {
    Hint(Version),
    Glue(GlueCurrent),
}

impl LakeCatalog {
    /// The tables in `store`, whose root is at `root` (`s3://bucket/prefix` or an absolute
    /// directory path), registered in `glue` when given.
    pub fn new(store: Arc<dyn ObjectStore>, root: &str, glue: Option<GlueTables>) -> LakeCatalog {
        let root = root.trim_end_matches('/').to_owned();
        let storage = StoreStorage::new(store.clone(), root.clone());
        let file_io = FileIOBuilder::new(Arc::new(StoreStorageFactory(storage))).build();
        LakeCatalog {
            store,
            glue,
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
        if let Some(glue) = &self.glue {
            let Some(current) = glue.current(name).await? else {
                return Ok(None);
            };
            let location = current.metadata_location.clone();
            let metadata = TableMetadata::read_from(&self.file_io, &location).await?;
            return Ok(Some(Current {
                table: self.table(ident, location, metadata)?,
                pointer: Pointer::Glue(current),
            }));
        }
        let hint_key = hint_key(name);
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
            pointer: Pointer::Hint(hint.version),
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
        let metadata_location = metadata_location.to_string();
        let created = match &self.glue {
            Some(glue) => {
                glue.create(ident.name(), &location, &metadata_location)
                    .await?
            }
            None => matches!(
                self.store
                    .put_if_absent(
                        &hint_key(ident.name()),
                        Bytes::from(stem_of(&metadata_location)?)
                    )
                    .await
                    .map_err(store_error)?,
                PutOutcome::Written(_)
            ),
        };
        if created {
            self.table(&ident, metadata_location, metadata)
        } else {
            self.load_table(&ident).await
        }
    }

    /// Moves the table's pointer from `from` to `metadata_location`; `false` when it moved since.
    async fn swap(&self, name: &str, from: &Pointer, metadata_location: &str) -> Result<bool> {
        match (from, &self.glue) {
            (Pointer::Glue(current), Some(glue)) => {
                glue.swap(name, &self.location(name), current, metadata_location)
                    .await
            }
            (Pointer::Hint(version), None) => Ok(matches!(
                self.store
                    .put_if_match(
                        &hint_key(name),
                        Bytes::from(stem_of(metadata_location)?),
                        version
                    )
                    .await
                    .map_err(store_error)?,
                PutOutcome::Written(_)
            )),
            // `current` reads the pointer this catalog keeps, so the two always agree.
            (Pointer::Glue(_), None) | (Pointer::Hint(_), Some(_)) => Err(Error::new(
                ErrorKind::Unexpected,
                format!("{name}: a pointer of the other kind"),
            )),
        }
    }
}

/// Where a table's hint is, relative to the lake's root.
fn hint_key(table: &str) -> String {
    format!("{table}/{HINT}")
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
        format!("the lake's catalog does not {what}"),
    ))
}

#[async_trait]
impl Catalog for LakeCatalog {
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
        if self
            .swap(ident.name(), &current.pointer, &location.to_string())
            .await?
        {
            Ok(staged)
        } else {
            Err(Error::new(
                ErrorKind::CatalogCommitConflicts,
                format!("{} changed while this commit was made", ident.name()),
            )
            .with_retryable(true))
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
