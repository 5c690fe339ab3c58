//! The lake as its users read it: every table through DuckDB (the views of `lake/sql/duckdb.sql`,
//! which docs/lake.md gives users) and through pyiceberg's `StaticTable`, both from the
//! project's .venv (`scripts/ensure-tools.sh moto`), and the warehouse's tables and reports in
//! the same shape, so the two compare cell by cell.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use etl_adapters::ObjectStore;
use etl_contract::RunId;
use etl_contract::layout::{MANIFESTS_PREFIX, run_id_of_manifest_key};
use etl_contract::warehouse::{DIMENSION_VERSION, TableKind, WAREHOUSE_TABLES, WarehouseType};

/// A table's rows, each cell as text (`None` for NULL): timestamps and times of day as
/// microseconds, money with two decimals, dates ISO. Sorted.
pub type Rows = Vec<Vec<Option<String>>>;

/// The report views and their columns, as text in Postgres.
const REPORTS: [(&str, &[(&str, &str)]); 2] = [
    (
        "report_monthly_sales",
        &[
            ("month", "month::text"),
            ("currency_code", "currency_code"),
            ("counterparty_country", "counterparty_country"),
            ("orders", "orders::text"),
            ("units_sold", "units_sold::text"),
            ("sales_value", "sales_value::text"),
        ],
    ),
    (
        "report_payments_outstanding",
        &[
            ("payment_id", "payment_id::text"),
            ("transaction_type", "transaction_type"),
            ("counterparty_legal_name", "counterparty_legal_name"),
            ("currency_code", "currency_code"),
            ("payment_amount", "payment_amount::text"),
            ("payment_date", "payment_date::text"),
            ("days_overdue", "days_overdue::text"),
        ],
    ),
];

/// One table of the lake as both readers see it.
#[derive(Debug)]
pub struct LakeTable {
    pub duckdb: Rows,
    pub pyiceberg: Rows,
    /// The run id each snapshot records, sorted.
    pub runs: Vec<String>,
    /// Where the catalog says the current metadata is (Glue readings only).
    pub metadata_location: Option<String>,
}

/// What the lake holds: its tables, and the report views through DuckDB.
#[derive(Debug)]
pub struct LakeRead {
    pub tables: BTreeMap<String, LakeTable>,
    pub reports: BTreeMap<String, Rows>,
    /// Each table through the Athena views (terraform/sql/athena_views.sql) run in DuckDB:
    /// a dimension's `_current`, a fact's `_versions` (empty for Glue readings).
    pub athena_tables: BTreeMap<String, Rows>,
    /// The report views as the Athena views define them.
    pub athena_reports: BTreeMap<String, Rows>,
}

/// The warehouse's tables (their current state) and report views.
#[derive(Debug)]
pub struct WarehouseRead {
    pub tables: BTreeMap<String, Rows>,
    pub reports: BTreeMap<String, Rows>,
}

