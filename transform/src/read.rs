//! Reads landing NDJSON into typed polars frames, with the schema taken from the source catalog
//! (never inferred from data) and every value checked on the way in.
//!
//! Column representations in the frames (exact, no floats anywhere):
//! integer -> Int32; text, varchar, enums -> String; boolean -> Boolean;
//! numeric(p,s) -> Int64 in units of 10^-s (cents for money); timestamps -> Int64 microseconds
//! since the Unix epoch (UTC); the source's text dates -> Int32 days since the epoch.

use chrono::{DateTime, NaiveDate};
use etl_contract::catalog::{ColumnType, SourceTable};
use polars::prelude::{Column, DataFrame, NamedFrom, PlSmallStr, Series};
use serde_json::{Map, Value};

use crate::error::TransformError;

/// Source columns holding a date as `YYYY-MM-DD` text, which the warehouse stores as `date`.
pub const TEXT_DATES: [(&str, &str); 5] = [
    ("sales_order", "agreed_delivery_date"),
    ("sales_order", "agreed_payment_date"),
    ("purchase_order", "agreed_delivery_date"),
    ("purchase_order", "agreed_payment_date"),
    ("payment", "payment_date"),
];

/// How one source column is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    Int,
    Text,
    Bool,
    Scaled { precision: u32, scale: u32 },
    Micros,
    Days,
}

fn parse_of(table: &str, column: &str, ty: &ColumnType) -> Parse {
    match ty {
        ColumnType::Integer => Parse::Int,
        ColumnType::Boolean => Parse::Bool,
        ColumnType::Numeric { precision, scale } => Parse::Scaled {
            precision: *precision,
            scale: *scale,
        },
        ColumnType::Timestamp { .. } => Parse::Micros,
        ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Enum(_) => {
            if TEXT_DATES.contains(&(table, column)) {
                Parse::Days
            } else {
                Parse::Text
            }
        }
    }
}

