//! Exact values: a field's text checked against its declared type and written in the canonical
//! form of Postgres' COPY text format. Nothing is rounded, shifted or passed through a float: a
//! value that Postgres would round (a third decimal for `numeric(12,2)`, nanoseconds) is
//! refused, with a reason that names what was found and never quotes the value.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::declaration::ColumnType;

/// Why a value does not fit its column; it names kinds and counts, never the value.
pub type Reason = String;

/// Appends `text`, a value of type `ty`, to `out` in COPY text form.
pub fn encode(ty: ColumnType, text: &str, out: &mut Vec<u8>) -> Result<(), Reason> {
    match ty {
        ColumnType::Text => {
            escape_text(text, out)?;
            Ok(())
        }
        ColumnType::Integer => integer(text.trim(), i32::MIN as i64, i32::MAX as i64, out),
        ColumnType::Bigint => integer(text.trim(), i64::MIN, i64::MAX, out),
        ColumnType::Numeric { precision, scale } => numeric(text.trim(), precision, scale, out),
        ColumnType::Boolean => {
            let t = text.trim().to_ascii_lowercase();
            let v = match t.as_str() {
                "t" | "true" | "y" | "yes" | "on" | "1" => b't',
                "f" | "false" | "n" | "no" | "off" | "0" => b'f',
                _ => return Err("not a boolean (true/false, t/f, yes/no, 1/0)".into()),
            };
            out.push(v);
            Ok(())
        }
        ColumnType::Date => {
            write_date(date(text.trim())?, out);
            Ok(())
        }
        ColumnType::Timestamp => {
            let (naive, offset) = timestamp(text.trim())?;
            if offset.is_some() {
                return Err(
                    "has a UTC offset, but the column is timestamp (without time \
                            zone): declare it timestamptz or drop the offset"
                        .into(),
                );
            }
            write_timestamp(naive, out);
            Ok(())
        }
        ColumnType::Timestamptz => {
            let (naive, offset) = timestamp(text.trim())?;
            let Some(offset) = offset else {
                return Err("has no UTC offset (Z or +hh:mm), which timestamptz needs".into());
            };
            let utc = naive - chrono::Duration::seconds(i64::from(offset));
            write_timestamp(utc, out);
            out.extend_from_slice(b"+00");
            Ok(())
        }
    }
}

/// COPY text escaping: backslash, tab, newline and carriage return; NUL cannot be stored.
pub fn escape_text(text: &str, out: &mut Vec<u8>) -> Result<(), Reason> {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0))
    {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => return Err("contains a NUL character, which Postgres text cannot hold".into()),
            b => out.push(b),
        }
    }
    Ok(())
}

fn integer(text: &str, min: i64, max: i64, out: &mut Vec<u8>) -> Result<(), Reason> {
    let value: i64 = match text.parse() {
        Ok(v) => v,
        Err(_) => {
            let digits = text.trim_start_matches(['-', '+']);
            return Err(
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    "out of range for its integer type".into()
                } else {
                    "not a whole number".into()
                },
            );
        }
    };
    if value < min || value > max {
        return Err("out of range for its integer type".into());
    }
    let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
    Ok(())
}

/// `[+-]digits[.digits][e[+-]digits]`, checked against `numeric(precision, scale)` exactly:
/// trailing zeros after the point do not count, any other digit beyond the scale refuses the
/// value instead of rounding it.
fn numeric(text: &str, precision: u16, scale: u16, out: &mut Vec<u8>) -> Result<(), Reason> {
    const NOT: &str = "not a decimal number";
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = rest[i + 1..].parse().map_err(|_| NOT.to_owned())?;
            if e.abs() > 2000 {
                return Err("its exponent is out of range".into());
            }
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(NOT.into());
    }
    // Without an exponent the digits stand where they are written (the common case: no copy).
    let shifted;
    let (int_digits, frac_digits): (&[u8], &[u8]) = if exponent == 0 {
        (int.as_bytes(), frac.as_bytes())
    } else {
        shifted = shift(int, frac, exponent);
        (&shifted.0, &shifted.1)
    };
    let int_digits: &[u8] = {
        let first = int_digits
            .iter()
            .position(|&b| b != b'0')
            .unwrap_or(int_digits.len());
        &int_digits[first..]
    };
    let frac_digits: &[u8] = {
        let last = frac_digits
            .iter()
            .rposition(|&b| b != b'0')
            .map_or(0, |i| i + 1);
        &frac_digits[..last]
    };
    let max_int = usize::from(precision - scale);
    if int_digits.len() > max_int {
        return Err(format!(
            "{} digits before the decimal point, at most {max_int}",
            int_digits.len()
        ));
    }
    if frac_digits.len() > usize::from(scale) {
        return Err(format!(
            "{} digits after the decimal point, at most {scale} (the value is not rounded)",
            frac_digits.len()
        ));
    }
    let zero = int_digits.is_empty() && frac_digits.is_empty();
    if negative && !zero {
        out.push(b'-');
    }
    if int_digits.is_empty() {
        out.push(b'0');
    } else {
        out.extend_from_slice(int_digits);
    }
    if !frac_digits.is_empty() {
        out.push(b'.');
        out.extend_from_slice(frac_digits);
    }
    Ok(())
}

