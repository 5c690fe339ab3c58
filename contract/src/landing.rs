//! The bytes of a landing part (docs/architecture.md §4): NDJSON, one source row per line,
//! compressed with zstd since manifest format 2 (`part-00000.jsonl.zst`); runs extracted by
//! format-1 builds hold plain NDJSON (`part-00000.jsonl`) and are still read. The key says which.
//!
//! Why compress: the landing NDJSON is the largest thing the pipeline writes (1.2 GB for a
//! 4.3M-row first load), written once and read once. zstd at level 1 makes it a tenth of that,
//! which S3 stores and transfers, and extract holds a part compressed while it fills. Measured,
//! it costs about the CPU it saves in hashing and page-cache copies: a size and memory win, not
//! a speed one (README, Benchmark).

use std::borrow::Cow;
use std::io::Write;

use thiserror::Error;

use crate::error::{Classify, Disposition};

/// What a format-2 landing part's key ends in.
pub const PART_SUFFIX: &str = ".jsonl.zst";
/// What a format-1 (plain NDJSON) landing part's key ends in.
pub const PLAIN_PART_SUFFIX: &str = ".jsonl";

/// zstd's fastest standard level: the landing files are written once and read once, so
/// compression speed matters more than the last few percent of size.
const LEVEL: i32 = 1;

/// A landing part that could not be encoded or decoded.
#[derive(Debug, Error)]
pub enum PartCodecError {
    #[error(
        "{key} is not zstd-compressed NDJSON although its name says so ({reason}); its \
         checksum matched its manifest, so the run was written by something other than \
         extract: extract it again"
    )]
    NotZstd { key: String, reason: String },
    #[error(
        "{key} ends in neither {PART_SUFFIX} nor {PLAIN_PART_SUFFIX}, so its format is unknown; \
         was the run written by a newer build?"
    )]
    UnknownSuffix { key: String },
    #[error("compressing a landing part failed: {0}")]
    Encode(std::io::Error),
}

impl Classify for PartCodecError {
    fn disposition(&self) -> Disposition {
        match self {
            // The bytes matched their manifest, so the run itself is bad: quarantined.
            PartCodecError::NotZstd { .. } | PartCodecError::UnknownSuffix { .. } => {
                Disposition::QuarantineInput
            }
            // zstd fails to compress only when it cannot allocate: another try may succeed.
            PartCodecError::Encode(_) => Disposition::RetryRunLater,
        }
    }
}

/// The lines of one part being written, compressed as they arrive: what is held is the
/// compressed output and zstd's window, never the part's plain text.
pub struct PartEncoder {
    encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
    plain_bytes: usize,
    rows: u64,
}

impl std::fmt::Debug for PartEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartEncoder")
            .field("plain_bytes", &self.plain_bytes)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl PartEncoder {
    pub fn new() -> Result<Self, PartCodecError> {
        Ok(PartEncoder {
            encoder: zstd::stream::write::Encoder::new(Vec::new(), LEVEL)
                .map_err(PartCodecError::Encode)?,
            plain_bytes: 0,
            rows: 0,
        })
    }

    /// Appends one JSON line, given without its newline.
    pub fn push_line(&mut self, json: &[u8]) -> Result<(), PartCodecError> {
        self.encoder
            .write_all(json)
            .and_then(|()| self.encoder.write_all(b"\n"))
            .map_err(PartCodecError::Encode)?;
        self.plain_bytes += json.len() + 1;
        self.rows += 1;
        Ok(())
    }

    /// The size of the lines pushed so far, uncompressed: parts are cut on it, so a reader's
    /// memory for one decoded part has the same bound as before compression.
    pub fn plain_bytes(&self) -> usize {
        self.plain_bytes
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The part's stored bytes.
    pub fn finish(self) -> Result<Vec<u8>, PartCodecError> {
        self.encoder.finish().map_err(PartCodecError::Encode)
    }
}

/// A whole part's stored bytes from its lines (the tests' crafted runs, and small writers).
pub fn encode_part<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, PartCodecError> {
    let mut encoder = PartEncoder::new()?;
    for line in lines {
        encoder.push_line(line)?;
    }
    encoder.finish()
}

/// The NDJSON text of a part stored at `key`, whichever format wrote it. Call it after the
/// bytes matched their manifest's checksum: a part's plain size is bounded by extract's cut
/// (`part_max_bytes`, or one row larger than that), not by anything this function checks.
pub fn decode_part<'a>(key: &str, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, PartCodecError> {
    if key.ends_with(PART_SUFFIX) {
        zstd::stream::decode_all(stored)
            .map(Cow::Owned)
            .map_err(|e| PartCodecError::NotZstd {
                key: key.to_owned(),
                reason: e.to_string(),
            })
    } else if key.ends_with(PLAIN_PART_SUFFIX) {
        Ok(Cow::Borrowed(stored))
    } else {
        Err(PartCodecError::UnknownSuffix {
            key: key.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_plain_parts_read_as_they_are() {
        let lines = [&br#"{"a":1}"#[..], br#"{"a":2}"#, b"{}"];
        let stored = encode_part(lines).unwrap();
        assert_eq!(
            &stored[..4],
            &[0x28, 0xb5, 0x2f, 0xfd],
            "zstd's magic number"
        );
        let text = decode_part("data/t/r/part-00000.jsonl.zst", &stored).unwrap();
        assert_eq!(&*text, b"{\"a\":1}\n{\"a\":2}\n{}\n");

        let plain = b"{\"a\":1}\n";
        let read = decode_part("data/t/r/part-00000.jsonl", plain).unwrap();
        assert!(matches!(read, Cow::Borrowed(_)));
        assert_eq!(&*read, plain);
    }

    #[test]
    fn the_encoder_counts_plain_bytes_and_rows() {
        let mut encoder = PartEncoder::new().unwrap();
        encoder.push_line(b"{\"x\":\"abc\"}").unwrap();
        encoder.push_line(b"{}").unwrap();
        assert_eq!((encoder.plain_bytes(), encoder.rows()), (12 + 3, 2));
        let empty = PartEncoder::new().unwrap().finish().unwrap();
        assert_eq!(&*decode_part("k.jsonl.zst", &empty).unwrap(), b"");
    }

    #[test]
    fn bytes_that_are_not_what_the_key_says_are_refused_by_name() {
        let err = decode_part("data/t/r/part-00000.jsonl.zst", b"{\"a\":1}\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("data/t/r/part-00000.jsonl.zst is not zstd"),
            "{text}"
        );
        assert!(!text.contains("\"a\""), "quotes no row: {text}");
        let err = decode_part("data/t/r/part-00000.csv", b"").unwrap_err();
        assert!(matches!(err, PartCodecError::UnknownSuffix { .. }), "{err}");
    }
}
