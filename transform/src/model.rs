//! The galaxy schema (docs/architecture.md §3) built from source frames with polars, exactly as the
//! warehouse catalog describes it (`etl_contract::warehouse`: each table's `Grain`, each
//! column's [`Origin`]); this module only interprets that description. Pure functions of
//! frames: no I/O, deterministic (every output is sorted by its version key).
//!
//! Timestamps arrive as Int64 microseconds since the epoch; a fact's `created_at` splits into a
//! date (Int32 days) and a time (Int64 microseconds since midnight) with floor division, so
//! times before 1970 split correctly too.

use etl_contract::catalog::source_table;
use etl_contract::warehouse::{DIMENSION_VERSION, Origin, Parent, WarehouseTable};
use polars::prelude::*;

use crate::currency::CURRENCY_NAMES;
use crate::dates;
use crate::error::TransformError;

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn date_of(column: &str) -> Expr {
    col(column)
        .floor_div(lit(MICROS_PER_DAY))
        .cast(DataType::Int32)
}

fn time_of(column: &str) -> Expr {
    col(column) - col(column).floor_div(lit(MICROS_PER_DAY)) * lit(MICROS_PER_DAY)
}

/// The later of two source versions: a joined dimension row changes when either side does.
fn later(a: &str, b: &str) -> Expr {
    when(col(a).gt_eq(col(b))).then(col(a)).otherwise(col(b))
}

/// A parent row's column, as it is named once joined to its child.
fn parent_column(name: &str) -> String {
    format!("parent.{name}")
}

fn collect(frame: LazyFrame, table: &'static str) -> Result<DataFrame, TransformError> {
    frame.collect().map_err(TransformError::frame(table))
}

/// The source table's primary key.
pub fn primary_key(source: &str) -> &'static str {
    // Cannot fail: the catalog test `every_column_comes_from_a_source_column_that_exists_and_fits`
    // proves every grain and parent names a catalogued source table.
    source_table(source)
        .map(|t| t.primary_key)
        .expect("the warehouse catalog names catalogued source tables")
}

/// The column's values, from the frame its table's grain reads (with the parent's columns
/// joined as [`parent_column`]s when there is a parent).
fn expr(column: &Origin, name: &'static str, has_parent: bool) -> Expr {
    let value = match *column {
        Origin::Same | Origin::Calendar | Origin::CurrencyName(_) => col(name),
        Origin::Source(source) => col(source),
        Origin::Parent(parent) => col(parent_column(parent)),
        Origin::DateOf(source) => date_of(source),
        Origin::TimeOf(source) => time_of(source),
        Origin::Version if has_parent => {
            later(DIMENSION_VERSION, &parent_column(DIMENSION_VERSION))
        }
        Origin::Version => col(DIMENSION_VERSION),
    };
    value.alias(name)
}

/// The table's columns in catalog order, sorted by its version key.
fn project(
    table: &'static WarehouseTable,
    frame: LazyFrame,
    has_parent: bool,
) -> Result<DataFrame, TransformError> {
    let columns: Vec<Expr> = table
        .columns
        .iter()
        .map(|c| expr(&c.from, c.name, has_parent))
        .collect();
    let by: Vec<PlSmallStr> = table
        .version_key()
        .into_iter()
        .map(PlSmallStr::from)
        .collect();
    let frame = frame
        .select(columns)
        .sort(by, SortMultipleOptions::default().with_maintain_order(true));
    let out = collect(frame, table.name)?;
    check_currency_names(table, &out)?;
    Ok(out)
}

/// Adds the looked-up columns ([`Origin::CurrencyName`]) to a source frame.
fn with_lookups(
    table: &'static WarehouseTable,
    mut frame: LazyFrame,
) -> Result<LazyFrame, TransformError> {
    for column in table.columns {
        let Origin::CurrencyName(code) = column.from else {
            continue;
        };
        let (codes, names): (Vec<&str>, Vec<&str>) = CURRENCY_NAMES.iter().copied().unzip();
        let iso = df!("__iso_code" => codes, column.name => names)
            .map_err(TransformError::frame(table.name))?;
        frame = frame.left_join(iso.lazy(), col(code), col("__iso_code"));
    }
    Ok(frame)
}

