//! The SQL extract sends, generated from the source catalog. Pure functions, unit-tested.
//!
//! The window query selects each column in its binary form and `crate::encode` writes the JSON
//! line: only enums are cast to their label here, which is their text (binary enums carry no
//! type oid the client knows).

use etl_contract::catalog::{ColumnType, SourceTable};

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// One column of the row aliased `t` as `crate::encode` reads it.
fn selected(name: &str, ty: &ColumnType) -> String {
    let column = format!("t.{}", quote(name));
    match ty {
        ColumnType::Enum(_) => format!("{column}::text"),
        _ => column,
    }
}

/// Every column of the row aliased `t`, in the catalog's order.
fn selected_columns(table: &SourceTable) -> String {
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| selected(c.name, &c.ty))
        .collect();
    values.join(", ")
}

/// Rows of `table` with `$1 < last_updated <= $2` (`$1` NULL: from the beginning), as
/// `(last_updated, primary key, the table's columns...)`, in `(last_updated, primary key)`
/// order so runs can be cut anywhere and output is deterministic.
///
/// Rows stamped exactly `$1` are read too when `$3` is true, those with a key above `$4` only
/// when `$4` is not NULL: how a window resumes inside a tie (docs/architecture.md §5).
pub fn window_rows(table: &SourceTable) -> String {
    format!(
        "SELECT t.last_updated, t.{pk}::int8, {values} FROM {table} t \
         WHERE ($1::timestamp IS NULL OR t.last_updated > $1::timestamp \
                OR ($3::boolean AND t.last_updated = $1::timestamp \
                    AND ($4::int8 IS NULL OR t.{pk} > $4::int8))) \
           AND t.last_updated <= $2::timestamp \
         ORDER BY t.last_updated, t.{pk}",
        table = quote(table.name),
        values = selected_columns(table),
        pk = quote(table.primary_key),
    )
}

/// Rows of `table` with a primary key above `$1` (NULL: all) and `last_updated <= $2`, as
/// `(last_updated, primary key, the table's columns...)`, in key order: a first load, which
/// Postgres reads along the key's index instead of sorting the table.
pub fn first_load_rows(table: &SourceTable) -> String {
    format!(
        "SELECT t.last_updated, t.{pk}::int8, {values} FROM {table} t \
         WHERE ($1::int8 IS NULL OR t.{pk} > $1::int8) AND t.last_updated <= $2::timestamp \
         ORDER BY t.{pk}",
        table = quote(table.name),
        values = selected_columns(table),
        pk = quote(table.primary_key),
    )
}

/// Per table, the rows stamped more than a second after `$1` (the probe time, the source's
/// clock) as `(table, rows, seconds the furthest is ahead)`: one statement over every table,
/// in the snapshot. The second of slack leaves out rows committed between the probe and the
/// snapshot. Without an index on `last_updated` this is one more scan of each table per
/// invocation; the window's scan and sort cost about twice that.
pub fn future_rows(tables: &[SourceTable]) -> String {
    tables
        .iter()
        .map(|table| {
            format!(
                "SELECT {name}::text, count(*), \
                 coalesce(extract(epoch FROM max(t.last_updated) - $1::timestamp), 0)::float8 \
                 FROM {table} t WHERE t.last_updated > $1::timestamp + interval '1 second'",
                name = format_args!("'{}'", table.name.replace('\'', "''")),
                table = quote(table.name),
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Other client sessions in this database, read before the snapshot is taken (see
/// [`crate::horizon`]). `now()` is this statement's start, no later than the moment the
/// activity was read. Sessions the role may not inspect show `<insufficient privilege>` with
/// every other detail, `backend_type` included, NULL; they are counted as hidden.
pub const PROBE_SESSIONS: &str = "\
    SELECT now() AT TIME ZONE 'UTC', a.pid, a.usename::text, a.application_name, \
           a.xact_start AT TIME ZONE 'UTC', a.state, \
           a.query = '<insufficient privilege>' \
    FROM (SELECT 1) one \
    LEFT JOIN pg_stat_activity a \
      ON (a.backend_type = 'client backend' OR a.query = '<insufficient privilege>') \
     AND a.pid <> pg_backend_pid() \
     AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// The given tables' sizes in pages as the planner last estimated them, to spread the tables
/// over extract's readers: no scan, and a table never analysed counts as empty.
pub const TABLE_PAGES: &str = "\
    SELECT c.relname::text, c.relpages::int8 FROM pg_class c \
    WHERE c.relname = ANY($1) AND c.relnamespace = current_schema()::regnamespace \
      AND c.relkind IN ('r', 'p')";

/// The live columns of the given tables, for the drift check.
pub const LIVE_COLUMNS: &str = "\
    SELECT table_name::text, column_name::text, data_type::text, udt_name::text, \
           is_nullable = 'YES', numeric_precision, numeric_scale, character_maximum_length, \
           datetime_precision \
    FROM information_schema.columns \
    WHERE table_schema = current_schema() AND table_name = ANY($1) \
    ORDER BY table_name, ordinal_position";

#[cfg(test)]
mod tests {
    use super::*;
    use etl_contract::catalog::source_table;

    #[test]
    fn a_first_load_reads_in_key_order_after_a_key_up_to_the_horizon() {
        let sql = first_load_rows(source_table("payment").unwrap());
        assert!(
            sql.starts_with(r#"SELECT t.last_updated, t."payment_id"::int8, t."payment_id", "#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"WHERE ($1::int8 IS NULL OR t."payment_id" > $1::int8) AND t.last_updated <= $2::timestamp"#),
            "{sql}"
        );
        assert!(sql.ends_with(r#"ORDER BY t."payment_id""#), "{sql}");
    }

    #[test]
    fn window_query_selects_each_column_as_the_encoder_reads_it() {
        let sql = window_rows(source_table("payment").unwrap());
        assert!(
            sql.starts_with(r#"SELECT t.last_updated, t."payment_id"::int8, t."payment_id", "#),
            "{sql}"
        );
        assert!(sql.contains(r#"t."payment_amount", "#), "{sql}");
        assert!(
            sql.ends_with(r#"ORDER BY t.last_updated, t."payment_id""#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"AND ($4::int8 IS NULL OR t."payment_id" > $4::int8)"#),
            "{sql}"
        );
        let sql = window_rows(source_table("transaction").unwrap());
        assert!(sql.contains(r#"t."transaction_type"::text, "#), "{sql}");
        assert!(sql.contains(r#"FROM "transaction" t"#), "{sql}");
    }

    #[test]
    fn future_rows_is_one_statement_over_every_table() {
        let tables = [
            *source_table("payment").unwrap(),
            *source_table("design").unwrap(),
        ];
        let sql = future_rows(&tables);
        assert_eq!(sql.matches(" UNION ALL ").count(), 1, "{sql}");
        assert!(sql.starts_with("SELECT 'payment'::text, count(*)"), "{sql}");
        assert!(sql.contains(r#"FROM "design" t WHERE"#), "{sql}");
    }
}