/// Values of one column, as they accumulate.
#[derive(Debug)]
enum Values {
    Int(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    I64(Vec<Option<i64>>),
}

/// One parsed value.
#[derive(Debug)]
enum Cell {
    Null,
    Int(i32),
    Text(String),
    Bool(bool),
    I64(i64),
}

/// Rows of one source table being read.
#[derive(Debug)]
pub struct SourceRows {
    table: &'static SourceTable,
    parses: Vec<Parse>,
    values: Vec<Values>,
    rows: usize,
}

impl SourceRows {
    pub fn new(table: &'static SourceTable) -> Self {
        let parses: Vec<Parse> = table
            .columns
            .iter()
            .map(|c| parse_of(table.name, c.name, &c.ty))
            .collect();
        let values = parses
            .iter()
            .map(|p| match p {
                Parse::Int | Parse::Days => Values::Int(Vec::new()),
                Parse::Text => Values::Text(Vec::new()),
                Parse::Bool => Values::Bool(Vec::new()),
                Parse::Scaled { .. } | Parse::Micros => Values::I64(Vec::new()),
            })
            .collect();
        SourceRows {
            table,
            parses,
            values,
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Parses one JSON line (`line` is 1-based, for messages) and returns it as an object.
    pub fn push_line(
        &mut self,
        key: &str,
        line: u64,
        text: &str,
    ) -> Result<Map<String, Value>, TransformError> {
        let malformed = |reason: String| TransformError::BadValue {
            key: key.to_owned(),
            line,
            column: None,
            row: None,
            reason,
        };
        let object: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| malformed(format!("not a JSON object ({})", json_problem(&e))))?;
        let row = object
            .get(self.table.primary_key)
            .and_then(Value::as_i64)
            .map(|id| format!("{} {id}", self.table.primary_key));
        let bad = |column: Option<&str>, reason: String| TransformError::BadValue {
            key: key.to_owned(),
            line,
            column: column.map(str::to_owned),
            row: row.clone(),
            reason,
        };
        if let Some(extra) = object.keys().find(|k| self.table.column(k).is_none()) {
            return Err(bad(
                Some(extra),
                format!("field is not a column of source table {}", self.table.name),
            ));
        }
        // Parse the whole line before appending, so a rejected line leaves no partial row.
        // Reasons name what was found (a JSON type, a digit count), never the value itself.
        let mut parsed = Vec::with_capacity(self.parses.len());
        for (column, parse) in self.table.columns.iter().zip(&self.parses) {
            let at = Some(column.name);
            let value = object
                .get(column.name)
                .ok_or_else(|| bad(at, "field is missing".into()))?;
            if value.is_null() {
                if !column.nullable {
                    return Err(bad(at, "null in a NOT NULL column".into()));
                }
                parsed.push(Cell::Null);
                continue;
            }
            let found = json_kind(value);
            let cell = match parse {
                Parse::Int => Cell::Int(
                    value
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| bad(at, format!("{found} is not a 32-bit integer")))?,
                ),
                Parse::Text => Cell::Text(
                    value
                        .as_str()
                        .ok_or_else(|| bad(at, format!("{found} is not a string")))?
                        .to_owned(),
                ),
                Parse::Bool => Cell::Bool(
                    value
                        .as_bool()
                        .ok_or_else(|| bad(at, format!("{found} is not a boolean")))?,
                ),
                Parse::Scaled { precision, scale } => {
                    let text = value.as_str().ok_or_else(|| {
                        bad(at, format!("{found}: numeric values must be JSON strings"))
                    })?;
                    Cell::I64(parse_scaled(text, *precision, *scale).ok_or_else(|| {
                        bad(
                            at,
                            format!(
                                "not a numeric({precision},{scale}): {}",
                                scaled_problem(text, *precision, *scale)
                            ),
                        )
                    })?)
                }
                Parse::Micros => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| bad(at, format!("{found} is not a timestamp string")))?;
                    Cell::I64(parse_micros(text).ok_or_else(|| {
                        bad(at, "a string that is not an RFC 3339 UTC timestamp".into())
                    })?)
                }
                Parse::Days => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| bad(at, format!("{found} is not a date string")))?;
                    Cell::Int(parse_days(text).ok_or_else(|| {
                        bad(at, "a string that is not a valid YYYY-MM-DD date".into())
                    })?)
                }
            };
            parsed.push(cell);
        }
        for (cell, values) in parsed.into_iter().zip(&mut self.values) {
            match (cell, values) {
                (Cell::Null, Values::Int(v)) => v.push(None),
                (Cell::Null, Values::Text(v)) => v.push(None),
                (Cell::Null, Values::Bool(v)) => v.push(None),
                (Cell::Null, Values::I64(v)) => v.push(None),
                (Cell::Int(x), Values::Int(v)) => v.push(Some(x)),
                (Cell::Text(x), Values::Text(v)) => v.push(Some(x)),
                (Cell::Bool(x), Values::Bool(v)) => v.push(Some(x)),
                (Cell::I64(x), Values::I64(v)) => v.push(Some(x)),
                // Parse and Values are built from the same match in `new`; they always agree.
                _ => return Err(bad(None, "internal: parser and column disagree".into())),
            }
        }
        self.rows += 1;
        Ok(object)
    }

    /// The rows as a frame with one column per source column, in catalog order.
    pub fn into_frame(self) -> Result<DataFrame, TransformError> {
        let table = self.table.name;
        let columns: Vec<Column> = self
            .table
            .columns
            .iter()
            .zip(self.values)
            .map(|(column, values)| {
                let name = PlSmallStr::from_static(column.name);
                let series = match values {
                    Values::Int(v) => Series::new(name, v),
                    Values::Text(v) => Series::new(name, v),
                    Values::Bool(v) => Series::new(name, v),
                    Values::I64(v) => Series::new(name, v),
                };
                series.into()
            })
            .collect();
        DataFrame::new(self.rows, columns).map_err(TransformError::frame(table))
    }
}

