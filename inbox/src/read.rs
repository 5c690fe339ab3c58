//! Reading a data file record by record, in bounded memory: CSV (RFC 4180, header row), JSON
//! lines, Parquet (one record batch at a time), each optionally gzip-compressed (not Parquet).
//! A record comes out as text fields in the declaration's column order; typing them is
//! [`crate::value`]'s job. These readers are blocking: the driver runs them on a blocking
//! thread while the database takes the previous batch.
//!
//! Problems of one record (a wrong field count, invalid UTF-8 or JSON, an undeclared field) are
//! attached to the record, so the bad-rows policy decides; problems of the file (an unreadable
//! header or footer, an undeclared column, a missing NOT NULL column) end the read.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde_json::value::RawValue;

use crate::declaration::{Column, Declaration};
use crate::key::Format;

/// Rows per Parquet record batch: a batch of text fields stays well under a megabyte.
const PARQUET_BATCH_ROWS: usize = 4096;

/// One record, its fields in declaration order (reused from record to record).
#[derive(Debug, Default)]
pub struct Record {
    /// The line (CSV, JSON lines) or row (Parquet, from 1) the record starts on.
    pub line: u64,
    pub values: Vec<String>,
    /// `false`: NULL (an empty CSV field, a JSON null or a missing field, a Parquet null).
    pub present: Vec<bool>,
    /// A problem of the record found while reading it: (column or `-`, reason).
    pub problem: Option<(String, String)>,
}

impl Record {
    fn reset(&mut self, columns: usize) {
        self.values.resize_with(columns, String::new);
        self.present.clear();
        self.present.resize(columns, false);
        for v in &mut self.values {
            v.clear();
        }
        self.problem = None;
    }
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The file itself is unusable (its header, footer, columns or compression): rejected.
    Input(String),
    /// Reading failed on the way (the store's stream broke): the file is retried later.
    Io(String),
}

impl ReadError {
    fn io(e: std::io::Error, what: &str) -> ReadError {
        match e.kind() {
            std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::UnexpectedEof => {
                ReadError::Input(format!("{what}: {}", io_reason(&e)))
            }
            _ => ReadError::Io(format!("{what}: {e}")),
        }
    }
}

/// An I/O error's message; decoders' messages name kinds, not data.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the file ends early (truncated?)".into(),
        _ => e.to_string(),
    }
}

/// A reader of records.
pub trait Records {
    /// Reads the next record into `record`; `false` at the end of the file.
    fn next(&mut self, record: &mut Record) -> Result<bool, ReadError>;
    /// The raw text of the record last read, for the error table.
    fn raw(&self) -> String;
}

/// Opens `input` as `format` for `declaration`. Parquet needs a file it can seek in:
/// `spool` is where its stream is copied first.
pub fn open<'a>(
    format: Format,
    gzip: bool,
    input: Box<dyn Read + Send + 'a>,
    declaration: &'a Declaration,
    spool: impl FnOnce(Box<dyn Read + Send + 'a>) -> Result<std::fs::File, ReadError>,
) -> Result<Box<dyn Records + 'a>, ReadError> {
    let input: Box<dyn Read + Send + 'a> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else {
        input
    };
    let input = BufReader::with_capacity(1 << 20, input);
    Ok(match format {
        Format::Csv => Box::new(CsvRecords::new(input, declaration)?),
        Format::Jsonl => Box::new(JsonRecords::new(input, declaration)),
        Format::Parquet => Box::new(ParquetRecords::new(spool(Box::new(input))?, declaration)?),
    })
}

/// Where each declared column is: its index in the declaration, by name.
fn column_index(declaration: &Declaration) -> HashMap<&str, usize> {
    declaration
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect()
}

/// Checks that the file's columns are declared and every NOT NULL column is there.
fn check_columns<'a>(
    found: impl Iterator<Item = &'a str>,
    declaration: &Declaration,
    what: &str,
) -> Result<Vec<Option<usize>>, ReadError> {
    let index = column_index(declaration);
    let mut map = Vec::new();
    let mut seen = vec![false; declaration.columns.len()];
    for name in found {
        let normal = name.trim().to_ascii_lowercase();
        let Some(&j) = index.get(normal.as_str()) else {
            return Err(ReadError::Input(format!(
                "the {what} has column {normal:?}, which schema/{}.json does not declare \
                 (declare it, or drop it from the file)",
                declaration.table
            )));
        };
        if std::mem::replace(&mut seen[j], true) {
            return Err(ReadError::Input(format!(
                "the {what} has column {normal} twice"
            )));
        }
        map.push(Some(j));
    }
    if let Some(missing) = declaration
        .columns
        .iter()
        .zip(&seen)
        .find(|(c, seen)| !**seen && !c.nullable)
        .map(|(c, _)| c)
    {
        return Err(ReadError::Input(format!(
            "the {what} lacks column {}, which is NOT NULL",
            missing.name
        )));
    }
    Ok(map)
}

