//! Reads a processed Parquet file and streams it into a binary COPY, one row group at a time.
//! Money goes in as `numeric` built from the file's integer cents, so no value passes through
//! a float or a text rendering.
//!
//! The file's schema must be exactly the catalog's (names, Arrow types, nullability): a file
//! that drifted fails naming the column before anything is loaded.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use etl_contract::warehouse::{WarehouseTable, WarehouseType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::error::LoadError;

/// The Postgres type of a column in the binary COPY.
pub fn copy_type(ty: WarehouseType) -> Type {
    match ty {
        WarehouseType::Int => Type::INT4,
        WarehouseType::Text => Type::TEXT,
        WarehouseType::Bool => Type::BOOL,
        WarehouseType::Date => Type::DATE,
        WarehouseType::Time => Type::TIME,
        WarehouseType::Money => Type::NUMERIC,
        WarehouseType::Version => Type::TIMESTAMPTZ,
    }
}

/// Opens `bytes` (the file at `key`) and checks its schema against `table`. Returns a reader of
/// record batches and the file's row count.
pub fn open(
    key: &str,
    bytes: Bytes,
    table: &WarehouseTable,
) -> Result<(ParquetRecordBatchReader, u64), LoadError> {
    let builder = reader_of(key, bytes)?;
    let rows = builder.metadata().file_metadata().num_rows() as u64;
    let schema = builder.schema().clone();
    table
        .check_arrow(&schema)
        .map_err(|mismatch| LoadError::BadColumn {
            key: key.to_owned(),
            column: mismatch.column,
            reason: mismatch.reason,
        })?;
    let reader = builder.build().map_err(|e| bad_parquet(key, e))?;
    Ok((reader, rows))
}

fn bad_parquet(key: &str, e: impl std::fmt::Display) -> LoadError {
    LoadError::BadParquet {
        key: key.to_owned(),
        reason: format!("cannot read: {e}"),
    }
}

/// The reader of the file at `key`, before any column is decoded.
fn reader_of(key: &str, bytes: Bytes) -> Result<ParquetRecordBatchReaderBuilder<Bytes>, LoadError> {
    ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| LoadError::BadParquet {
        key: key.to_owned(),
        reason: format!("not a readable Parquet file: {e}"),
    })
}

/// One staged value; borrows text from the batch.
enum Value<'a> {
    Int(Option<i32>),
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Time(Option<NaiveTime>),
    Money(Option<Cents>),
    Version(Option<DateTime<Utc>>),
}

impl Value<'_> {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int(v) => v,
            Value::Text(v) => v,
            Value::Bool(v) => v,
            Value::Date(v) => v,
            Value::Time(v) => v,
            Value::Money(v) => v,
            Value::Version(v) => v,
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Writes every row of `batch` to the COPY, in catalog column order. Returns the rows written.
pub async fn copy_batch(
    key: &str,
    table: &WarehouseTable,
    batch: &RecordBatch,
    writer: std::pin::Pin<&mut BinaryCopyInWriter>,
) -> Result<u64, (String, Option<tokio_postgres::Error>)> {
    let columns: Vec<&dyn Array> = table
        .columns
        .iter()
        .map(|c| {
            batch
                .column_by_name(c.name)
                .map(|a| a.as_ref())
                .ok_or_else(|| (format!("{key}: column {} vanished", c.name), None))
        })
        .collect::<Result<_, _>>()?;
    let mut writer = writer;
    for row in 0..batch.num_rows() {
        let values: Vec<Value<'_>> = table
            .columns
            .iter()
            .zip(&columns)
            .map(|(c, array)| value(c.ty, *array, row))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(Value::as_sql).collect();
        writer
            .as_mut()
            .write(&refs)
            .await
            .map_err(|e| (format!("copying {key}"), Some(e)))?;
    }
    Ok(batch.num_rows() as u64)
}

/// An amount in hundredths, sent as the `numeric` of scale 2 it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cents(pub i64);

