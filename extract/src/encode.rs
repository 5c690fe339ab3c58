//! One source row as one NDJSON line, encoded here from the binary protocol.
//!
//! Postgres sends each value in its binary form and this module writes the contract's text
//! forms (docs/architecture.md §4): timestamps as RFC 3339 UTC with six fractional digits (the
//! columns hold UTC wall-clock time; the binary form has no time zone, so the session's never
//! applies), `numeric` as its exact decimal text at the column's scale, enums and text as JSON
//! strings, NULL as null. Nothing passes through a float.
//!
//! Encoding here rather than with `row_to_json` in the server: the statement logs of a full
//! load showed JSON building (`row_to_json` and `to_char`) as most of the source backend's
//! per-row time, and on two cores that backend shares the CPU with transform and load.

use std::fmt;

use etl_contract::catalog::{ColumnType, SourceTable};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

/// Columns the window query selects before the table's own: `last_updated` and the primary key
/// (`crate::sql::window_rows`).
pub const LEADING_COLUMNS: usize = 2;

/// Why a value could not be encoded. Never carries the value: it may be customer data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    pub column: &'static str,
    pub reason: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.reason)
    }
}

/// Encodes rows of one table; the JSON keys are rendered once.
#[derive(Debug)]
pub struct RowEncoder {
    columns: Vec<(&'static str, ColumnType, Vec<u8>)>,
}

impl RowEncoder {
    pub fn new(table: &SourceTable) -> Self {
        let columns = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut key = Vec::with_capacity(c.name.len() + 4);
                key.push(if i == 0 { b'{' } else { b',' });
                // A &str always serialises.
                let _ = serde_json::to_writer(&mut key, c.name);
                key.push(b':');
                (c.name, c.ty, key)
            })
            .collect();
        RowEncoder { columns }
    }

    /// Appends the row's JSON object (no newline) to `out`.
    pub fn encode(&self, row: &Row, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for (i, (name, ty, key)) in self.columns.iter().enumerate() {
            out.extend_from_slice(key);
            let idx = LEADING_COLUMNS + i;
            let bad = |reason: String| EncodeError {
                column: name,
                reason,
            };
            let decode = |e: tokio_postgres::Error| bad(format!("cannot be decoded: {e}"));
            match ty {
                ColumnType::Integer => match row.try_get::<_, Option<i32>>(idx).map_err(decode)? {
                    Some(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
                    None => out.extend_from_slice(b"null"),
                },
                ColumnType::Boolean => match row.try_get::<_, Option<bool>>(idx).map_err(decode)? {
                    Some(true) => out.extend_from_slice(b"true"),
                    Some(false) => out.extend_from_slice(b"false"),
                    None => out.extend_from_slice(b"null"),
                },
                ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Enum(_) => {
                    match row.try_get::<_, Option<&str>>(idx).map_err(decode)? {
                        // A &str always serialises.
                        Some(v) => {
                            let _ = serde_json::to_writer(&mut *out, v);
                        }
                        None => out.extend_from_slice(b"null"),
                    }
                }
                ColumnType::Numeric { .. } => {
                    match row.try_get::<_, Option<Raw>>(idx).map_err(decode)? {
                        Some(Raw(raw)) => {
                            out.push(b'"');
                            numeric_text(raw, out).map_err(|r| bad(r.to_owned()))?;
                            out.push(b'"');
                        }
                        None => out.extend_from_slice(b"null"),
                    }
                }
                ColumnType::Timestamp { .. } => {
                    match row.try_get::<_, Option<Raw>>(idx).map_err(decode)? {
                        Some(Raw(raw)) => {
                            let micros = raw
                                .try_into()
                                .map(i64::from_be_bytes)
                                .map_err(|_| bad("is not an 8-byte timestamp".into()))?;
                            out.push(b'"');
                            timestamp_text(micros, out).map_err(|r| bad(r.to_owned()))?;
                            out.push(b'"');
                        }
                        None => out.extend_from_slice(b"null"),
                    }
                }
            }
        }
        if self.columns.is_empty() {
            out.push(b'{');
        }
        out.push(b'}');
        Ok(())
    }
}

/// A value's binary form, for the types decoded here rather than by tokio-postgres (which has
/// no exact numeric, and whose timestamp decoding costs a chrono round trip per value).
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC || *ty == Type::TIMESTAMP
    }
}

/// Writes a binary `numeric` as Postgres' `numeric_out` does: every integer digit, then exactly
/// the value's display scale of fractional digits.
pub fn numeric_text(raw: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    const MALFORMED: &str = "is not a well-formed binary numeric";
    let word = |i: usize| -> Result<u16, &'static str> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(MALFORMED)
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    if raw.len() != 8 + 2 * ndigits {
        return Err(MALFORMED);
    }
    // The base-10000 digit of weight `weight - k`, zero outside the stored ones.
    let digit = |k: i32| -> Result<u16, &'static str> {
        if k < 0 || k as usize >= ndigits {
            return Ok(0);
        }
        let d = word(8 + 2 * k as usize)?;
        if d > 9999 { Err(MALFORMED) } else { Ok(d) }
    };
    let special: &[u8] = match sign {
        0x0000 => b"",
        0x4000 => b"-",
        0xC000 => b"NaN",
        0xD000 => b"Infinity",
        0xF000 => b"-Infinity",
        _ => return Err(MALFORMED),
    };
    out.extend_from_slice(special);
    if sign > 0x4000 {
        return Ok(());
    }
    if weight < 0 {
        out.push(b'0');
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(digit(0)?).as_bytes());
        for k in 1..=weight {
            push_padded(out, u32::from(digit(k)?), 4);
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let mut left = dscale;
        let mut k = weight + 1;
        while left > 0 {
            let d = digit(k)?;
            let group = [d / 1000, d / 100 % 10, d / 10 % 10, d % 10].map(|x| b'0' + x as u8);
            let take = left.min(4);
            out.extend_from_slice(&group[..take]);
            left -= take;
            k += 1;
        }
    }
    Ok(())
}