struct CsvRecords<R: Read> {
    reader: csv::Reader<R>,
    map: Vec<Option<usize>>,
    columns: usize,
    names: Vec<String>,
    record: csv::ByteRecord,
}

impl<R: Read> CsvRecords<R> {
    fn new(input: R, declaration: &Declaration) -> Result<Self, ReadError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| csv_error(e, "the header"))?
            .clone();
        if header.is_empty() {
            return Err(ReadError::Input("the file is empty (no header row)".into()));
        }
        let map = check_columns(header.iter(), declaration, "header")?;
        Ok(CsvRecords {
            reader,
            map,
            columns: declaration.columns.len(),
            names: declaration.columns.iter().map(|c| c.name.clone()).collect(),
            record: csv::ByteRecord::new(),
        })
    }
}

fn csv_error(e: csv::Error, what: &str) -> ReadError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => ReadError::io(e, what),
        csv::ErrorKind::Utf8 { .. } => ReadError::Input(format!("{what} is not valid UTF-8")),
        other => ReadError::Input(format!("{what} is not valid CSV ({other:?})")),
    }
}

impl<R: Read> Records for CsvRecords<R> {
    fn next(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(e, "a record"))?;
        if !more {
            return Ok(false);
        }
        record.reset(self.columns);
        record.line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.map.len() {
            record.problem = Some((
                "-".into(),
                format!(
                    "has {} fields, the header has {}",
                    self.record.len(),
                    self.map.len()
                ),
            ));
            return Ok(true);
        }
        for (field, j) in self.record.iter().zip(&self.map) {
            let Some(j) = *j else { continue };
            match std::str::from_utf8(field) {
                Ok(text) => {
                    record.present[j] = !text.is_empty();
                    record.values[j].push_str(text);
                }
                Err(_) => {
                    record.problem = Some((self.names[j].clone(), "is not valid UTF-8".into()))
                }
            }
        }
        Ok(true)
    }

    fn raw(&self) -> String {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        if writer.write_byte_record(&self.record).is_err() {
            return String::new();
        }
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }
}

struct JsonRecords<'a, R: BufRead> {
    input: R,
    declaration: &'a Declaration,
    index: HashMap<&'a str, usize>,
    line: Vec<u8>,
    number: u64,
}

impl<'a, R: BufRead> JsonRecords<'a, R> {
    fn new(input: R, declaration: &'a Declaration) -> Self {
        JsonRecords {
            input,
            declaration,
            index: column_index(declaration),
            line: Vec::new(),
            number: 0,
        }
    }
}

impl<R: BufRead> Records for JsonRecords<'_, R> {
    fn next(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        loop {
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(|e| ReadError::io(e, "reading the file"))?;
            if n == 0 {
                return Ok(false);
            }
            self.number += 1;
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            break;
        }
        record.reset(self.declaration.columns.len());
        record.line = self.number;
        let object: HashMap<String, &RawValue> = match serde_json::from_slice(&self.line) {
            Ok(object) => object,
            Err(e) => {
                let what = match e.classify() {
                    serde_json::error::Category::Data => "is not a JSON object".to_owned(),
                    _ => format!("is not valid JSON (at character {})", e.column()),
                };
                record.problem = Some(("-".into(), what));
                return Ok(true);
            }
        };
        for (name, value) in object {
            let Some(&j) = self.index.get(name.as_str()) else {
                if is_plain(&name) {
                    record.problem = Some((
                        name.clone(),
                        format!("is not declared in schema/{}.json", self.declaration.table),
                    ));
                } else {
                    record.problem = Some(("-".into(), "has an undeclared field".into()));
                }
                continue;
            };
            let raw = value.get();
            match raw.as_bytes().first() {
                Some(b'n') => {}
                Some(b'"') => match serde_json::from_str::<String>(raw) {
                    Ok(text) => {
                        record.present[j] = true;
                        record.values[j] = text;
                    }
                    Err(_) => {
                        record.problem = Some((name.clone(), "is not a valid JSON string".into()))
                    }
                },
                Some(b'{') | Some(b'[') => {
                    record.problem = Some((name.clone(), "is an object or an array".into()))
                }
                _ => {
                    record.present[j] = true;
                    record.values[j].push_str(raw);
                }
            }
        }
        Ok(true)
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.line).trim_end().to_owned()
    }
}

