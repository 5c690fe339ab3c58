//! A processed Parquet file as an Iceberg data file: the manifest entry readers plan scans with,
//! taken from the file's footer alone (row count, size, per column its compressed size, value
//! and null counts, lower and upper bounds). Pure: the caller has the footer and the path.

use std::collections::HashMap;

use etl_contract::warehouse::{WarehouseTable, WarehouseType};
use iceberg::spec::{DataContentType, DataFile, DataFileBuilder, DataFileFormat, Datum, Struct};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

/// The data file at `path` (`size` bytes) whose footer is `footer`, holding `table`'s columns
/// (field id = catalog position from 1, as `WarehouseTable::arrow_schema` writes them).
///
/// A column's null count or bounds are left out where any row group lacks them, so a reader
/// never prunes on an incomplete figure. Money columns carry no bounds (Iceberg's decimal
/// bound needs a decimal type this crate does not otherwise use); text upper bounds only
/// where the footer's is exact (Parquet truncates long strings).
pub fn data_file(
    table: &WarehouseTable,
    footer: &ParquetMetaData,
    path: String,
    size: u64,
    partition_spec_id: i32,
) -> Result<DataFile, String> {
    let mut columns: HashMap<i32, Column> = HashMap::new();
    for group in footer.row_groups() {
        for chunk in group.columns() {
            let name = chunk.column_descr().name();
            let Some(index) = table.columns.iter().position(|c| c.name == name) else {
                continue;
            };
            let column = columns.entry(index as i32 + 1).or_default();
            column.size += chunk.compressed_size() as u64;
            column.values += chunk.num_values() as u64;
            let stats = chunk.statistics();
            column.nulls = match (column.nulls, stats.and_then(Statistics::null_count_opt)) {
                (Some(total), Some(nulls)) => Some(total + nulls),
                _ => None,
            };
            let ty = table.columns[index].ty;
            widen(&mut column.lower, stats.map(|s| min(ty, s)), Datum::lt);
            widen(&mut column.upper, stats.map(|s| max(ty, s)), Datum::gt);
        }
    }
    let mut builder = DataFileBuilder::default();
    builder
        .content(DataContentType::Data)
        .file_path(path)
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::empty())
        .partition_spec_id(partition_spec_id)
        .record_count(footer.file_metadata().num_rows() as u64)
        .file_size_in_bytes(size)
        .column_sizes(columns.iter().map(|(id, c)| (*id, c.size)).collect())
        .value_counts(columns.iter().map(|(id, c)| (*id, c.values)).collect())
        .null_value_counts(
            columns
                .iter()
                .filter_map(|(id, c)| Some((*id, c.nulls?)))
                .collect(),
        )
        .lower_bounds(bounds(&columns, |c| &c.lower))
        .upper_bounds(bounds(&columns, |c| &c.upper))
        .split_offsets(Some(
            footer
                .row_groups()
                .iter()
                .filter_map(|g| g.file_offset())
                .collect(),
        ));
    builder.build().map_err(|e| e.to_string())
}

/// One column's figures over the row groups read so far.
struct Column {
    size: u64,
    values: u64,
    /// `None` once a row group had no null count.
    nulls: Option<u64>,
    lower: Bound,
    upper: Bound,
}

impl Default for Column {
    fn default() -> Self {
        Column {
            size: 0,
            values: 0,
            nulls: Some(0),
            lower: Bound::Empty,
            upper: Bound::Empty,
        }
    }
}

/// A bound over the row groups read so far.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    /// Every row group so far held only nulls (or there was none).
    Empty,
    Value(Datum),
    /// A row group's bound is unknown: so is the file's.
    Unknown,
}

/// A row group's bound: `None` when its statistics cannot bound the column, `Some(None)` when
/// it holds no non-null value.
type GroupBound = Option<Option<Datum>>;

/// `bound` widened by a row group's (`None`: the group has no statistics).
fn widen(bound: &mut Bound, group: Option<GroupBound>, beyond: fn(&Datum, &Datum) -> bool) {
    let so_far = std::mem::replace(bound, Bound::Unknown);
    *bound = match (so_far, group.flatten()) {
        (Bound::Unknown, _) | (_, None) => Bound::Unknown,
        (so_far, Some(None)) => so_far,
        (Bound::Empty, Some(Some(value))) => Bound::Value(value),
        (Bound::Value(current), Some(Some(value))) => Bound::Value(if beyond(&value, &current) {
            value
        } else {
            current
        }),
    };
}

fn bounds(columns: &HashMap<i32, Column>, of: fn(&Column) -> &Bound) -> HashMap<i32, Datum> {
    columns
        .iter()
        .filter_map(|(id, c)| match of(c) {
            Bound::Value(value) => Some((*id, value.clone())),
            Bound::Empty | Bound::Unknown => None,
        })
        .collect()
}

fn min(ty: WarehouseType, stats: &Statistics) -> GroupBound {
    match (ty, stats) {
        (WarehouseType::Text, Statistics::ByteArray(s)) => match s.min_opt() {
            // A truncated minimum is a prefix: still a lower bound.
            Some(bytes) => Some(Some(Datum::string(bytes.as_utf8().ok()?))),
            None => Some(None),
        },
        _ => exact(ty, stats, true),
    }
}

