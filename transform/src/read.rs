//! Reads landing NDJSON into typed polars frames, with the schema taken from the source catalog
//! (never inferred from data) and every value checked on the way in.
//!
//! Column representations in the frames (exact, no floats anywhere):
//! integer -> Int32; text, varchar, enums -> String; boolean -> Boolean;
//! numeric(p,s) -> Int64 in units of 10^-s (cents for money); timestamps -> Int64 microseconds
//! since the Unix epoch (UTC); the source's text dates -> Int32 days since the epoch.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate};
use etl_contract::catalog::{ColumnType, SourceTable};
use polars::prelude::{Column, DataFrame, NamedFrom, PlSmallStr, Series};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
    /// The primary key's column index, to name a bad row by its key.
    primary_key: Option<usize>,
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
            primary_key: table
                .columns
                .iter()
                .position(|c| c.name == table.primary_key),
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

    /// Parses one JSON line (`line` is 1-based, for messages) into the columns.
    pub fn push_line(&mut self, key: &str, line: u64, text: &str) -> Result<(), TransformError> {
        let malformed = |reason: String| TransformError::BadValue {
            key: key.to_owned(),
            line,
            column: None,
            row: None,
            reason,
        };
        let fields = Fields::read(self.table, text)
            .map_err(|e| malformed(format!("not a JSON object ({})", json_problem(&e))))?;
        let row = self
            .primary_key
            .and_then(|i| fields.values[i].as_ref())
            .and_then(Field::as_i64)
            .map(|id| format!("{} {id}", self.table.primary_key));
        let bad = |column: Option<&str>, reason: String| TransformError::BadValue {
            key: key.to_owned(),
            line,
            column: column.map(str::to_owned),
            row: row.clone(),
            reason,
        };
        if let Some(extra) = &fields.extra {
            return Err(bad(
                Some(extra),
                format!("field is not a column of source table {}", self.table.name),
            ));
        }
        // Parse the whole line before appending, so a rejected line leaves no partial row.
        // Reasons name what was found (a JSON type, a digit count), never the value itself.
        let mut parsed = Vec::with_capacity(self.parses.len());
        for ((column, parse), value) in self
            .table
            .columns
            .iter()
            .zip(&self.parses)
            .zip(&fields.values)
        {
            let at = Some(column.name);
            let value = value
                .as_ref()
                .ok_or_else(|| bad(at, "field is missing".into()))?;
            if matches!(value, Field::Null) {
                if !column.nullable {
                    return Err(bad(at, "null in a NOT NULL column".into()));
                }
                parsed.push(Cell::Null);
                continue;
            }
            let found = value.kind();
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
        Ok(())
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
/// One value of a line, borrowed from it where it has no escapes. Arrays and objects are
/// skipped, only their kind kept: no column holds one.
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64, or a number with a fraction or exponent.
    Number {
        integer: bool,
    },
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Field<'_> {
    /// What kind of JSON value this is, for messages that must not quote it.
    fn kind(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Bool(_) => "a boolean",
            Field::Int(_) | Field::Number { integer: true } => "an integer",
            Field::Number { integer: false } => "a fractional number",
            Field::Str(_) => "a string",
            Field::Array => "an array",
            Field::Object => "an object",
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Field::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Field::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Field::Number { integer: true }, Field::Int))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Number { integer: false })
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Object)
    }
}

/// A line's values in catalog column order (`None`: the field is absent), and the first (by
/// name) field that is not a column. Read straight from the text: no map of the line is built.
#[derive(Debug)]
struct Fields<'a> {
    values: Vec<Option<Field<'a>>>,
    extra: Option<String>,
}

impl<'a> Fields<'a> {
    fn read(table: &SourceTable, text: &'a str) -> Result<Self, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let fields = LineSeed(table).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(fields)
    }
}