/// Whether a field name can be shown as it is (it names a field, not data, but only plain
/// names are repeated in messages).
fn is_plain(name: &str) -> bool {
    name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

struct ParquetRecords<'a> {
    reader: ParquetRecordBatchReader,
    columns: &'a [Column],
    map: Vec<Option<usize>>,
    batch: Option<RecordBatch>,
    row: usize,
    number: u64,
}

impl<'a> ParquetRecords<'a> {
    fn new(file: std::fs::File, declaration: &'a Declaration) -> Result<Self, ReadError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            ReadError::Input(format!(
                "not a readable Parquet file ({})",
                parquet_reason(&e)
            ))
        })?;
        let schema = builder.schema().clone();
        for field in schema.fields() {
            if !supported(field.data_type()) {
                return Err(ReadError::Input(format!(
                    "column {} has Parquet/Arrow type {}, which is not loaded exactly (floats \
                     and nested types are refused): write it as a decimal, an integer or text",
                    field.name().to_ascii_lowercase(),
                    field.data_type()
                )));
            }
        }
        let map = check_columns(
            schema.fields().iter().map(|f| f.name().as_str()),
            declaration,
            "file",
        )?;
        let reader = builder
            .with_batch_size(PARQUET_BATCH_ROWS)
            .build()
            .map_err(|e| {
                ReadError::Input(format!(
                    "not a readable Parquet file ({})",
                    parquet_reason(&e)
                ))
            })?;
        Ok(ParquetRecords {
            reader,
            columns: &declaration.columns,
            map,
            batch: None,
            row: 0,
            number: 0,
        })
    }
}

fn parquet_reason(e: &parquet::errors::ParquetError) -> String {
    match e {
        parquet::errors::ParquetError::EOF(_) => "the file ends early (truncated?)".into(),
        other => other.to_string(),
    }
}

fn supported(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Boolean
            | DataType::Decimal128(_, _)
            | DataType::Date32
            | DataType::Timestamp(_, _)
            | DataType::Null
    )
}

impl Records for ParquetRecords<'_> {
    fn next(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        loop {
            if let Some(batch) = &self.batch
                && self.row < batch.num_rows()
            {
                break;
            }
            match self.reader.next() {
                None => return Ok(false),
                Some(Err(e)) => {
                    return Err(ReadError::Input(format!("a row group is unreadable ({e})")));
                }
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.row = 0;
                }
            }
        }
        let Some(batch) = &self.batch else {
            return Ok(false);
        };
        record.reset(self.columns.len());
        self.number += 1;
        record.line = self.number;
        for (array, j) in batch.columns().iter().zip(&self.map) {
            let Some(j) = *j else { continue };
            if array.is_null(self.row) {
                continue;
            }
            record.present[j] = format_value(array, self.row, &mut record.values[j]);
            if !record.present[j] {
                record.problem = Some((
                    self.columns[j].name.clone(),
                    format!(
                        "has a value of type {} that cannot be read",
                        array.data_type()
                    ),
                ));
            }
        }
        self.row += 1;
        Ok(true)
    }

    /// Formatted again from the batch, only when asked (for a bad row), so good rows are not
    /// copied for it.
    fn raw(&self) -> String {
        let Some(batch) = &self.batch else {
            return String::new();
        };
        let row = self.row.saturating_sub(1);
        let object: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let array = self
                    .map
                    .iter()
                    .position(|m| *m == Some(j))
                    .map(|i| batch.column(i));
                let mut text = String::new();
                let value = match array {
                    Some(array) if !array.is_null(row) && format_value(array, row, &mut text) => {
                        serde_json::Value::String(text)
                    }
                    _ => serde_json::Value::Null,
                };
                (c.name.clone(), value)
            })
            .collect();
        serde_json::Value::Object(object).to_string()
    }
}

