//! The Athena views of the lake, generated from the warehouse catalog: each table's current
//! state (`<table>_current`), each fact's distinct versions (`<fact>_versions`) and the two
//! reports. Terraform turns each statement of `terraform/sql/athena_views.sql` into a named
//! query (terraform/lake.tf); a unit test keeps that file equal to [`views`], and the tests run
//! it in DuckDB over the lake and compare every view with the Postgres warehouse.
//!
//! The SQL is the part of Trino's dialect DuckDB also speaks (no `QUALIFY`, no `::` casts,
//! `date_diff` for day counts), and columns are listed so a view has exactly the warehouse
//! table's columns.

use etl_contract::warehouse::{DIMENSION_VERSION, TableKind, WAREHOUSE_TABLES, WarehouseTable};

/// Every view, in dependency order, as the file Terraform reads.
pub fn views() -> String {
    let mut sql = String::from(HEADER);
    for table in WAREHOUSE_TABLES.iter() {
        sql.push('\n');
        sql.push_str(&table_views(table));
    }
    sql.push('\n');
    sql.push_str(REPORTS);
    sql
}

const HEADER: &str = "\
-- Generated from the warehouse catalog by lake/src/athena.rs: do not edit (its unit test says how
-- to regenerate). The warehouse's current state and reports as Athena views over the lake's
-- Iceberg tables (docs/lake.md). Terraform makes each statement a named query in the lake's
-- workgroup (terraform/lake.tf): run them once, and again after this file changes. The tests run
-- this file in DuckDB over the lake and compare every view with the Postgres warehouse.
--
-- A lake table holds every run's rows as appended: a dimension's versions, a fact version once
-- per run that read it. These views give what the warehouse keeps.
";

fn table_views(table: &WarehouseTable) -> String {
    let columns = table
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ");
    let name = table.name;
    let newest = |order: &str, from: &str| {
        format!(
            "SELECT {columns}\nFROM (\n  SELECT *, row_number() OVER (PARTITION BY {} ORDER BY \
             {order}) AS version_rank\n  FROM {from}\n) AS versions\nWHERE version_rank = 1;\n",
            table.key
        )
    };
    match table.kind {
        TableKind::Dimension if table.column(DIMENSION_VERSION).is_some() => format!(
            "-- Each {}'s newest source version, as the warehouse's upsert keeps it.\n\
             CREATE OR REPLACE VIEW {name}_current AS\n{}",
            table.key,
            newest(&format!("{DIMENSION_VERSION} DESC"), name)
        ),
        // The calendar has no version: one row per date, whichever runs wrote it.
        TableKind::Dimension => format!(
            "-- One row per date, whichever runs wrote it.\n\
             CREATE OR REPLACE VIEW {name}_current AS\nSELECT DISTINCT {columns}\nFROM {name};\n"
        ),
        TableKind::Fact => format!(
            "-- Every captured version once.\n\
             CREATE OR REPLACE VIEW {name}_versions AS\nSELECT DISTINCT {columns}\nFROM {name};\n\n\
             -- Each {}'s newest version (the warehouse's {name}_current).\n\
             CREATE OR REPLACE VIEW {name}_current AS\n{}",
            table.key,
            newest(
                "last_updated_date DESC, last_updated_time DESC",
                &format!("{name}_versions")
            )
        ),
    }
}

/// The warehouse's reports (load/migrations/V2__views.sql) over the views above.
const REPORTS: &str = "\
-- The warehouse's reports (load/migrations/V2__views.sql) over the views above.
CREATE OR REPLACE VIEW report_monthly_sales AS
SELECT CAST(date_trunc('month', f.created_date) AS date) AS month,
       c.currency_code,
       cp.counterparty_legal_country AS counterparty_country,
       count(*) AS orders,
       sum(f.units_sold) AS units_sold,
       sum(f.units_sold * f.unit_price) AS sales_value
FROM fact_sales_order_current f
JOIN dim_currency_current c ON c.currency_id = f.currency_id
JOIN dim_counterparty_current cp ON cp.counterparty_id = f.counterparty_id
GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW report_payments_outstanding AS
SELECT p.payment_id,
       t.transaction_type,
       cp.counterparty_legal_name,
       c.currency_code,
       p.payment_amount,
       p.payment_date,
       date_diff('day', p.payment_date, current_date) AS days_overdue
FROM fact_payment_current p
JOIN dim_transaction_current t ON t.transaction_id = p.transaction_id
JOIN dim_counterparty_current cp ON cp.counterparty_id = p.counterparty_id
JOIN dim_currency_current c ON c.currency_id = p.currency_id
WHERE NOT p.paid;
";

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../terraform/sql/athena_views.sql"
    );

    /// Terraform reads the file; the catalog is the truth. `ETL_WRITE_ATHENA_VIEWS=1 cargo test
    /// -p lake athena` rewrites the file from the catalog.
    #[test]
    fn terraforms_athena_views_are_the_catalogs() {
        if std::env::var_os("ETL_WRITE_ATHENA_VIEWS").is_some() {
            std::fs::write(FILE, views()).unwrap();
        }
        let file = std::fs::read_to_string(FILE).unwrap_or_default();
        assert!(
            file == views(),
            "{FILE} is not what the catalog generates: run \
             `ETL_WRITE_ATHENA_VIEWS=1 cargo test -p lake athena` and commit the file"
        );
    }

    #[test]
    fn every_table_has_a_current_view_and_every_fact_its_versions() {
        let sql = views();
        for table in &WAREHOUSE_TABLES {
            assert!(sql.contains(&format!("CREATE OR REPLACE VIEW {}_current AS", table.name)));
            assert_eq!(
                sql.contains(&format!(
                    "CREATE OR REPLACE VIEW {}_versions AS",
                    table.name
                )),
                table.kind == TableKind::Fact,
                "{}",
                table.name
            );
        }
    }
}