/// Parses a decimal string into an integer count of `10^-scale` units, refusing anything that
/// does not fit `numeric(precision, scale)` exactly (more fraction digits, too many digits,
/// exponents, signs in odd places).
/// What kind of JSON value this is, for messages that must not quote it.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where a line stops being a JSON object, without quoting it (serde's messages can).
fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax => format!("malformed JSON at character {}", error.column()),
        Category::Eof => "the line ends inside a JSON value".into(),
        Category::Data => "valid JSON, but not an object".into(),
        Category::Io => "unreadable".into(),
    }
}

/// Why [`parse_scaled`] refused `text`, in counts rather than digits.
fn scaled_problem(text: &str, precision: u32, scale: u32) -> String {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return "not a plain decimal number".into();
    }
    if fraction.len() > scale as usize {
        return format!(
            "{} digits after the decimal point, at most {scale}",
            fraction.len()
        );
    }
    format!(
        "{} digits before the decimal point, at most {}",
        whole.trim_start_matches('0').len(),
        precision - scale
    )
}

pub fn parse_scaled(text: &str, precision: u32, scale: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if fraction.len() > scale as usize {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > (precision - scale) as usize {
        return None;
    }
    let mut units: i64 = 0;
    for b in whole.bytes() {
        units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let padded = format!("{fraction:0<width$}", width = scale as usize);
    for b in padded.bytes() {
        units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -units } else { units })
}

/// Parses the contract's timestamp form (RFC 3339, UTC) into microseconds since the epoch.
pub fn parse_micros(text: &str) -> Option<i64> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    if t.offset().local_minus_utc() != 0 || t.timestamp_subsec_nanos() % 1_000 != 0 {
        return None;
    }
    Some(t.timestamp_micros())
}

/// Parses a strict `YYYY-MM-DD` into days since the epoch.
pub fn parse_days(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etl_contract::catalog::source_table;

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(parse_scaled("99999999.99", 10, 2), Some(9_999_999_999));
        assert_eq!(parse_scaled("-0.01", 10, 2), Some(-1));
        assert_eq!(parse_scaled("0.00", 10, 2), Some(0));
        assert_eq!(parse_scaled("3.5", 10, 2), Some(350));
        assert_eq!(parse_scaled("100000000.00", 10, 2), None);
        assert_eq!(parse_scaled("1e12", 10, 2), None);
        assert_eq!(parse_scaled("1.001", 10, 2), None);
        assert_eq!(parse_scaled("", 10, 2), None);
        assert_eq!(parse_scaled("-", 10, 2), None);
        assert_eq!(parse_scaled("1.-2", 10, 2), None);
    }

    #[test]
    fn timestamps_and_dates_are_strict() {
        assert_eq!(parse_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(parse_micros("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(parse_micros("2024-01-01T00:00:00+01:00"), None);
        assert_eq!(parse_days("1970-01-02"), Some(1));
        assert_eq!(parse_days("2024-02-30"), None);
        assert_eq!(parse_days("2024-2-3"), None);
    }

    #[test]
    fn bad_lines_name_line_and_column() {
        let mut rows = SourceRows::new(source_table("currency").unwrap());
        let good = r#"{"currency_id":1,"currency_code":"GBP","created_at":"2024-01-01T00:00:00.000000Z","last_updated":"2024-01-01T00:00:00.000000Z"}"#;
        rows.push_line("k", 1, good).unwrap();
        let err = rows
            .push_line("k", 2, &good.replace("\"GBP\"", "null"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "k line 2, column currency_code: null in a NOT NULL column (currency_id 1)"
        );
        let err = rows
            .push_line("k", 3, &good.replace("}", ",\"extra\":1}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3, column extra"), "{err}");
        let err = rows.push_line("k", 4, "{oops").unwrap_err().to_string();
        assert!(err.starts_with("k line 4: not a JSON object"), "{err}");
        assert_eq!(rows.len(), 1);
    }
}
