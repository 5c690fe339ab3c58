//! Inbox files the tests drop: the issue's declaration and a vendor file with three bad rows.

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
