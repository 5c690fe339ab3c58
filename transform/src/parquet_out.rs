//! Writes warehouse frames as Parquet with the contract's exact types: Decimal128(10,2) money,
//! Date32 dates, Time64(us) times, Timestamp(us, UTC) versions, zstd. The Arrow schema comes
//! from the warehouse catalog, not from the frame, so a frame that drifted from the catalog
//! fails here instead of producing a file load would misread. Its fields carry their Iceberg
//! field ids, so the lake registers these files as they are.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, RecordBatch, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use etl_contract::warehouse::{WarehouseTable, WarehouseType};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use polars::prelude::DataFrame;

use crate::error::TransformError;

/// Rows per row group: load streams one row group at a time, so this bounds its memory.
pub const ROW_GROUP_ROWS: usize = 65_536;

fn array(
    frame: &DataFrame,
    table: &'static str,
    name: &str,
    ty: WarehouseType,
) -> Result<ArrayRef, TransformError> {
    let polars = |e| TransformError::Frame { table, source: e };
    let column = frame.column(name).map_err(polars)?;
    Ok(match ty {
        WarehouseType::Int => Arc::new(Int32Array::from_iter(column.i32().map_err(polars)?.iter())),
        WarehouseType::Date => {
            Arc::new(Date32Array::from_iter(column.i32().map_err(polars)?.iter()))
        }
        WarehouseType::Text => {
            Arc::new(StringArray::from_iter(column.str().map_err(polars)?.iter()))
        }
        WarehouseType::Bool => Arc::new(BooleanArray::from_iter(
            column.bool().map_err(polars)?.iter(),
        )),
        WarehouseType::Time => Arc::new(Time64MicrosecondArray::from_iter(
            column.i64().map_err(polars)?.iter(),
        )),
        WarehouseType::Money => Arc::new(
            Decimal128Array::from_iter(
                column
                    .i64()
                    .map_err(polars)?
                    .iter()
                    .map(|v| v.map(i128::from)),
            )
            .with_precision_and_scale(10, 2)
            .map_err(|e| TransformError::Parquet {
                table,
                reason: e.to_string(),
            })?,
        ),
        WarehouseType::Version => Arc::new(
            TimestampMicrosecondArray::from_iter(column.i64().map_err(polars)?.iter())
                .with_timezone("UTC"),
        ),
    })
}

/// The frame as one Arrow record batch in the table's schema.
pub fn record_batch(
    table: &'static WarehouseTable,
    frame: &DataFrame,
) -> Result<RecordBatch, TransformError> {
    let arrays = table
        .columns
        .iter()
        .map(|c| array(frame, table.name, c.name, c.ty))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::new(table.arrow_schema()), arrays).map_err(|e| {
        TransformError::Parquet {
            table: table.name,
            reason: e.to_string(),
        }
    })
}

/// Encodes the frame as a Parquet file. Same frame, same bytes.
pub fn to_parquet(
    table: &'static WarehouseTable,
    frame: &DataFrame,
) -> Result<Vec<u8>, TransformError> {
    let batch = record_batch(table, frame)?;
    let failed = |e: parquet::errors::ParquetError| TransformError::Parquet {
        table: table.name,
        reason: e.to_string(),
    };
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(failed)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).map_err(failed)?;
    writer.write(&batch).map_err(failed)?;
    writer.close().map_err(failed)?;
    Ok(bytes)
}
