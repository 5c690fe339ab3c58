//! The SQL load sends, generated from the warehouse catalog. Pure functions, unit-tested.
//!
//! Per table: a temporary staging table, a binary COPY into it, and one set-based statement.
//! Money is staged as integer cents (exactly what the Parquet Decimal128(10,2) holds) and turned
//! into numeric by the merge, so no value passes through a float or a text rendering.

use etl_contract::warehouse::{
    DIMENSION_VERSION, ForeignKey, TableKind, WarehouseTable, WarehouseType, warehouse_table,
};

/// The Postgres type a column has in staging.
fn stage_type(ty: WarehouseType) -> &'static str {
    match ty {
        WarehouseType::Money => "bigint",
        other => other.sql(),
    }
}

pub fn stage_name(table: &WarehouseTable) -> String {
    format!("stage_{}", table.name)
}

/// Creates the run's staging table; it disappears with the transaction.
pub fn create_stage(table: &WarehouseTable) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, stage_type(c.ty)))
        .collect();
    format!(
        "CREATE TEMP TABLE {} ({}) ON COMMIT DROP",
        stage_name(table),
        columns.join(", ")
    )
}

pub fn copy_stage(table: &WarehouseTable) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        stage_name(table),
        column_list(table)
    )
}

fn column_list(table: &WarehouseTable) -> String {
    table
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A staged column as the target type expects it.
fn staged_value(name: &str, ty: WarehouseType) -> String {
    match ty {
        WarehouseType::Money => format!("(s.{name}::numeric / 100)"),
        _ => format!("s.{name}"),
    }
}

/// Inserts every staged row, with no conflict handling: what a merge comes to when none of the
/// run's keys (versions, for facts) is stored yet, and cheaper (`load::run::merge` tries it
/// first and falls back to [`merge`] on a unique violation).
pub fn insert(table: &WarehouseTable) -> String {
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| staged_value(c.name, c.ty))
        .collect();
    format!(
        "INSERT INTO {t} ({cols}) SELECT {values} FROM {stage} s",
        t = table.name,
        cols = column_list(table),
        values = values.join(", "),
        stage = stage_name(table),
    )
}

/// Whether a run's rows of `table` are mostly new, so [`insert`] is worth trying before
/// [`merge`]: facts (every version is new, but for the lookback's re-reads) and versioned
/// dimensions. The calendar is not: every run repeats dates earlier runs stored.
pub fn mostly_new(table: &WarehouseTable) -> bool {
    table.kind == TableKind::Fact || table.column(DIMENSION_VERSION).is_some()
}

/// The one statement that merges a staged table into its target.
///
/// Dimensions: insert new keys; replace a stored row only with a newer source version (equal
/// versions are settled by the row's text, so the result never depends on load order).
/// `dim_date` rows never change. Facts: insert every version not stored yet.
pub fn merge(table: &WarehouseTable) -> String {
    let insert = insert(table);
    match table.kind {
        TableKind::Fact => format!(
            "{insert} ON CONFLICT ({}) DO NOTHING",
            table.version_key().join(", ")
        ),
        TableKind::Dimension if table.column(DIMENSION_VERSION).is_none() => {
            format!("{insert} ON CONFLICT ({}) DO NOTHING", table.key)
        }
        TableKind::Dimension => {
            let updates: Vec<String> = table
                .columns
                .iter()
                .filter(|c| c.name != table.key)
                .map(|c| format!("{0} = EXCLUDED.{0}", c.name))
                .collect();
            format!(
                "{insert} ON CONFLICT ({key}) DO UPDATE SET {updates} \
                 WHERE {t}.{v} < EXCLUDED.{v} \
                    OR ({t}.{v} = EXCLUDED.{v} AND ROW({t}.*)::text < ROW(EXCLUDED.*)::text)",
                key = table.key,
                updates = updates.join(", "),
                t = table.name,
                v = DIMENSION_VERSION,
            )
        }
    }
}

/// Inserts an inferred member for every key a staged fact references that its dimension does
/// not hold yet (a fact whose dimension row arrives in a later run, e.g. when runs are loaded
/// out of order). Placeholders carry the oldest possible version, so the real row replaces them
/// when it arrives; calendar rows are computed, not placeholders.
pub fn inferred_members(fk: &ForeignKey) -> Option<String> {
    let dimension = warehouse_table(fk.dimension)?;
    let fact = warehouse_table(fk.fact)?;
    let source = format!(
        "SELECT DISTINCT s.{col} AS k FROM {stage} s \
         WHERE NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{key} = s.{col})",
        col = fk.column,
        stage = stage_name(fact),
        dim = dimension.name,
        key = dimension.key,
    );
    let values: Vec<String> = dimension
        .columns
        .iter()
        .map(|c| {
            if c.name == dimension.key {
                return "k".to_string();
            }
            if dimension.name == "dim_date" {
                return match c.name {
                    "year" => "extract(year FROM k)::int",
                    "month" => "extract(month FROM k)::int",
                    "day" => "extract(day FROM k)::int",
                    "day_of_week" => "extract(isodow FROM k)::int",
                    "day_name" => "to_char(k, 'FMDay')",
                    "month_name" => "to_char(k, 'FMMonth')",
                    _ => "extract(quarter FROM k)::int",
                }
                .to_string();
            }
            match (c.ty, c.nullable) {
                (_, true) => "NULL".to_string(),
                (WarehouseType::Version, _) => "'-infinity'::timestamptz".to_string(),
                (WarehouseType::Text, _) => "'Unknown'".to_string(),
                (ty, _) => format!("NULL::{}", ty.sql()),
            }
        })
        .collect();
    Some(format!(
        "INSERT INTO {dim} ({cols}) SELECT {values} FROM ({source}) missing \
         ON CONFLICT ({key}) DO NOTHING",
        dim = dimension.name,
        cols = column_list(dimension),
        values = values.join(", "),
        key = dimension.key,
    ))
}