/// The digits before and after the point once it is moved `exponent` places.
fn shift(int: &str, frac: &str, exponent: i64) -> (Vec<u8>, Vec<u8>) {
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let point = int.len() as i64 + exponent;
    if point <= 0 {
        let zeros = usize::try_from(-point).unwrap_or(0);
        (
            Vec::new(),
            std::iter::repeat_n(b'0', zeros).chain(digits).collect(),
        )
    } else {
        let p = usize::try_from(point).unwrap_or(usize::MAX);
        if p >= digits.len() {
            let mut all = digits;
            all.resize(p, b'0');
            (all, Vec::new())
        } else {
            (digits[..p].to_vec(), digits[p..].to_vec())
        }
    }
}

fn date(text: &str) -> Result<NaiveDate, Reason> {
    let ok = text.len() == 10
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !ok {
        return Err("not a date (expected YYYY-MM-DD)".into());
    }
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| {
        b[range]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0..4)).unwrap_or(0);
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
        .ok_or_else(|| "not a calendar date".into())
}

/// `n` in decimal, left-padded with zeros to `width` digits.
fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len() - width);
    out.extend_from_slice(&digits[start..]);
}

fn write_date(date: NaiveDate, out: &mut Vec<u8>) {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits (Postgres takes them): the rare case keeps chrono's formatting.
        out.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
        return;
    }
    push_padded(out, year.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, date.month(), 2);
    out.push(b'-');
    push_padded(out, date.day(), 2);
}

/// `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|+hh[:mm]|-hh[:mm]]`; the offset in seconds east of UTC.
fn timestamp(text: &str) -> Result<(NaiveDateTime, Option<i32>), Reason> {
    const NOT: &str = "not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff], ISO 8601)";
    if text.len() < 16 || !text.is_char_boundary(10) {
        return Err(NOT.into());
    }
    let day = date(&text[..10]).map_err(|_| NOT.to_owned())?;
    if !matches!(text.as_bytes()[10], b' ' | b'T' | b't') {
        return Err(NOT.into());
    }
    let rest = &text[11..];
    // The offset: Z, or a sign after the time of day.
    let (clock, offset) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, Some(0))
    } else if let Some(i) = rest.rfind(['+', '-']) {
        (
            &rest[..i],
            Some(offset(&rest[i..]).ok_or_else(|| NOT.to_owned())?),
        )
    } else {
        (rest, None)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    if fraction.len() > 6 {
        return Err(format!(
            "{} fractional digits of a second, at most 6 (microseconds; the value is not \
             rounded)",
            fraction.len()
        ));
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NOT.into());
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let number = |s: &str| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] if fraction.is_empty() => (number(h), number(m), Some(0)),
        [h, m, s] => (number(h), number(m), number(s)),
        _ => return Err(NOT.into()),
    };
    let (Some(h), Some(m), Some(s)) = (h, m, s) else {
        return Err(NOT.into());
    };
    let micros: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}")
            .parse()
            .map_err(|_| NOT.to_owned())?
    };
    let time = NaiveTime::from_hms_micro_opt(h, m, s, micros)
        .ok_or_else(|| "not a time of day".to_owned())?;
    Ok((day.and_time(time), offset))
}