/// Writes row `i` of `array` as text; `false` if its type is not one [`supported`] reads.
fn format_value(array: &ArrayRef, i: usize, out: &mut String) -> bool {
    use std::fmt::Write;
    match array.data_type() {
        DataType::Int8 => write!(out, "{}", array.as_primitive::<Int8Type>().value(i)).is_ok(),
        DataType::Int16 => write!(out, "{}", array.as_primitive::<Int16Type>().value(i)).is_ok(),
        DataType::Int32 => write!(out, "{}", array.as_primitive::<Int32Type>().value(i)).is_ok(),
        DataType::Int64 => write!(out, "{}", array.as_primitive::<Int64Type>().value(i)).is_ok(),
        DataType::UInt8 => write!(out, "{}", array.as_primitive::<UInt8Type>().value(i)).is_ok(),
        DataType::UInt16 => write!(out, "{}", array.as_primitive::<UInt16Type>().value(i)).is_ok(),
        DataType::UInt32 => write!(out, "{}", array.as_primitive::<UInt32Type>().value(i)).is_ok(),
        DataType::UInt64 => write!(out, "{}", array.as_primitive::<UInt64Type>().value(i)).is_ok(),
        DataType::Utf8 => {
            out.push_str(array.as_string::<i32>().value(i));
            true
        }
        DataType::LargeUtf8 => {
            out.push_str(array.as_string::<i64>().value(i));
            true
        }
        DataType::Boolean => {
            out.push_str(if array.as_boolean().value(i) {
                "true"
            } else {
                "false"
            });
            true
        }
        DataType::Decimal128(_, scale) => {
            decimal(array.as_primitive::<Decimal128Type>().value(i), *scale, out);
            true
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            match chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163) {
                Some(d) => write!(out, "{}", d.format("%Y-%m-%d")).is_ok(),
                None => false,
            }
        }
        DataType::Timestamp(unit, tz) => timestamp(array, i, *unit, tz.is_some(), out),
        _ => false,
    }
}

fn timestamp(array: &ArrayRef, i: usize, unit: TimeUnit, utc: bool, out: &mut String) -> bool {
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    use std::fmt::Write;
    let (secs, nanos) = match unit {
        TimeUnit::Second => (array.as_primitive::<TimestampSecondType>().value(i), 0),
        TimeUnit::Millisecond => {
            let v = array.as_primitive::<TimestampMillisecondType>().value(i);
            (v.div_euclid(1000), v.rem_euclid(1000) * 1_000_000)
        }
        TimeUnit::Microsecond => {
            let v = array.as_primitive::<TimestampMicrosecondType>().value(i);
            (v.div_euclid(1_000_000), v.rem_euclid(1_000_000) * 1000)
        }
        TimeUnit::Nanosecond => {
            let v = array.as_primitive::<TimestampNanosecondType>().value(i);
            (v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000))
        }
    };
    let Some(t) = chrono::DateTime::from_timestamp(secs, u32::try_from(nanos).unwrap_or(0)) else {
        return false;
    };
    // Nanoseconds are written as they are: the value parser refuses what it would round.
    let fraction = if nanos % 1000 == 0 { "%.6f" } else { "%.9f" };
    let format = format!("%Y-%m-%d %H:%M:%S{fraction}{}", if utc { "Z" } else { "" });
    write!(out, "{}", t.naive_utc().format(&format)).is_ok()
}

