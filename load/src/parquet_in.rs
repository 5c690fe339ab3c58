//! Reads a processed Parquet file and streams it into a binary COPY, one row group at a time.
//!
//! The file's schema must be exactly the catalog's (names, Arrow types, nullability): a file
//! that drifted fails naming the column before anything is loaded.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use etl_contract::warehouse::{WarehouseTable, WarehouseType};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::error::LoadError;

/// The Postgres type of a staged column, for the binary COPY.
pub fn copy_type(ty: WarehouseType) -> Type {
    match ty {
        WarehouseType::Int => Type::INT4,
        WarehouseType::Text => Type::TEXT,
        WarehouseType::Bool => Type::BOOL,
        WarehouseType::Date => Type::DATE,
        WarehouseType::Time => Type::TIME,
        WarehouseType::Money => Type::INT8,
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
    let bad = |reason: String| LoadError::BadParquet {
        key: key.to_owned(),
        reason,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let rows = builder.metadata().file_metadata().num_rows() as u64;
    let schema = builder.schema().clone();
    for column in table.columns {
        let field = schema
            .field_with_name(column.name)
            .map_err(|_| LoadError::BadColumn {
                key: key.to_owned(),
                column: column.name.to_owned(),
                reason: format!("missing from the file (expected by {})", table.name),
            })?;
        let expected = column.ty.arrow();
        if field.data_type() != &expected {
            return Err(LoadError::BadColumn {
                key: key.to_owned(),
                column: column.name.to_owned(),
                reason: format!("has type {}, expected {expected}", field.data_type()),
            });
        }
        if field.is_nullable() && !column.nullable {
            return Err(LoadError::BadColumn {
                key: key.to_owned(),
                column: column.name.to_owned(),
                reason: "is nullable in the file but NOT NULL in the warehouse".into(),
            });
        }
    }
    if let Some(extra) = schema
        .fields()
        .iter()
        .find(|f| table.column(f.name()).is_none())
    {
        return Err(LoadError::BadColumn {
            key: key.to_owned(),
            column: extra.name().clone(),
            reason: format!("is not a column of {}", table.name),
        });
    }
    let reader = builder
        .build()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    Ok((reader, rows))
}

/// One staged value; borrows text from the batch.
enum Value<'a> {
    Int(Option<i32>),
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Time(Option<NaiveTime>),
    Cents(Option<i64>),
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
            Value::Cents(v) => v,
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

/// The value at `row`; the array's type was checked against the catalog when the file opened.
fn value(ty: WarehouseType, array: &dyn Array, row: usize) -> Value<'_> {
    let valid = array.is_valid(row);
    match ty {
        WarehouseType::Int => {
            Value::Int(valid.then(|| array.as_primitive::<Int32Type>().value(row)))
        }
        WarehouseType::Text => Value::Text(valid.then(|| array.as_string::<i32>().value(row))),
        WarehouseType::Bool => Value::Bool(valid.then(|| array.as_boolean().value(row))),
        WarehouseType::Date => Value::Date(valid.then(|| {
            epoch()
                + chrono::Duration::days(i64::from(array.as_primitive::<Date32Type>().value(row)))
        })),
        WarehouseType::Time => Value::Time(valid.then(|| {
            let micros = array.as_primitive::<Time64MicrosecondType>().value(row);
            NaiveTime::MIN + chrono::Duration::microseconds(micros)
        })),
        WarehouseType::Money => Value::Cents(valid.then(|| {
            // Decimal128(10,2) holds at most 10 digits: always within i64.
            array.as_primitive::<Decimal128Type>().value(row) as i64
        })),
        WarehouseType::Version => Value::Version(valid.then(|| {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            DateTime::from_timestamp_micros(micros).unwrap_or_default()
        })),
    }
}
