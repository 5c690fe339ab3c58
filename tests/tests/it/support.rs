//! Helpers shared by the integration tests.

use std::sync::Arc;

use chrono::NaiveDate;
use etl_devtools::seed::generate::SeedSpec;

use etl_devtools::seed::{SeedOptions, SeedReport};
use etl_tests::TestDatabase;

/// A fixed end date, so seeded data does not depend on the day the tests run.
pub fn history_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 2).unwrap()
}

pub fn spec(scale: u64, seed: u64) -> SeedSpec {
    SeedSpec {
        scale,
        seed,
        end: history_end(),
    }
}

/// A fresh database seeded with `spec`.
pub async fn seeded(label: &str, spec: SeedSpec) -> (TestDatabase, SeedReport) {
    let db = TestDatabase::create(label).await;
    let mut client = db.connect().await;
    let report = etl_devtools::seed::seed(
        &mut client,
        SeedOptions { spec, force: false },
        |_, _, _| {},
    )
    .await
    .expect("seeding");
    (db, report)
}

/// One number from a query.
pub async fn scalar<T>(client: &tokio_postgres::Client, sql: &str) -> T
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// An order-independent fingerprint of every row of `table`.
pub async fn table_checksum(client: &tokio_postgres::Client, table: &str, key: &str) -> String {
    scalar(
        client,
        &format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY {key})), '') FROM {table} t"
        ),
    )
    .await
}

/// A source row version: table, primary key, `last_updated` in the contract's text form.
pub type RowVersion = (String, i64, String);

/// One landed row.
#[derive(Debug, Clone)]
pub struct LandedRow {
    pub run_id: String,
    pub table: String,
    pub row: serde_json::Map<String, serde_json::Value>,
}

impl LandedRow {
    pub fn version(&self) -> RowVersion {
        let table = etl_contract::catalog::source_table(&self.table).expect("catalog table");
        (
            self.table.clone(),
            self.row[table.primary_key].as_i64().expect("integer key"),
            self.row["last_updated"]
                .as_str()
                .expect("text timestamp")
                .to_string(),
        )
    }
}

/// Every row the landing manifests name, reading nothing else, after checking each part's
/// row count, size and sha256 against its manifest.
pub async fn landed(store: &dyn etl_adapters::ObjectStore) -> Vec<LandedRow> {
    use etl_contract::manifest::{Manifest, sha256_hex};
    let mut rows = Vec::new();
    for key in store
        .list(etl_contract::layout::MANIFESTS_PREFIX)
        .await
        .unwrap()
    {
        let object = store.get(&key).await.unwrap().expect("listed manifest");
        let manifest = Manifest::from_json(&key, &object.bytes).unwrap();
        for (table, files) in &manifest.tables {
            let mut table_rows = 0;
            for part in &files.parts {
                let bytes = store
                    .get(&part.key)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{key} names missing part {}", part.key))
                    .bytes;
                assert_eq!(bytes.len() as u64, part.bytes, "size of {}", part.key);
                assert_eq!(sha256_hex(&bytes), part.sha256, "sha256 of {}", part.key);
                let text = etl_contract::landing::decode_part(&part.key, &bytes).unwrap();
                let text = std::str::from_utf8(&text).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len() as u64, part.rows, "rows of {}", part.key);
                table_rows += part.rows;
                for line in lines {
                    rows.push(LandedRow {
                        run_id: manifest.run_id.to_string(),
                        table: table.clone(),
                        row: serde_json::from_str(line).unwrap(),
                    });
                }
            }
            assert_eq!(table_rows, files.rows, "rows of {table} in {key}");
        }
    }
    rows
}

/// How many times each row version landed.
pub fn version_counts(rows: &[LandedRow]) -> std::collections::BTreeMap<RowVersion, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for row in rows {
        *counts.entry(row.version()).or_insert(0) += 1;
    }
    counts
}

/// Formats a source timestamp the way the landing contract does, independently of the SQL.
pub fn contract_time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current version of every row of the source, optionally only those changed after `after`.
pub async fn source_versions(
    client: &tokio_postgres::Client,
    after: Option<chrono::NaiveDateTime>,
) -> std::collections::BTreeSet<RowVersion> {
    let mut versions = std::collections::BTreeSet::new();
    for table in &etl_contract::catalog::SOURCE_TABLES {
        let rows = client
            .query(
                &format!(
                    "SELECT {}::int8, last_updated FROM {} \
                     WHERE $1::timestamp IS NULL OR last_updated > $1",
                    table.primary_key, table.name
                ),
                &[&after],
            )
            .await
            .unwrap();
        for row in rows {
            versions.insert((
                table.name.to_string(),
                row.get::<_, i64>(0),
                contract_time(row.get(1)),
            ));
        }
    }
    versions
}

