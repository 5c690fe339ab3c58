//! Reconciliation: what the warehouse must hold, computed independently by hand-written SQL over
//! the OLTP, in one canonical text form per cell: integers, text, money and booleans as Postgres
//! prints them (`12`, `abc`, `99999999.99`, `true`), dates `YYYY-MM-DD`, times
//! `HH:MM:SS.ffffff`, versions `YYYY-MM-DDTHH:MM:SS.ffffffZ`. The tests compare the rows cell by
//! cell; `etl bench` compares per-table fingerprints computed by the servers ([`compare`]),
//! which stays cheap at millions of rows.

use etl_contract::warehouse::{TableKind, WAREHOUSE_TABLES, WarehouseType, warehouse_table};
use tokio_postgres::Client;

const TS: &str = r#"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#;

/// The expected rows of `table`, from the OLTP alone.
pub fn expected_sql(table: &str) -> Option<String> {
    let t = |c: &str| format!("to_char({c}, 'HH24:MI:SS.US')");
    let v = |c: &str| format!("to_char({c}, {TS})");
    let fact_times = |p: &str| {
        format!(
            "{p}.created_at::date::text, {}, {p}.last_updated::date::text, {}",
            t(&format!("{p}.created_at")),
            t(&format!("{p}.last_updated"))
        )
    };
    Some(match table {
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
        _ => return None,
    })
}

/// What the warehouse table holds, in the canonical forms (surrogate keys left out).
pub fn warehouse_sql(table: &str) -> Option<String> {
    let t = warehouse_table(table)?;
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|c| match c.ty {
            WarehouseType::Time => format!("to_char({}, 'HH24:MI:SS.US')", c.name),
            WarehouseType::Version => format!("to_char({} AT TIME ZONE 'UTC', {TS})", c.name),
            _ => format!("{}::text", c.name),
        })
        .collect();
    Some(format!("SELECT {} FROM {}", columns.join(", "), t.name))
}

/// The SQL of what the warehouse holds for `table` as the OLTP holds it: facts through their
/// `_current` views (the OLTP has only each row's latest version).
pub fn current_sql(table: &str) -> Option<String> {
    let sql = warehouse_sql(table)?;
    Some(match warehouse_table(table)?.kind {
        TableKind::Fact => sql.replace(&format!("FROM {table}"), &format!("FROM {table}_current")),
        TableKind::Dimension => sql,
    })
}

/// A table whose rows differ between the OLTP and the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub table: &'static str,
    pub expected_rows: i64,
    pub actual_rows: i64,
}

/// Row count and an order-independent fingerprint (the sum of each row's hash) of a query's
/// rows: equal for equal multisets of rows, computed without moving the rows.
async fn fingerprint(client: &Client, sql: &str) -> Result<(i64, String), tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(sum(('x' || substr(md5(ROW(q.*)::text), 1, 15))\
                 ::bit(60)::bigint::numeric), 0)::text FROM ({sql}) q"
            ),
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The warehouse tables whose rows differ from what the OLTP says they must be (none: the
/// warehouse reconciles).
pub async fn compare(
    oltp: &Client,
    warehouse: &Client,
) -> Result<Vec<Mismatch>, tokio_postgres::Error> {
    let mut mismatches = Vec::new();
    for table in &WAREHOUSE_TABLES {
        let (Some(expected), Some(actual)) = (expected_sql(table.name), current_sql(table.name))
        else {
            continue;
        };
        let (expected_rows, expected_sum) = fingerprint(oltp, &expected).await?;
        let (actual_rows, actual_sum) = fingerprint(warehouse, &actual).await?;
        if (expected_rows, &expected_sum) != (actual_rows, &actual_sum) {
            mismatches.push(Mismatch {
                table: table.name,
                expected_rows,
                actual_rows,
            });
        }
    }
    Ok(mismatches)
}
