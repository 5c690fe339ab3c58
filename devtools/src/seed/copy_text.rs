//! Postgres text-format COPY encoding (`COPY ... FROM STDIN`, default text format).
//!
//! The generator writes millions of rows; going through COPY rather than INSERT is what makes
//! `etl seed --scale 1000000` take seconds. Only the escapes the text format requires are applied.

use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// A buffer of COPY text rows. Fields are appended in column order; `end_row` closes a row.
#[derive(Debug, Default)]
pub struct CopyText {
    buf: Vec<u8>,
    row_started: bool,
}

impl CopyText {
    pub fn with_capacity(bytes: usize) -> Self {
        CopyText {
            buf: Vec::with_capacity(bytes),
            row_started: false,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Hands out the encoded rows and starts a fresh buffer of the same capacity.
    pub fn take(&mut self) -> Vec<u8> {
        let capacity = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
    }

    fn field(&mut self) -> &mut Vec<u8> {
        if self.row_started {
            self.buf.push(b'\t');
        }
        self.row_started = true;
        &mut self.buf
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        // Writing into a Vec cannot fail.
        let _ = write!(self.field(), "{value}");
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        let buf = self.field();
        for byte in value.bytes() {
            match byte {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                other => buf.push(other),
            }
        }
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => {
                self.field().extend_from_slice(b"\\N");
                self
            }
        }
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm`, the precision of totesys' `timestamp(3)` columns.
    pub fn timestamp(&mut self, t: NaiveDateTime) -> &mut Self {
        let _ = write!(
            self.field(),
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 1_000_000
        );
        self
    }

    /// `YYYY-MM-DD`, as totesys' text date columns hold it.
    pub fn date(&mut self, d: NaiveDate) -> &mut Self {
        let _ = write!(
            self.field(),
            "{:04}-{:02}-{:02}",
            d.year(),
            d.month(),
            d.day()
        );
        self
    }

    /// A `numeric(10,2)` from an exact number of cents.
    pub fn money(&mut self, cents: i64) -> &mut Self {
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let _ = write!(self.field(), "{sign}{}.{:02}", abs / 100, abs % 100);
        self
    }

    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.field().push(if value { b't' } else { b'f' });
        self
    }

    pub fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.row_started = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_row_with_escapes_and_nulls() {
        let mut c = CopyText::default();
        c.int(7)
            .text("O'Keefe\tand\\sons\n")
            .opt_text(None)
            .money(-1)
            .money(9_999_999_999)
            .boolean(true)
            .date(NaiveDate::from_ymd_opt(2024, 2, 9).unwrap())
            .timestamp(
                NaiveDate::from_ymd_opt(2023, 1, 2)
                    .unwrap()
                    .and_hms_milli_opt(3, 4, 5, 67)
                    .unwrap(),
            );
        c.end_row();
        assert_eq!(
            String::from_utf8(c.take()).unwrap(),
            "7\tO'Keefe\\tand\\\\sons\\n\t\\N\t-0.01\t99999999.99\tt\t2024-02-09\t2023-01-02 03:04:05.067\n"
        );
        assert!(c.is_empty());
    }
}
