//! The inbox under test: a local inbox directory and a warehouse, driven as `etl run --stage
//! inbox` drives it, and the files the tests drop (the issue's declaration, a vendor file with
//! three bad rows).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use etl_cli::local::{Local, Stages};
use etl_contract::config::{DatabaseLocator, StoreLocation};

use crate::TestDatabase;

/// The declaration of `customers` (error table, three checks), as `schema/customers.json`.
pub const CUSTOMERS: &str = r#"{"table": "customers", "columns": [
    {"name": "id", "type": "integer", "nullable": false}, {"name": "name", "type": "text"},
    {"name": "balance", "type": "numeric(12,2)"}, {"name": "joined", "type": "date"}],
    "primary_key": ["id"], "allowed_actions": ["append", "truncate", "upsert"],
    "bad_rows": "error_table",
    "checks": [{"column": "balance", "min": 0}, {"column": "id", "unique": true}, {"min_rows": 1}]}"#;

/// The same declaration rejecting a file with any bad row.
pub fn customers_rejecting_files() -> String {
    CUSTOMERS.replace("\"error_table\"", "\"reject_file\"")
}

/// A CSV of 1,000 customers, three of them bad: line 11 (a third decimal), line 501 (a 13th
/// month) and line 1001 (an id that is no number).
pub fn thousand_rows_three_bad() -> String {
    let mut csv = String::from("id,name,balance,joined\n");
    for i in 1..=1000 {
        let line = match i {
            10 => format!("{i},n{i},12.345,2024-01-01\n"),
            500 => format!("{i},n{i},5.00,2024-13-01\n"),
            1000 => "x1000,n1000,5.00,2024-01-01\n".to_owned(),
            _ => format!("{i},n{i},{}.{:02},2024-01-01\n", i, i % 100),
        };
        csv.push_str(&line);
    }
    csv
}

/// A local inbox and its warehouse.
pub struct Inbox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub warehouse: TestDatabase,
    pub local: Local,
}

impl Inbox {
    pub async fn new(label: &str) -> Inbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("inbox");
        let warehouse = TestDatabase::create(label).await;
        let config = etl_contract::Config::from_lookup(|_| None).unwrap();
        let local = Local::new(etl_contract::Config {
            warehouse: Some(DatabaseLocator::Url(warehouse.url.clone())),
            inbox: Some(StoreLocation::Local(root.clone())),
            landing: Some(StoreLocation::Local(dir.path().join("landing"))),
            processed: Some(StoreLocation::Local(dir.path().join("processed"))),
            ..config
        })
        .await
        .unwrap();
        Inbox {
            _dir: dir,
            root,
            warehouse,
            local,
        }
    }

    /// Drops `bytes` at `key`, arriving at `arrival` seconds after a fixed instant (so the
    /// order of arrival is the test's, not the clock's).
    pub fn drop_at(&self, key: &str, bytes: impl AsRef<[u8]>, arrival: u64) {
        let path = self.root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + arrival))
            .unwrap();
    }

    pub async fn run(&self) -> Vec<inbox::FileResult> {
        self.local.cycle(Stages::Inbox).await.unwrap().inbox
    }

    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let client = self.warehouse.connect().await;
        client
            .query(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.get::<_, Option<String>>(i)
                            .unwrap_or_else(|| "NULL".into())
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    pub async fn customers(&self) -> Vec<String> {
        self.rows(
            "SELECT id::text, name, balance::text, joined::text FROM inbox.customers ORDER BY id",
        )
        .await
    }
}