fn max(ty: WarehouseType, stats: &Statistics) -> GroupBound {
    match (ty, stats) {
        (WarehouseType::Text, Statistics::ByteArray(s)) => match s.max_opt() {
            Some(bytes) if s.max_is_exact() => Some(Some(Datum::string(bytes.as_utf8().ok()?))),
            Some(_) => None,
            None => Some(None),
        },
        _ => exact(ty, stats, false),
    }
}

/// The minimum (or maximum) of a fixed-width column, which Parquet never truncates.
fn exact(ty: WarehouseType, stats: &Statistics, minimum: bool) -> GroupBound {
    match (ty, stats) {
        (WarehouseType::Int, Statistics::Int32(s)) => {
            Some(pick(s.min_opt(), s.max_opt(), minimum).map(|v| Datum::int(*v)))
        }
        (WarehouseType::Date, Statistics::Int32(s)) => {
            Some(pick(s.min_opt(), s.max_opt(), minimum).map(|v| Datum::date(*v)))
        }
        (WarehouseType::Bool, Statistics::Boolean(s)) => {
            Some(pick(s.min_opt(), s.max_opt(), minimum).map(|v| Datum::bool(*v)))
        }
        (WarehouseType::Time, Statistics::Int64(s)) => {
            match pick(s.min_opt(), s.max_opt(), minimum) {
                Some(v) => Some(Some(Datum::time_micros(*v).ok()?)),
                None => Some(None),
            }
        }
        (WarehouseType::Version, Statistics::Int64(s)) => {
            Some(pick(s.min_opt(), s.max_opt(), minimum).map(|v| Datum::timestamptz_micros(*v)))
        }
        _ => None,
    }
}

fn pick<T>(min: Option<T>, max: Option<T>, minimum: bool) -> Option<T> {
    if minimum { min } else { max }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use etl_contract::warehouse::warehouse_table;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    #[test]
    fn the_contract_spells_the_field_id_key_as_parquet_does() {
        assert_eq!(
            etl_contract::warehouse::FIELD_ID_KEY,
            parquet::arrow::PARQUET_FIELD_ID_META_KEY
        );
    }

    #[test]
    fn counts_and_bounds_span_every_row_group_and_leave_out_what_is_unknown() {
        let table = warehouse_table("dim_location").unwrap();
        let schema = Arc::new(table.arrow_schema());
        // dim_location: an int key, text columns (some nullable), the version.
        let rows = 5;
        let columns = table
            .columns
            .iter()
            .map(|c| -> arrow_array::ArrayRef {
                match c.ty {
                    WarehouseType::Int => Arc::new(Int32Array::from(vec![7, 3, 9, 1, 4])),
                    WarehouseType::Text if c.nullable => Arc::new(StringArray::from(vec![
                        None,
                        Some("b"),
                        None,
                        Some("a"),
                        None,
                    ])),
                    WarehouseType::Text => Arc::new(StringArray::from(vec!["x"; rows])),
                    WarehouseType::Version => Arc::new(
                        TimestampMicrosecondArray::from(vec![5, 1, 9, 2, 3]).with_timezone("UTC"),
                    ),
                    other => panic!("dim_location has no {other:?} column"),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut bytes = Vec::new();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let footer = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
            .unwrap();
        assert_eq!(footer.num_row_groups(), 3);

        let file = data_file(table, &footer, "x.parquet".into(), bytes.len() as u64, 0).unwrap();
        assert_eq!(file.record_count(), 5);
        assert_eq!(file.file_size_in_bytes(), bytes.len() as u64);
        let id = |name: &str| table.columns.iter().position(|c| c.name == name).unwrap() as i32 + 1;
        let key = id(table.key);
        assert_eq!(file.lower_bounds()[&key], Datum::int(1));
        assert_eq!(file.upper_bounds()[&key], Datum::int(9));
        let version = id("last_updated");
        assert_eq!(file.lower_bounds()[&version], Datum::timestamptz_micros(1));
        assert_eq!(file.upper_bounds()[&version], Datum::timestamptz_micros(9));
        let nullable = table.columns.iter().find(|c| c.nullable).unwrap().name;
        assert_eq!(file.null_value_counts()[&id(nullable)], 3);
        assert_eq!(file.value_counts()[&id(nullable)], 5);
        assert_eq!(file.lower_bounds()[&id(nullable)], Datum::string("a"));
        assert_eq!(file.upper_bounds()[&id(nullable)], Datum::string("b"));

        // A row group without statistics makes the column's figures unknown, not partial.
        let widened = |mut bound: Bound, group| {
            widen(&mut bound, group, Datum::lt);
            bound
        };
        assert_eq!(
            widened(Bound::Value(Datum::int(1)), Some(None)),
            Bound::Unknown
        );
        assert_eq!(widened(Bound::Empty, None), Bound::Unknown);
        assert_eq!(
            widened(Bound::Value(Datum::int(1)), Some(Some(None))),
            Bound::Value(Datum::int(1))
        );
        assert_eq!(
            widened(Bound::Value(Datum::int(1)), Some(Some(Some(Datum::int(0))))),
            Bound::Value(Datum::int(0))
        );
    }
}