/// Extract options for tests over the totesys catalog.
pub fn extract_options() -> extract::ExtractOptions {
    extract::ExtractOptions {
        lookback: std::time::Duration::ZERO,
        ..extract::ExtractOptions::new(&etl_contract::catalog::SOURCE_TABLES)
    }
}

/// Runs one extract invocation against the database at `url` into `store`.
pub async fn run_extract(
    url: &str,
    store: &dyn etl_adapters::ObjectStore,
    options: &extract::ExtractOptions,
) -> Result<extract::ExtractOutcome, extract::ExtractError> {
    etl_tests::postgres::extract(url, store, options).await
}

/// A local store in a fresh temporary directory.
pub fn temp_store() -> (tempfile::TempDir, etl_adapters::store::LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = etl_adapters::store::LocalStore::new(dir.path()).unwrap();
    (dir, store)
}

/// The whole local pipeline over fresh databases and stores, driven stage by stage.
pub struct Pipeline {
    pub source: TestDatabase,
    pub warehouse: TestDatabase,
    pub landing: etl_adapters::store::LocalStore,
    pub processed: etl_adapters::store::LocalStore,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Pipeline {
    /// A source seeded with `spec`, an empty warehouse, empty stores.
    pub async fn new(label: &str, spec: SeedSpec) -> Pipeline {
        let (source, _) = seeded(&format!("{label}_src"), spec).await;
        let warehouse = TestDatabase::create(&format!("{label}_wh")).await;
        let (landing_dir, landing) = temp_store();
        let (processed_dir, processed) = temp_store();
        Pipeline {
            source,
            warehouse,
            landing,
            processed,
            _dirs: (landing_dir, processed_dir),
        }
    }

    /// The stage runner of this pipeline, owned (it can move into a task).
    pub fn stages(&self) -> Stages {
        Stages {
            source_url: self.source.url.clone(),
            warehouse_url: self.warehouse.url.clone(),
            landing: Arc::new(self.landing.clone()),
            processed: Arc::new(self.processed.clone()),
        }
    }

    pub async fn extract(&self) -> extract::ExtractOutcome {
        self.stages().extract().await
    }

    pub async fn transform(&self) -> Vec<transform::TransformOutcome> {
        self.stages().transform().await
    }

    pub async fn load(&self) -> Vec<load::LoadOutcome> {
        self.stages().load().await
    }

    pub async fn run(&self) {
        self.stages().run().await
    }
}

/// The stages over a pipeline's databases and stores (its own, or others in front of them);
/// panics on any stage error.
#[derive(Clone)]
pub struct Stages {
    pub source_url: String,
    pub warehouse_url: String,
    pub landing: Arc<dyn etl_adapters::ObjectStore>,
    pub processed: Arc<dyn etl_adapters::ObjectStore>,
}

impl Stages {
    pub async fn extract(&self) -> extract::ExtractOutcome {
        run_extract(&self.source_url, self.landing.as_ref(), &extract_options())
            .await
            .expect("extract")
    }

    /// Transforms every pending landing run, in order.
    pub async fn transform(&self) -> Vec<transform::TransformOutcome> {
        let mut out = Vec::new();
        for run_id in transform::pending_runs(self.landing.as_ref(), self.processed.as_ref())
            .await
            .unwrap()
        {
            out.push(
                transform::transform_run(&run_id, self.landing.as_ref(), self.processed.as_ref())
                    .await
                    .expect("transform"),
            );
        }
        out
    }

    /// Migrates the warehouse and loads every pending processed run, in order.
    pub async fn load(&self) -> Vec<load::LoadOutcome> {
        let mut client = etl_tests::postgres::connect(&self.warehouse_url).await;
        load::migrate(&mut client).await.expect("migrate");
        let mut out = Vec::new();
        for run_id in load::pending_loads(&client, self.processed.as_ref())
            .await
            .unwrap()
        {
            out.push(
                load::load_run(&mut client, self.processed.as_ref(), &run_id)
                    .await
                    .expect("load"),
            );
        }
        out
    }

    pub async fn run(&self) {
        self.extract().await;
        self.transform().await;
        self.load().await;
    }
}

/// The local runner (`etl run`'s) over a test pipeline's databases and stores, taking at most
/// `row_budget` rows per extract run.
pub async fn local_runner(p: &Pipeline, row_budget: u64) -> etl_cli::local::Local {
    use etl_contract::config::{DatabaseLocator, StoreLocation};
    let config = etl_contract::Config::from_lookup(|_| None).unwrap();
    etl_cli::local::Local::new(etl_contract::Config {
        source: Some(DatabaseLocator::Url(p.source.url.clone())),
        warehouse: Some(DatabaseLocator::Url(p.warehouse.url.clone())),
        landing: Some(StoreLocation::Local(p.landing.root().to_path_buf())),
        processed: Some(StoreLocation::Local(p.processed.root().to_path_buf())),
        row_budget,
        ..config
    })
    .await
    .unwrap()
}