struct LineSeed<'t>(&'t SourceTable);

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Fields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let columns = self.0.columns;
        let mut fields = Fields {
            values: vec![None; columns.len()],
            extra: None,
        };
        // Keys as `Field`s: a `Cow<str>` key would always be copied (serde borrows only when
        // told to, which `next_key` cannot be); JSON keys are always strings.
        while let Some(key) = map.next_key::<Field<'de>>()? {
            let value = map.next_value::<Field<'de>>()?;
            let Field::Str(name) = key else { continue };
            match columns.iter().position(|c| c.name == name) {
                // A repeated field: the last one counts, as in a JSON object.
                Some(i) => fields.values[i] = Some(value),
                None => {
                    if fields.extra.as_deref().is_none_or(|e| *name < *e) {
                        fields.extra = Some(name.into_owned());
                    }
                }
            }
        }
        Ok(fields)
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
    for b in fraction.bytes() {
        units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    for _ in fraction.len()..scale as usize {
        units = units.checked_mul(10)?;
    }
    Some(if negative { -units } else { units })
}

/// Parses the contract's timestamp form (RFC 3339, UTC) into microseconds since the epoch.
pub fn parse_micros(text: &str) -> Option<i64> {
    if let Some(micros) = parse_contract_micros(text) {
        return Some(micros);
    }
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    if t.offset().local_minus_utc() != 0 || t.timestamp_subsec_nanos() % 1_000 != 0 {
        return None;
    }
    Some(t.timestamp_micros())
}

/// The form extract writes, `2026-11-25T08:15:00.123456Z`, read digit by digit: most of a
/// run's values, and several times cheaper than the general RFC 3339 parser. Anything else
/// (other fractions, offsets, a leap second) is left to that parser.
fn parse_contract_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 27 || [b[4], b[7], b[10], b[13], b[16], b[19], b[26]] != *b"--T::.Z" {
        return None;
    }
    let number = |range: std::ops::Range<usize>| decimal(&b[range]);
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(seconds * 1_000_000 + i64::from(number(20..26)?))
}

/// The value of a run of ASCII digits (at most 9 here); `None` if any byte is not a digit.
fn decimal(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// Parses a strict `YYYY-MM-DD` into days since the epoch.
pub fn parse_days(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    let b = text.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| decimal(&b[range]);
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    i32::try_from(i64::from(date.num_days_from_ce()) - 719_163).ok()
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
    fn the_contract_form_reads_as_the_general_parser_reads_it() {
        let general = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_micros())
        };
        let mut t = chrono::DateTime::from_timestamp_micros(-62_000_000_000_000_000).unwrap();
        let end = chrono::DateTime::from_timestamp_micros(253_000_000_000_000_000).unwrap();
        let mut checked = 0;
        while t < end {
            let text = etl_contract::time::format_micros(t);
            assert_eq!(parse_contract_micros(&text), general(&text), "{text}");
            assert_eq!(parse_micros(&text), Some(t.timestamp_micros()), "{text}");
            t += chrono::Duration::microseconds(3_213_000_123_457);
            checked += 1;
        }
        assert!(checked > 90_000, "{checked}");
        for odd in [
            "2024-02-30T00:00:00.000000Z",
            "2024-01-01T24:00:00.000000Z",
            "2024-01-01T00:00:60.000000Z",
            "2024-01-01T00:00:00.00000aZ",
            "2024-01-01 00:00:00.000000Z",
            "+024-01-01T00:00:00.000000Z",
        ] {
            assert_eq!(parse_contract_micros(odd), None, "{odd}");
        }
        assert_eq!(
            parse_micros("2024-01-01T00:00:00Z"),
            general("2024-01-01T00:00:00Z")
        );
    }

    #[test]
    fn timestamps_and_dates_are_strict() {
        assert_eq!(parse_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(parse_micros("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(parse_micros("2024-01-01T00:00:00+01:00"), None);
        assert_eq!(parse_days("1970-01-02"), Some(1));
        assert_eq!(parse_days("2024-02-30"), None);
        assert_eq!(parse_days("2024-2-3"), None);
        assert_eq!(parse_days("2024-02-29"), Some(19_782));
        assert_eq!(parse_days("1969-12-31"), Some(-1));
        assert_eq!(parse_days("2024/02/29"), None);
        assert_eq!(parse_days("2024-0a-29"), None);
        assert_eq!(parse_days("+024-02-29"), None);
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