fn workspace_file(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn sorted(value: &serde_json::Value) -> Rows {
    let mut rows: Rows = serde_json::from_value(value.clone()).unwrap();
    rows.sort();
    rows
}

/// The lake at `root`, read by DuckDB and pyiceberg. Panics, saying how to install them, when
/// the readers are missing: a lake test fails, never skips.
pub fn read_lake(root: &Path) -> LakeRead {
    let views = workspace_file("lake/sql/duckdb.sql");
    run_reader(&[root.as_os_str(), views.as_os_str()])
}

/// The lake registered in Glue database `database` of the moto server at `endpoint`, read by
/// pyiceberg's Glue catalog (no DuckDB reading, no reports).
pub fn read_lake_from_glue(endpoint: &str, database: &str) -> LakeRead {
    run_reader(&["--glue".as_ref(), endpoint.as_ref(), database.as_ref()])
}

/// Runs tests/fixtures/read_lake.py with `args` and then the tables' spec.
fn run_reader(args: &[&std::ffi::OsStr]) -> LakeRead {
    let tables: Vec<serde_json::Value> = WAREHOUSE_TABLES
        .iter()
        .map(|t| {
            let version = (t.kind == TableKind::Dimension && t.column(DIMENSION_VERSION).is_some())
                .then_some(DIMENSION_VERSION);
            serde_json::json!({
                "name": t.name,
                "columns": t.columns.iter().map(|c| c.name).collect::<Vec<_>>(),
                "key": t.key,
                "version": version,
                "fact": t.kind == TableKind::Fact,
            })
        })
        .collect();
    let reports: serde_json::Map<String, serde_json::Value> = REPORTS
        .iter()
        .map(|(name, columns)| {
            let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            (name.to_string(), serde_json::json!(names))
        })
        .collect();
    let spec = tempfile::NamedTempFile::new().unwrap();
    let athena_views = workspace_file("terraform/sql/athena_views.sql");
    let body =
        serde_json::json!({ "tables": tables, "reports": reports, "athena_views": athena_views });
    std::fs::write(spec.path(), serde_json::to_vec(&body).unwrap()).unwrap();
    let output = Command::new("python")
        .arg(workspace_file("tests/fixtures/read_lake.py"))
        .args(args)
        .arg(spec.path())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python ({e}): run the tests with `make test`, which installs DuckDB \
                 and pyiceberg into the project's .venv and puts .venv/bin on PATH"
            )
        });
    assert!(
        output.status.success(),
        "reading the lake with DuckDB and pyiceberg failed (installed by \
         `scripts/ensure-tools.sh moto` into .venv):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tables = read["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let table = LakeTable {
                duckdb: sorted(&v["duckdb"]),
                pyiceberg: sorted(&v["pyiceberg"]),
                runs: serde_json::from_value(v["runs"].clone()).unwrap(),
                metadata_location: v["metadata_location"].as_str().map(str::to_owned),
            };
            (name.clone(), table)
        })
        .collect();
    let reports = read["reports"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, rows)| (name.clone(), sorted(rows)))
        .collect();
    let athena = |part: &str| -> BTreeMap<String, Rows> {
        read["athena"][part]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(name, rows)| (name.clone(), sorted(rows)))
                    .collect()
            })
            .unwrap_or_default()
    };
    LakeRead {
        tables,
        reports,
        athena_tables: athena("tables"),
        athena_reports: athena("reports"),
    }
}

/// The processed runs, in commit order.
pub async fn processed_runs(processed: &dyn ObjectStore) -> Vec<RunId> {
    processed
        .list(MANIFESTS_PREFIX)
        .await
        .unwrap()
        .iter()
        .filter_map(|k| run_id_of_manifest_key(k))
        .collect()
}

async fn rows(client: &tokio_postgres::Client, sql: &str, width: usize) -> Rows {
    let mut rows: Rows = client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (0..width).map(|i| row.get(i)).collect())
        .collect();
    rows.sort();
    rows
}

/// The warehouse in the lake's shape: each table's rows (a fact's versions without the
/// surrogate key the warehouse assigns) and each report view's.
pub async fn warehouse_state(client: &tokio_postgres::Client) -> WarehouseRead {
    let mut tables = BTreeMap::new();
    for table in &WAREHOUSE_TABLES {
        let cells: Vec<String> = table
            .columns
            .iter()
            .map(|c| match c.ty {
                WarehouseType::Time | WarehouseType::Version => format!(
                    "(extract(epoch from \"{}\") * 1000000)::bigint::text",
                    c.name
                ),
                _ => format!("\"{}\"::text", c.name),
            })
            .collect();
        let sql = format!("SELECT {} FROM {}", cells.join(", "), table.name);
        tables.insert(
            table.name.to_owned(),
            rows(client, &sql, table.columns.len()).await,
        );
    }
    let mut reports = BTreeMap::new();
    for (name, columns) in REPORTS {
        let cells: Vec<&str> = columns.iter().map(|(_, sql)| *sql).collect();
        let sql = format!("SELECT {} FROM {name}", cells.join(", "));
        reports.insert(name.to_owned(), rows(client, &sql, columns.len()).await);
    }
    WarehouseRead { tables, reports }
}