/// An unscaled 128-bit integer as a decimal with `scale` digits after the point.
fn decimal(unscaled: i128, scale: i8, out: &mut String) {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', usize::from(scale.unsigned_abs())));
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration() -> Declaration {
        Declaration::parse(
            "t",
            br#"{"table": "t", "columns": [{"name": "id", "type": "integer", "nullable": false},
                {"name": "name", "type": "text"}, {"name": "amount", "type": "numeric(10,2)"}]}"#,
        )
        .unwrap()
    }

    fn all(mut records: Box<dyn Records + '_>) -> Vec<(u64, Vec<Option<String>>, Option<String>)> {
        let mut out = Vec::new();
        let mut r = Record::default();
        while records.next(&mut r).unwrap() {
            out.push((
                r.line,
                r.values
                    .iter()
                    .zip(&r.present)
                    .map(|(v, p)| p.then(|| v.clone()))
                    .collect(),
                r.problem.as_ref().map(|(c, why)| format!("{c}: {why}")),
            ));
        }
        out
    }

    fn no_spool(_: Box<dyn Read + Send + '_>) -> Result<std::fs::File, ReadError> {
        Err(ReadError::Input("no spool".into()))
    }

    #[test]
    fn csv_maps_the_header_and_flags_bad_records() {
        let d = declaration();
        let csv = "amount,ID,name\n1.50,1,\"a, b\"\n,2,\n3,\n\"4\",4,\"multi\nline\"\n";
        let input: Box<dyn Read + Send> = Box::new(csv.as_bytes());
        let rows = all(open(Format::Csv, false, input, &d, no_spool).unwrap());
        assert_eq!(
            rows[0],
            (
                2,
                vec![Some("1".into()), Some("a, b".into()), Some("1.50".into())],
                None
            )
        );
        assert_eq!(rows[1], (3, vec![Some("2".into()), None, None], None));
        assert_eq!(
            rows[2].2.as_deref(),
            Some("-: has 2 fields, the header has 3")
        );
        assert_eq!(rows[3].0, 5);
        assert_eq!(rows[3].1[1].as_deref(), Some("multi\nline"));
    }

    #[test]
    fn csv_header_problems_end_the_read() {
        let d = declaration();
        for (csv, expected) in [
            ("id,name,colour\n", "column \"colour\""),
            ("name\n", "lacks column id"),
            ("", "empty"),
        ] {
            let input: Box<dyn Read + Send> = Box::new(csv.as_bytes());
            let Err(ReadError::Input(why)) = open(Format::Csv, false, input, &d, no_spool) else {
                panic!("{csv}: expected an input error");
            };
            assert!(why.contains(expected), "{why}");
        }
    }

    #[test]
    fn json_lines_keep_exact_numbers() {
        let d = declaration();
        let jsonl = "{\"id\": 1, \"amount\": 12345678.10, \"name\": \"x\\ty\"}\n\n{\"id\": 2, \"amount\": \"0.1\", \"extra\": 1}\nnot json\n{\"id\": [1]}\n";
        let input: Box<dyn Read + Send> = Box::new(jsonl.as_bytes());
        let rows = all(open(Format::Jsonl, false, input, &d, no_spool).unwrap());
        assert_eq!(
            rows[0].1,
            vec![
                Some("1".into()),
                Some("x\ty".into()),
                Some("12345678.10".into())
            ]
        );
        assert_eq!(rows[1].0, 3);
        assert_eq!(
            rows[1].2.as_deref(),
            Some("extra: is not declared in schema/t.json")
        );
        assert!(rows[2].2.as_deref().unwrap().contains("not valid JSON"));
        assert_eq!(rows[3].2.as_deref(), Some("id: is an object or an array"));
    }

    #[test]
    fn gzip_is_read_through() {
        use std::io::Write;
        let d = declaration();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"id\n7\n").unwrap();
        let bytes = gz.finish().unwrap();
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes));
        let rows = all(open(Format::Csv, true, input, &d, no_spool).unwrap());
        assert_eq!(rows[0].1[0].as_deref(), Some("7"));
        let input: Box<dyn Read + Send> = Box::new(&b"not gzip"[..]);
        assert!(matches!(
            open(Format::Csv, true, input, &d, no_spool),
            Err(ReadError::Input(_))
        ));
    }

    #[test]
    fn parquet_rows_read_in_order_and_a_bad_row_shows_its_raw_fields() {
        use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
        use std::sync::Arc;
        let d = declaration();
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![1, 3_000_000_000])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut file = tempfile::tempfile().unwrap();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let mut records = ParquetRecords::new(file, &d).unwrap();
        let mut r = Record::default();
        assert!(records.next(&mut r).unwrap());
        assert_eq!((r.line, r.values[0].as_str(), r.present[1]), (1, "1", true));
        assert!(records.next(&mut r).unwrap());
        assert_eq!(
            (r.line, r.values[0].as_str(), r.present[1]),
            (2, "3000000000", false)
        );
        assert_eq!(
            records.raw(),
            r#"{"amount":null,"id":"3000000000","name":null}"#
        );
        assert!(!records.next(&mut r).unwrap());
    }

    #[test]
    fn decimals_format_exactly() {
        let mut s = String::new();
        decimal(-1234, 2, &mut s);
        assert_eq!(s, "-12.34");
        s.clear();
        decimal(5, 3, &mut s);
        assert_eq!(s, "0.005");
        s.clear();
        decimal(12, -2, &mut s);
        assert_eq!(s, "1200");
    }
}