/// A foreign key's trigger work, set-based and in one statement: takes the lock the trigger
/// takes row by row (`FOR KEY SHARE`) on every dimension row the staged facts reference, so no
/// concurrent transaction can delete or re-key one before the load commits, and returns the
/// first staged reference that has no such row (none, after the inferred members).
pub fn lock_and_check_references(fk: &ForeignKey) -> Option<String> {
    let dimension = warehouse_table(fk.dimension)?;
    let fact = warehouse_table(fk.fact)?;
    Some(format!(
        "WITH refs AS MATERIALIZED (SELECT DISTINCT s.{col} AS k FROM {stage} s \
         WHERE s.{col} IS NOT NULL), \
         locked AS MATERIALIZED (SELECT d.{key} AS k FROM {dim} d \
         WHERE d.{key} IN (SELECT k FROM refs) FOR KEY SHARE OF d) \
         SELECT r.k::text FROM refs r WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.k = r.k) \
         LIMIT 1",
        dim = dimension.name,
        key = dimension.key,
        col = fk.column,
        stage = stage_name(fact),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etl_contract::warehouse::FOREIGN_KEYS;

    #[test]
    fn the_plain_insert_is_the_merge_without_its_conflict_clause() {
        for table in &etl_contract::warehouse::WAREHOUSE_TABLES {
            let merge = merge(table);
            let insert = insert(table);
            assert!(merge.starts_with(&insert), "{merge}");
            assert!(
                merge[insert.len()..]
                    .trim_start()
                    .starts_with("ON CONFLICT")
            );
            assert!(!insert.contains("ON CONFLICT"));
        }
        assert!(!mostly_new(warehouse_table("dim_date").unwrap()));
        assert!(mostly_new(warehouse_table("dim_staff").unwrap()));
        assert!(mostly_new(warehouse_table("fact_payment").unwrap()));
    }

    #[test]
    fn facts_insert_new_versions_only() {
        let sql = merge(warehouse_table("fact_payment").unwrap());
        assert!(
            sql.starts_with("INSERT INTO fact_payment (payment_id, created_date"),
            "{sql}"
        );
        assert!(sql.contains("(s.payment_amount::numeric / 100)"), "{sql}");
        assert!(sql.ends_with(
            "ON CONFLICT (payment_id, last_updated_date, last_updated_time) DO NOTHING"
        ));
    }

    #[test]
    fn dimensions_keep_the_newest_version() {
        let sql = merge(warehouse_table("dim_staff").unwrap());
        assert!(
            sql.contains("ON CONFLICT (staff_id) DO UPDATE SET first_name = EXCLUDED.first_name"),
            "{sql}"
        );
        assert!(
            sql.contains("WHERE dim_staff.last_updated < EXCLUDED.last_updated"),
            "{sql}"
        );
        let sql = merge(warehouse_table("dim_date").unwrap());
        assert!(sql.ends_with("ON CONFLICT (date_id) DO NOTHING"), "{sql}");
    }

    #[test]
    fn references_are_locked_and_checked_per_key() {
        let fk = FOREIGN_KEYS
            .iter()
            .find(|f| f.fact == "fact_payment" && f.column == "transaction_id")
            .unwrap();
        let sql = lock_and_check_references(fk).unwrap();
        assert!(
            sql.contains("SELECT DISTINCT s.transaction_id AS k FROM stage_fact_payment s WHERE s.transaction_id IS NOT NULL"),
            "{sql}"
        );
        assert!(
            sql.contains("FROM dim_transaction d WHERE d.transaction_id IN (SELECT k FROM refs) FOR KEY SHARE OF d"),
            "{sql}"
        );
        assert!(sql.ends_with("WHERE l.k = r.k) LIMIT 1"), "{sql}");
    }

    #[test]
    fn every_foreign_key_has_an_inferred_member_statement() {
        for fk in &FOREIGN_KEYS {
            let sql = inferred_members(fk).unwrap();
            assert!(sql.contains(&format!("s.{}", fk.column)), "{sql}");
            assert!(
                !sql.contains("NULL::"),
                "a NOT NULL column got a NULL placeholder: {sql}"
            );
        }
        let staff = FOREIGN_KEYS
            .iter()
            .find(|f| f.dimension == "dim_staff")
            .unwrap();
        let sql = inferred_members(staff).unwrap();
        assert!(
            sql.contains("'Unknown', 'Unknown', 'Unknown', NULL, 'Unknown', '-infinity'"),
            "{sql}"
        );
    }
}
