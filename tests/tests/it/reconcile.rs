//! Reconciliation: what the warehouse must hold, computed independently by hand-written SQL over
//! the OLTP (`etl_devtools::reconcile`), compared cell by cell with the Parquet transform writes
//! and the tables load fills.
//!
//! Every cell is compared in one canonical text form: integers, text, money and booleans as
//! Postgres prints them (`12`, `abc`, `99999999.99`, `true`), dates `YYYY-MM-DD`, times
//! `HH:MM:SS.ffffff`, versions `YYYY-MM-DDTHH:MM:SS.ffffffZ`, NULL as `∅`.

use std::collections::BTreeMap;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Time64MicrosecondType, TimestampMicrosecondType,
};
use etl_contract::warehouse::{WAREHOUSE_TABLES, WarehouseType, warehouse_table};
pub use etl_devtools::reconcile::{current_sql, expected_sql, warehouse_sql};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub type Rows = Vec<Vec<String>>;

const NULL: &str = "∅";

/// Runs a query whose columns are all text (or NULL) and returns its rows sorted.
pub async fn text_rows(client: &tokio_postgres::Client, sql: &str) -> Rows {
    let mut rows: Rows = client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .unwrap_or_else(|| NULL.into())
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// The rows of a processed Parquet file, in the canonical forms.
pub fn parquet_rows(table: &str, bytes: bytes::Bytes) -> Rows {
    let t = warehouse_table(table).expect("warehouse table");
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for row in 0..batch.num_rows() {
            let cells = t
                .columns
                .iter()
                .map(|c| {
                    let a = batch.column_by_name(c.name).unwrap();
                    if a.is_null(row) {
                        return NULL.to_string();
                    }
                    match c.ty {
                        WarehouseType::Int => a.as_primitive::<Int32Type>().value(row).to_string(),
                        WarehouseType::Text => a.as_string::<i32>().value(row).to_string(),
                        WarehouseType::Bool => a.as_boolean().value(row).to_string(),
                        WarehouseType::Date => (epoch
                            + chrono::Duration::days(
                                a.as_primitive::<Date32Type>().value(row).into(),
                            ))
                        .to_string(),
                        WarehouseType::Time => (chrono::NaiveTime::MIN
                            + chrono::Duration::microseconds(
                                a.as_primitive::<Time64MicrosecondType>().value(row),
                            ))
                        .format("%H:%M:%S%.6f")
                        .to_string(),
                        WarehouseType::Money => {
                            let cents = a.as_primitive::<Decimal128Type>().value(row);
                            let sign = if cents < 0 { "-" } else { "" };
                            format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
                        }
                        WarehouseType::Version => chrono::DateTime::from_timestamp_micros(
                            a.as_primitive::<TimestampMicrosecondType>().value(row),
                        )
                        .unwrap()
                        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                        .to_string(),
                    }
                })
                .collect();
            rows.push(cells);
        }
    }
    rows.sort();
    rows
}

/// Compares the whole warehouse with the OLTP, table by table; facts compare every version
/// (the OLTP holds the latest version, so for facts `current_only` compares the `_current`
/// views instead, and checks no version is stored twice).
pub async fn assert_warehouse_reconciles(
    oltp: &tokio_postgres::Client,
    warehouse: &tokio_postgres::Client,
) {
    for table in &WAREHOUSE_TABLES {
        let expected = text_rows(oltp, &expected_sql(table.name).unwrap()).await;
        let sql = current_sql(table.name).unwrap();
        let actual = text_rows(warehouse, &sql).await;
        assert_eq!(
            actual.len(),
            expected.len(),
            "row count of {} differs from the OLTP",
            table.name
        );
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a, e, "{} differs from the OLTP", table.name);
        }
    }
    // The bench's cheap check agrees with the cell-by-cell one.
    assert_eq!(
        etl_devtools::reconcile::compare(oltp, warehouse)
            .await
            .unwrap(),
        []
    );
}

/// A checksum of every warehouse table's rows (surrogate keys left out), for before/after checks.
pub async fn warehouse_checksums(warehouse: &tokio_postgres::Client) -> BTreeMap<String, String> {
    let mut sums = BTreeMap::new();
    for table in &WAREHOUSE_TABLES {
        let rows = text_rows(warehouse, &warehouse_sql(table.name).unwrap()).await;
        let text = rows
            .iter()
            .map(|r| r.join("\u{1f}"))
            .collect::<Vec<_>>()
            .join("\u{1e}");
        sums.insert(
            table.name.to_string(),
            format!(
                "{}:{}",
                rows.len(),
                etl_contract::manifest::sha256_hex(text.as_bytes())
            ),
        );
    }
    sums
}