/// An unknown currency code is an error naming the currency, not a NULL name.
fn check_currency_names(
    table: &'static WarehouseTable,
    out: &DataFrame,
) -> Result<(), TransformError> {
    for column in table.columns {
        let Origin::CurrencyName(code) = column.from else {
            continue;
        };
        let names = out
            .column(column.name)
            .and_then(|c| c.str().cloned())
            .map_err(TransformError::frame(table.name))?;
        if let Some(row) = names.iter().position(|n| n.is_none()) {
            let get = |name: &str| out.column(name).ok().and_then(|c| c.get(row).ok());
            return Err(TransformError::UnknownCurrency {
                currency_id: get(table.key)
                    .and_then(|v| v.extract::<i32>())
                    .unwrap_or_default(),
                code: get(code)
                    .map(|v| v.get_str().unwrap_or_default().to_owned())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// The rows of a `Grain::Fact` or `Grain::Rows` table: one per row of the run's frame of
/// its source.
pub fn rows(
    table: &'static WarehouseTable,
    source: &DataFrame,
) -> Result<DataFrame, TransformError> {
    let frame = with_lookups(table, source.clone().lazy())?;
    project(table, frame, false)
}

/// The rows of a [`Grain::Current`] table for the source rows `ids`, from the current state of
/// its `source` table (keyed by `key`) joined with the current state of its `parent`, if it has
/// one. A row whose parent is not known yet is left out; it is emitted when its parent arrives
/// (a parent's change re-emits every row pointing at it).
pub fn current(
    table: &'static WarehouseTable,
    key: &'static str,
    source: &DataFrame,
    parent: Option<(Parent, &DataFrame)>,
    ids: &[i32],
) -> Result<DataFrame, TransformError> {
    let mut frame = with_ids(source.clone().lazy(), key, ids, table.name)?;
    if let Some((grain, parent)) = parent {
        let renamed: Vec<Expr> = parent
            .get_column_names()
            .into_iter()
            .map(|name| col(name.as_str()).alias(parent_column(name)))
            .collect();
        frame = frame.inner_join(
            parent.clone().lazy().select(renamed),
            col(grain.via),
            col(parent_column(primary_key(grain.table))),
        );
    }
    project(table, with_lookups(table, frame)?, parent.is_some())
}

/// The calendar rows of `days` (days since the epoch, sorted and unique).
pub fn calendar(table: &'static WarehouseTable, days: &[i32]) -> Result<DataFrame, TransformError> {
    project(table, dates::dim_date(days)?.lazy(), false)
}

/// Keeps the rows of `frame` whose `key` is one of `ids`.
fn with_ids(
    frame: LazyFrame,
    key: &str,
    ids: &[i32],
    table: &'static str,
) -> Result<LazyFrame, TransformError> {
    let wanted = df!("__id" => ids.to_vec()).map_err(TransformError::frame(table))?;
    Ok(frame.inner_join(wanted.lazy(), col(key), col("__id")))
}

/// The ids in an Int32 column that refers to rows whose key is in `changed`: e.g. every
/// counterparty (`counterparty_id`) whose `legal_address_id` is one of the changed addresses.
pub fn ids_referring_to(
    frame: &DataFrame,
    id_column: &'static str,
    reference_column: &str,
    changed: &[i32],
    table: &'static str,
) -> Result<Vec<i32>, TransformError> {
    let refs = collect(
        with_ids(frame.clone().lazy(), reference_column, changed, table)?.select([col(id_column)]),
        table,
    )?;
    int_values(&refs, id_column, table)
}

/// The non-null values of an Int32 column, sorted and without duplicates.
pub fn int_values(
    frame: &DataFrame,
    column: &str,
    table: &'static str,
) -> Result<Vec<i32>, TransformError> {
    let values = frame
        .column(column)
        .and_then(|c| c.i32().cloned())
        .map_err(TransformError::frame(table))?;
    let mut out: Vec<i32> = values.iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