/// `+hh`, `+hhmm` or `+hh:mm` (and `-`) in seconds east of UTC.
fn offset(text: &str) -> Option<i32> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|&c| c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = match digits.len() {
        2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    (h <= 15 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn write_timestamp(t: NaiveDateTime, out: &mut Vec<u8>) {
    use chrono::Timelike;
    write_date(t.date(), out);
    out.push(b' ');
    push_padded(out, t.hour(), 2);
    out.push(b':');
    push_padded(out, t.minute(), 2);
    out.push(b':');
    push_padded(out, t.second(), 2);
    out.push(b'.');
    push_padded(out, t.nanosecond() / 1000, 6);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ty: ColumnType, text: &str) -> String {
        let mut out = Vec::new();
        encode(ty, text, &mut out).unwrap_or_else(|e| panic!("{text}: {e}"));
        String::from_utf8(out).unwrap()
    }

    fn err(ty: ColumnType, text: &str) -> String {
        let mut out = Vec::new();
        encode(ty, text, &mut out).unwrap_err()
    }

    const MONEY: ColumnType = ColumnType::Numeric {
        precision: 12,
        scale: 2,
    };

    #[test]
    fn numerics_are_exact_or_refused() {
        assert_eq!(ok(MONEY, "12.30"), "12.3");
        assert_eq!(ok(MONEY, "-0.00"), "0");
        assert_eq!(ok(MONEY, "0001234567890.12"), "1234567890.12");
        assert_eq!(ok(MONEY, "1.5e2"), "150");
        assert_eq!(ok(MONEY, "15e-2"), "0.15");
        assert_eq!(ok(MONEY, ".5"), "0.5");
        assert_eq!(
            err(MONEY, "1.005"),
            "3 digits after the decimal point, at most 2 (the value is not rounded)"
        );
        assert_eq!(
            err(MONEY, "12345678901"),
            "11 digits before the decimal point, at most 10"
        );
        for bad in ["", "1,5", "NaN", "1.2.3", "--1", "1e", "abc"] {
            assert_eq!(err(MONEY, bad), "not a decimal number", "{bad}");
        }
    }

    #[test]
    fn integers_dates_and_times() {
        assert_eq!(ok(ColumnType::Integer, " 42 "), "42");
        assert_eq!(
            err(ColumnType::Integer, "2147483648"),
            "out of range for its integer type"
        );
        assert_eq!(ok(ColumnType::Bigint, "2147483648"), "2147483648");
        assert_eq!(err(ColumnType::Integer, "4.0"), "not a whole number");
        assert_eq!(ok(ColumnType::Date, "2024-02-29"), "2024-02-29");
        assert_eq!(err(ColumnType::Date, "2023-02-29"), "not a calendar date");
        assert_eq!(
            err(ColumnType::Date, "29/02/2024"),
            "not a date (expected YYYY-MM-DD)"
        );
        assert_eq!(
            ok(ColumnType::Timestamp, "2024-01-02T03:04:05.123456"),
            "2024-01-02 03:04:05.123456"
        );
        assert_eq!(
            ok(ColumnType::Timestamp, "2024-01-02 03:04"),
            "2024-01-02 03:04:00.000000"
        );
        assert_eq!(
            ok(ColumnType::Timestamptz, "2024-01-02T03:04:05.5+02:00"),
            "2024-01-02 01:04:05.500000+00"
        );
        assert_eq!(
            ok(ColumnType::Timestamptz, "2024-01-01 00:30:00-0130"),
            "2024-01-01 02:00:00.000000+00"
        );
        assert!(err(ColumnType::Timestamptz, "2024-01-02 03:04:05").contains("no UTC offset"));
        assert!(err(ColumnType::Timestamp, "2024-01-02 03:04:05Z").contains("has a UTC offset"));
        assert!(
            err(ColumnType::Timestamp, "2024-01-02 03:04:05.1234567")
                .starts_with("7 fractional digits")
        );
        assert_eq!(ok(ColumnType::Boolean, "Yes"), "t");
        assert!(err(ColumnType::Boolean, "maybe").starts_with("not a boolean"));
    }

    #[test]
    fn text_is_escaped_for_copy_and_nul_refused() {
        assert_eq!(ok(ColumnType::Text, "a\tb\\c\nd"), "a\\tb\\\\c\\nd");
        assert!(err(ColumnType::Text, "a\0b").contains("NUL"));
    }

    #[test]
    fn reasons_never_quote_the_value() {
        for (ty, text) in [
            (MONEY, "secret-12.3456"),
            (MONEY, "12.3456"),
            (ColumnType::Integer, "secret"),
            (ColumnType::Date, "secret"),
            (ColumnType::Timestamptz, "2024-01-01 secret"),
        ] {
            let reason = err(ty, text);
            assert!(
                !reason.contains("secret") && !reason.contains("3456"),
                "{reason}"
            );
        }
    }
}
