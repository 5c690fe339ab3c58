//! Reconciliation: what the warehouse must hold, computed independently by hand-written SQL over
//! the OLTP, compared cell by cell with the Parquet transform writes and the tables load fills.
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
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub type Rows = Vec<Vec<String>>;

const NULL: &str = "∅";
const TS: &str = r#"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#;

/// The expected rows of `table`, from the OLTP alone.
pub fn expected_sql(table: &str) -> String {
    let t = |c: &str| format!("to_char({c}, 'HH24:MI:SS.US')");
    let v = |c: &str| format!("to_char({c}, {TS})");
    let fact_times = |p: &str| {
        format!(
            "{p}.created_at::date::text, {}, {p}.last_updated::date::text, {}",
            t(&format!("{p}.created_at")),
            t(&format!("{p}.last_updated"))
        )
    };
    match table {
        "dim_date" => "WITH d AS ( \
              SELECT created_at::date AS d FROM sales_order UNION SELECT last_updated::date FROM sales_order \
              UNION SELECT agreed_payment_date::date FROM sales_order UNION SELECT agreed_delivery_date::date FROM sales_order \
              UNION SELECT created_at::date FROM purchase_order UNION SELECT last_updated::date FROM purchase_order \
              UNION SELECT agreed_payment_date::date FROM purchase_order UNION SELECT agreed_delivery_date::date FROM purchase_order \
              UNION SELECT created_at::date FROM payment UNION SELECT last_updated::date FROM payment \
              UNION SELECT payment_date::date FROM payment) \
            SELECT d::text, extract(year FROM d)::int::text, extract(month FROM d)::int::text, \
                   extract(day FROM d)::int::text, extract(isodow FROM d)::int::text, \
                   to_char(d, 'FMDay'), to_char(d, 'FMMonth'), extract(quarter FROM d)::int::text FROM d"
            .into(),
        "dim_staff" => format!(
            "SELECT s.staff_id::text, s.first_name, s.last_name, d.department_name, d.location, \
                    s.email_address, {} \
             FROM staff s JOIN department d USING (department_id)",
            v("greatest(s.last_updated, d.last_updated)")
        ),
        "dim_location" => format!(
            "SELECT address_id::text, address_line_1, address_line_2, district, city, postal_code, \
                    country, phone, {} FROM address",
            v("last_updated")
        ),
        "dim_design" => format!(
            "SELECT design_id::text, design_name, file_location, file_name, {} FROM design",
            v("last_updated")
        ),
        "dim_currency" => format!(
            "SELECT currency_id::text, currency_code, \
                    CASE currency_code WHEN 'GBP' THEN 'Pound Sterling' WHEN 'USD' THEN 'US Dollar' \
                                       WHEN 'EUR' THEN 'Euro' END, {} FROM currency",
            v("last_updated")
        ),
        "dim_counterparty" => format!(
            "SELECT c.counterparty_id::text, c.counterparty_legal_name, a.address_line_1, \
                    a.address_line_2, a.district, a.city, a.postal_code, a.country, a.phone, {} \
             FROM counterparty c JOIN address a ON a.address_id = c.legal_address_id",
            v("greatest(c.last_updated, a.last_updated)")
        ),
        "dim_payment_type" => format!(
            "SELECT payment_type_id::text, payment_type_name::text, {} FROM payment_type",
            v("last_updated")
        ),
        "dim_transaction" => format!(
            "SELECT transaction_id::text, transaction_type::text, sales_order_id::text, \
                    purchase_order_id::text, {} FROM transaction",
            v("last_updated")
        ),
        "fact_sales_order" => format!(
            "SELECT so.sales_order_id::text, {}, so.staff_id::text, so.counterparty_id::text, \
                    so.units_sold::text, so.unit_price::text, so.currency_id::text, \
                    so.design_id::text, so.agreed_payment_date::date::text, \
                    so.agreed_delivery_date::date::text, so.agreed_delivery_location_id::text \
             FROM sales_order so",
            fact_times("so")
        ),
        "fact_purchase_order" => format!(
            "SELECT po.purchase_order_id::text, {}, po.staff_id::text, po.counterparty_id::text, \
                    po.item_code, po.item_quantity::text, po.item_unit_price::text, \
                    po.currency_id::text, po.agreed_delivery_date::date::text, \
                    po.agreed_payment_date::date::text, po.agreed_delivery_location_id::text \
             FROM purchase_order po",
            fact_times("po")
        ),
        "fact_payment" => format!(
            "SELECT p.payment_id::text, {}, p.transaction_id::text, p.counterparty_id::text, \
                    p.payment_amount::text, p.currency_id::text, p.payment_type_id::text, \
                    p.paid::text, p.payment_date::date::text FROM payment p",
            fact_times("p")
        ),
        other => panic!("no expected SQL for {other}"),
    }
}

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

/// What the warehouse table holds, in the canonical forms (surrogate keys left out).
pub fn warehouse_sql(table: &str) -> String {
    let t = warehouse_table(table).expect("warehouse table");
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|c| match c.ty {
            WarehouseType::Time => format!("to_char({}, 'HH24:MI:SS.US')", c.name),
            WarehouseType::Version => format!("to_char({} AT TIME ZONE 'UTC', {TS})", c.name),
            _ => format!("{}::text", c.name),
        })
        .collect();
    format!("SELECT {} FROM {}", columns.join(", "), t.name)
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
        let expected = text_rows(oltp, &expected_sql(table.name)).await;
        let sql = if table.name.starts_with("fact_") {
            warehouse_sql(table.name).replace(
                &format!("FROM {}", table.name),
                &format!("FROM {}_current", table.name),
            )
        } else {
            warehouse_sql(table.name)
        };
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
}

/// A checksum of every warehouse table's rows (surrogate keys left out), for before/after checks.
pub async fn warehouse_checksums(warehouse: &tokio_postgres::Client) -> BTreeMap<String, String> {
    let mut sums = BTreeMap::new();
    for table in &WAREHOUSE_TABLES {
        let rows = text_rows(warehouse, &warehouse_sql(table.name)).await;
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