impl ToSql for Cents {
    /// The binary `numeric`: digit count, weight of the first digit, sign, display scale, then
    /// base-10000 digits, most significant first (Postgres' `numeric_send`).
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let abs = self.0.unsigned_abs();
        let (mut whole, fraction) = (abs / 100, (abs % 100) as u16 * 100);
        let mut groups = Vec::with_capacity(6);
        while whole > 0 {
            groups.push((whole % 10_000) as u16);
            whole /= 10_000;
        }
        groups.reverse();
        let weight = groups.len() as i16 - 1;
        if fraction > 0 {
            groups.push(fraction);
        }
        // Leading zeros cannot occur; drop trailing zero groups as Postgres does.
        while groups.last() == Some(&0) {
            groups.pop();
        }
        out.put_u16(groups.len() as u16);
        out.put_i16(if groups.is_empty() { 0 } else { weight });
        out.put_u16(if self.0 < 0 { 0x4000 } else { 0 });
        out.put_u16(2);
        for group in groups {
            out.put_u16(group);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

/// The distinct values of a key column, sorted: what a fact file references in one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    Int(Vec<i32>),
    Date(Vec<NaiveDate>),
}

impl Keys {
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Keys::Int(v) => v,
            Keys::Date(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Keys::Int(v) => v.len(),
            Keys::Date(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// These keys and `other`'s, sorted and distinct.
    pub fn union(self, other: Keys) -> Keys {
        match (self, other) {
            (Keys::Int(mut a), Keys::Int(b)) => {
                a.extend(b);
                Keys::Int(a).sorted()
            }
            (Keys::Date(mut a), Keys::Date(b)) => {
                a.extend(b);
                Keys::Date(a).sorted()
            }
            (a, _) => a,
        }
    }

    /// Sorted and distinct, as every `Keys` this module hands out.
    fn sorted(self) -> Keys {
        fn set<T: Ord>(mut v: Vec<T>) -> Vec<T> {
            v.sort_unstable();
            v.dedup();
            v
        }
        match self {
            Keys::Int(v) => Keys::Int(set(v)),
            Keys::Date(v) => Keys::Date(set(v)),
        }
    }

    /// These keys but those in `other` (of another type: all of these).
    pub fn without(&self, other: Option<&Keys>) -> Keys {
        fn difference<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
            a.iter()
                .copied()
                .filter(|k| b.binary_search(k).is_err())
                .collect()
        }
        match (self, other) {
            (Keys::Int(a), Some(Keys::Int(b))) => Keys::Int(difference(a, b)),
            (Keys::Date(a), Some(Keys::Date(b))) => Keys::Date(difference(a, b)),
            (keys, _) => keys.clone(),
        }
    }
}

/// The distinct non-null values of each of `columns` (integer or date columns) in the file at
/// `key`, read with only those columns decoded. The file was opened with [`open`] before, so
/// its schema is the catalog's.
pub fn distinct_keys(
    key: &str,
    bytes: Bytes,
    table: &WarehouseTable,
    columns: &[&str],
) -> Result<Vec<Keys>, LoadError> {
    let bad = |reason: String| LoadError::BadParquet {
        key: key.to_owned(),
        reason,
    };
    let mut keys: Vec<Keys> = columns
        .iter()
        .map(|column| match table.column(column).map(|c| c.ty) {
            Some(WarehouseType::Int) => Ok(Keys::Int(Vec::new())),
            Some(WarehouseType::Date) => Ok(Keys::Date(Vec::new())),
            _ => Err(bad(format!("{column} is not an integer or date key"))),
        })
        .collect::<Result<_, _>>()?;
    let builder = reader_of(key, bytes)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| bad_parquet(key, e))?;
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        for (column, keys) in columns.iter().zip(&mut keys) {
            let array = batch
                .column_by_name(column)
                .ok_or_else(|| bad(format!("column {column} vanished")))?;
            match keys {
                Keys::Int(v) => v.extend(array.as_primitive::<Int32Type>().iter().flatten()),
                Keys::Date(v) => v.extend(
                    array
                        .as_primitive::<Date32Type>()
                        .iter()
                        .flatten()
                        .map(date_of_days),
                ),
            }
        }
    }
    Ok(keys.into_iter().map(Keys::sorted).collect())
}

/// A Date32 value: days since 1970-01-01.
fn date_of_days(days: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(days))
}

/// The value at `row`; the array's type was checked against the catalog when the file opened.
fn value(ty: WarehouseType, array: &dyn Array, row: usize) -> Value<'_> {
    let valid = array.is_valid(row);
    match ty {
        WarehouseType::Int => {
            Value::Int(valid.then(|| array.as_primitive::<Int32Type>().value(row)))
        }
        WarehouseType::Text => Value::Text(valid.then(|| array.as_string::<i32>().value(row))),
        WarehouseType::Bool => Value::Bool(valid.then(|| array.as_boolean().value(row))),
        WarehouseType::Date => {
            Value::Date(valid.then(|| date_of_days(array.as_primitive::<Date32Type>().value(row))))
        }
        WarehouseType::Time => Value::Time(valid.then(|| {
            let micros = array.as_primitive::<Time64MicrosecondType>().value(row);
            NaiveTime::MIN + chrono::Duration::microseconds(micros)
        })),
        WarehouseType::Money => Value::Money(valid.then(|| {
            // Decimal128(10,2) holds at most 10 digits: always within i64.
            Cents(array.as_primitive::<Decimal128Type>().value(row) as i64)
        })),
        WarehouseType::Version => Value::Version(valid.then(|| {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            DateTime::from_timestamp_micros(micros).unwrap_or_default()
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(cents: i64) -> Vec<u16> {
        let mut out = BytesMut::new();
        Cents(cents).to_sql(&Type::NUMERIC, &mut out).unwrap();
        out.chunks(2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
            .collect()
    }

    #[test]
    fn keys_combine_as_sorted_sets() {
        let keys = Keys::Int(vec![1, 3, 5]).union(Keys::Int(vec![2, 3]));
        assert_eq!(keys, Keys::Int(vec![1, 2, 3, 5]));
        assert_eq!(
            keys.without(Some(&Keys::Int(vec![3, 4, 5]))),
            Keys::Int(vec![1, 2])
        );
        assert_eq!(keys.without(None), keys);
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(keys.without(Some(&Keys::Date(vec![day]))), keys);
    }

    #[test]
    fn cents_are_sent_as_the_numeric_postgres_would_send() {
        // ndigits, weight, sign, dscale, digits (base 10000, most significant first).
        assert_eq!(numeric(0), [0, 0, 0, 2]);
        assert_eq!(numeric(1), [1, 0xFFFF, 0, 2, 100]);
        assert_eq!(numeric(-1), [1, 0xFFFF, 0x4000, 2, 100]);
        assert_eq!(numeric(1250), [2, 0, 0, 2, 12, 5000]);
        assert_eq!(numeric(1200), [1, 0, 0, 2, 12]);
        assert_eq!(numeric(9_999_999_999), [3, 1, 0, 2, 9999, 9999, 9900]);
        assert_eq!(numeric(100_000_000), [1, 1, 0, 2, 100]);
        assert_eq!(numeric(1_000_001), [3, 1, 0, 2, 1, 0, 100]);
    }
}