/// Microseconds between 1970-01-01 and Postgres' epoch, 2000-01-01.
const POSTGRES_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Writes a binary `timestamp` (microseconds since 2000-01-01, no time zone) as
/// `2026-11-25T08:15:00.123456Z`, the contract's form (`etl_contract::time::format_micros`).
pub fn timestamp_text(micros: i64, out: &mut Vec<u8>) -> Result<(), &'static str> {
    if micros == i64::MAX || micros == i64::MIN {
        return Err("is an infinite timestamp, which the contract cannot carry");
    }
    let days = micros.div_euclid(MICROS_PER_DAY) + POSTGRES_EPOCH_DAYS;
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return Err("is outside the years 1 to 9999 that RFC 3339 can carry");
    }
    push_padded(out, year as u32, 4);
    out.push(b'-');
    push_padded(out, month, 2);
    out.push(b'-');
    push_padded(out, day, 2);
    out.push(b'T');
    let secs = of_day / 1_000_000;
    push_padded(out, (secs / 3600) as u32, 2);
    out.push(b':');
    push_padded(out, (secs / 60 % 60) as u32, 2);
    out.push(b':');
    push_padded(out, (secs % 60) as u32, 2);
    out.push(b'.');
    push_padded(out, (of_day % 1_000_000) as u32, 6);
    out.push(b'Z');
    Ok(())
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes `value` in exactly `width` decimal digits, zero-padded. Every caller's value fits
/// (a year in 1-9999, a date or time field, a base-10000 digit), as the debug assertion checks.
fn push_padded(out: &mut Vec<u8>, mut value: u32, width: usize) {
    debug_assert!(
        u64::from(value) < 10u64.pow(width as u32),
        "{value} in {width} digits"
    );
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A binary `timestamp` as microseconds since Postgres' epoch (2000-01-01): how the merge
/// orders rows, compared as integers rather than decoded to a date per comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PgMicros(pub i64);

impl PgMicros {
    /// The instant, `None` for the infinities and past chrono's range.
    pub fn instant(self) -> Option<chrono::DateTime<chrono::Utc>> {
        let unix = self
            .0
            .checked_add(POSTGRES_EPOCH_DAYS * MICROS_PER_DAY)
            .filter(|_| self.0 != i64::MAX && self.0 != i64::MIN)?;
        chrono::DateTime::from_timestamp_micros(unix)
    }
}

impl<'a> FromSql<'a> for PgMicros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgMicros(i64::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> String {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        let mut out = Vec::new();
        numeric_text(&raw, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numerics_read_as_postgres_writes_them() {
        assert_eq!(numeric(3, 1, 0, 2, &[9999, 9999, 9900]), "99999999.99");
        assert_eq!(numeric(1, -1, 0x4000, 2, &[100]), "-0.01");
        assert_eq!(numeric(0, 0, 0, 2, &[]), "0.00");
        assert_eq!(numeric(0, 0, 0, 0, &[]), "0");
        assert_eq!(numeric(1, 0, 0, 2, &[12]), "12.00");
        assert_eq!(numeric(2, 0, 0, 2, &[12, 5000]), "12.50");
        assert_eq!(numeric(1, 1, 0, 0, &[1]), "10000");
        assert_eq!(numeric(1, -2, 0, 6, &[1200]), "0.000012");
        assert_eq!(numeric(1, -2, 0, 8, &[12]), "0.00000012");
        assert_eq!(numeric(2, 2, 0x4000, 3, &[7, 1]), "-700010000.000");
        assert_eq!(numeric(0, 0, 0xC000, 0, &[]), "NaN");
        let mut out = Vec::new();
        assert!(numeric_text(&[0, 1, 0, 0, 0, 0, 0, 0], &mut out).is_err());
        assert!(numeric_text(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10], &mut out).is_err());
    }

    fn micros(t: NaiveDateTime) -> i64 {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        (t - epoch).num_microseconds().unwrap()
    }

    #[test]
    fn timestamps_read_as_the_contract_writes_them() {
        let start = NaiveDate::from_ymd_opt(1, 1, 1)
            .unwrap()
            .and_hms_micro_opt(0, 0, 0, 1)
            .unwrap();
        // Every ~37 days and a few hours across the whole range, plus leap-day edges.
        let mut t = start;
        let mut checked = 0;
        while t.date() < NaiveDate::from_ymd_opt(9999, 12, 1).unwrap() {
            let mut out = Vec::new();
            timestamp_text(micros(t), &mut out).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                etl_contract::time::format_micros(t.and_utc())
            );
            assert_eq!(PgMicros(micros(t)).instant(), Some(t.and_utc()));
            t += chrono::Duration::microseconds(3_213_000_123_457);
            checked += 1;
        }
        assert!(checked > 90_000, "{checked}");
        for text in [
            "2000-02-29T23:59:59.999999Z",
            "1999-12-31T12:00:00.500000Z",
            "1900-03-01T00:00:00.000000Z",
            "2024-01-01T00:00:00.000001Z",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .naive_utc();
            let mut out = Vec::new();
            timestamp_text(micros(t), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        let mut out = Vec::new();
        assert!(timestamp_text(i64::MAX, &mut out).is_err());
        assert!(timestamp_text(i64::MIN, &mut out).is_err());
        assert_eq!(PgMicros(i64::MAX).instant(), None);
        assert_eq!(PgMicros(i64::MIN).instant(), None);
    }
}
