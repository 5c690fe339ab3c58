//! The inbox's SQL, generated from declarations. Every name in it passed
//! [`crate::declaration::is_identifier`] (lower-case letters, digits, `_`), and every literal
//! was checked by [`crate::value::encode`]; they are quoted all the same.

use crate::declaration::{
    Breaking, Check, Column, ColumnType, Declaration, ERRORS_SUFFIX, Evolution,
};

/// The schema inbox tables live in.
pub const SCHEMA: &str = "inbox";
/// The temporary table an upsert (and `etl inbox retry`) stages rows in.
pub const STAGING: &str = "etl_inbox_staging";
/// The staging column holding a row's line, so the last row of a key wins.
pub const LINE_COLUMN: &str = "etl_line";

pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `inbox."<table>"`.
pub fn table(name: &str) -> String {
    format!("{SCHEMA}.{}", ident(name))
}

/// `inbox."<table>__errors"`.
pub fn errors_table(name: &str) -> String {
    table(&format!("{name}{ERRORS_SUFFIX}"))
}

fn column_definition(c: &Column) -> String {
    format!(
        "{} {}{}",
        ident(&c.name),
        c.ty.sql(),
        if c.nullable { "" } else { " NOT NULL" }
    )
}

fn column_list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn create_table(d: &Declaration) -> String {
    let mut parts: Vec<String> = d.columns.iter().map(column_definition).collect();
    if !d.primary_key.is_empty() {
        parts.push(format!(
            "PRIMARY KEY ({})",
            d.primary_key
                .iter()
                .map(|k| ident(k))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    format!("CREATE TABLE {} ({})", table(&d.table), parts.join(", "))
}

/// Where bad rows go under `"bad_rows": "error_table"`: enough to find the row in its file,
/// the reason, and the record as fields (`record`, which `etl inbox retry` reads back after a
/// person fixed it in place).
pub fn create_errors_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (
            id bigserial PRIMARY KEY,
            file text NOT NULL,
            version text NOT NULL,
            line bigint NOT NULL,
            column_name text NOT NULL,
            reason text NOT NULL,
            raw text NOT NULL,
            record jsonb NOT NULL,
            action text NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        )",
        errors_table(name)
    )
}

/// The columns the error table is copied into, in [`crate::apply`]'s order.
pub const ERROR_COLUMNS: &str = "file, version, line, column_name, reason, raw, record, action";

/// The statements that take `current`'s table to `next` (additive ones always; breaking ones
/// only when `evolution` carries them, that is when `next` allows them).
pub fn evolve(next: &Declaration, evolution: &Evolution) -> Vec<String> {
    let t = table(&next.table);
    let mut statements = Vec::new();
    for b in &evolution.breaking {
        match b {
            Breaking::Drop { column } => {
                statements.push(format!("ALTER TABLE {t} DROP COLUMN {}", ident(column)))
            }
            Breaking::Retype { column, to } => statements.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}",
                c = ident(column),
                ty = to.sql()
            )),
            Breaking::RequireValue { column } => statements.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL",
                ident(column)
            )),
            Breaking::AddRequired { column } => statements.push(format!(
                "ALTER TABLE {t} ADD COLUMN {}",
                column_definition(column)
            )),
            Breaking::PrimaryKey { columns } => {
                statements.push(format!(
                    "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {}",
                    ident(&format!("{}_pkey", next.table))
                ));
                if !columns.is_empty() {
                    statements.push(format!(
                        "ALTER TABLE {t} ADD PRIMARY KEY ({})",
                        columns
                            .iter()
                            .map(|c| ident(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    for c in &evolution.added {
        statements.push(format!(
            "ALTER TABLE {t} ADD COLUMN {}",
            column_definition(c)
        ));
    }
    for c in &evolution.relaxed {
        statements.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL",
            ident(c)
        ));
    }
    statements
}

/// COPY (text format) into the table itself: appends and truncates.
pub fn copy_into_table(d: &Declaration) -> String {
    format!(
        "COPY {} ({}) FROM STDIN",
        table(&d.table),
        column_list(&d.columns)
    )
}

/// The staging table of an upsert: the table's columns and the line of each row.
pub fn create_staging(d: &Declaration) -> Vec<String> {
    vec![
        format!("DROP TABLE IF EXISTS pg_temp.{STAGING}"),
        format!(
            "CREATE TEMP TABLE {STAGING} ({}, {LINE_COLUMN} bigint NOT NULL) ON COMMIT DROP",
            d.columns
                .iter()
                .map(|c| format!("{} {}", ident(&c.name), c.ty.sql()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ]
}

pub fn copy_into_staging(d: &Declaration) -> String {
    format!(
        "COPY {STAGING} ({}, {LINE_COLUMN}) FROM STDIN",
        column_list(&d.columns)
    )
}

/// Merges the staged rows on the primary key, the last line of a key winning.
pub fn merge(d: &Declaration) -> String {
    let columns = column_list(&d.columns);
    let key = d
        .primary_key
        .iter()
        .map(|k| ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    let updates: Vec<String> = d
        .columns
        .iter()
        .filter(|c| !d.primary_key.contains(&c.name))
        .map(|c| format!("{n} = EXCLUDED.{n}", n = ident(&c.name)))
        .collect();
    let on_conflict = if updates.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {t} ({columns}) SELECT DISTINCT ON ({key}) {columns} FROM {STAGING} \
         ORDER BY {key}, {LINE_COLUMN} DESC ON CONFLICT ({key}) {on_conflict}",
        t = table(&d.table)
    )
}

/// Appends the staged rows (`etl inbox retry` of rows from append and truncate files).
pub fn insert_staged(d: &Declaration) -> String {
    let columns = column_list(&d.columns);
    format!(
        "INSERT INTO {} ({columns}) SELECT {columns} FROM {STAGING} ORDER BY {LINE_COLUMN}",
        table(&d.table)
    )
}

/// A query counting the rows that fail `check` (none for `min_rows`, which counts the file).
pub fn check_query(d: &Declaration, check: &Check) -> Option<String> {
    let t = table(&d.table);
    let cast = |column: &str, value: &str| {
        let ty = d.column(column).map_or(ColumnType::Text, |c| c.ty);
        format!("{}::{}", literal(value), ty.sql())
    };
    Some(match check {
        Check::Min { column, min } => format!(
            "SELECT count(*) FROM {t} WHERE {} < {}",
            ident(column),
            cast(column, min)
        ),
        Check::Max { column, max } => format!(
            "SELECT count(*) FROM {t} WHERE {} > {}",
            ident(column),
            cast(column, max)
        ),
        Check::Unique { column } => format!(
            "SELECT coalesce(sum(n), 0)::bigint FROM (SELECT count(*) AS n FROM {t} \
             WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1) AS shared",
            c = ident(column)
        ),
        Check::NotNull { column } => {
            format!("SELECT count(*) FROM {t} WHERE {} IS NULL", ident(column))
        }
        Check::MinRows { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customers() -> Declaration {
        Declaration::parse(
            "customers",
            br#"{"table": "customers", "columns": [{"name": "id", "type": "integer"},
                {"name": "name", "type": "text"}, {"name": "balance", "type": "numeric(12,2)"}],
                "primary_key": ["id"], "checks": [{"column": "balance", "min": 0}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn statements_read_as_intended() {
        let d = customers();
        assert_eq!(
            create_table(&d),
            "CREATE TABLE inbox.\"customers\" (\"id\" integer NOT NULL, \"name\" text, \
             \"balance\" numeric(12,2), PRIMARY KEY (\"id\"))"
        );
        assert!(merge(&d).contains("DISTINCT ON (\"id\")"));
        assert!(merge(&d).ends_with(
            "ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\", \"balance\" = \
             EXCLUDED.\"balance\""
        ));
        assert_eq!(
            check_query(&d, &d.checks[0]).unwrap(),
            "SELECT count(*) FROM inbox.\"customers\" WHERE \"balance\" < '0'::numeric(12,2)"
        );
        assert_eq!(literal("it's"), "'it''s'");
    }
}
