//! The inbox's key layout, the contract with whoever drops files:
//!
//! - `schema/<table>.json` declares or evolves a table;
//! - `append/<table>/<file>`, `truncate/<table>/<file>`, `upsert/<table>/<file>` load a file,
//!   whose format follows from its name: `.csv`, `.jsonl` (or `.ndjson`), `.parquet`, and
//!   `.csv.gz` / `.jsonl.gz` compressed.

use std::fmt;

use crate::declaration::{Action, is_table_name};

pub const SCHEMA_PREFIX: &str = "schema/";

/// A data file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    Parquet,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        })
    }
}

/// What a key in the inbox means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxKey {
    Schema {
        table: String,
    },
    Data {
        action: Action,
        table: String,
        format: Format,
        gzip: bool,
    },
}

impl InboxKey {
    pub fn table(&self) -> &str {
        match self {
            InboxKey::Schema { table } | InboxKey::Data { table, .. } => table,
        }
    }
}

/// Reads `key` (relative to the inbox). `Err` says why a key that looks meant for the inbox is
/// not usable; keys outside the layout (a `README` at the root) are `Ok(None)`.
pub fn parse(key: &str) -> Result<Option<InboxKey>, String> {
    if let Some(name) = key.strip_prefix(SCHEMA_PREFIX) {
        let Some(table) = name.strip_suffix(".json") else {
            return Err("a declaration is schema/<table>.json".into());
        };
        if !is_table_name(table) {
            return Err(format!(
                "{table:?} is not a usable table name (lower-case letters, digits and _)"
            ));
        }
        return Ok(Some(InboxKey::Schema {
            table: table.to_owned(),
        }));
    }
    let Some((first, rest)) = key.split_once('/') else {
        return Ok(None);
    };
    let Some(action) = Action::parse(first) else {
        return Ok(None);
    };
    let Some((table, file)) = rest.split_once('/') else {
        return Err(format!("a data file is {action}/<table>/<file>"));
    };
    if !is_table_name(table) {
        return Err(format!(
            "{table:?} is not a usable table name (lower-case letters, digits and _)"
        ));
    }
    let lower = file.to_ascii_lowercase();
    let (name, gzip) = match lower.strip_suffix(".gz") {
        Some(name) => (name, true),
        None => (lower.as_str(), false),
    };
    let format = if name.ends_with(".csv") {
        Format::Csv
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Format::Jsonl
    } else if name.ends_with(".parquet") && !gzip {
        Format::Parquet
    } else {
        return Err(
            "the file's name does not say its format: end it in .csv, .jsonl or .parquet \
             (.csv.gz and .jsonl.gz when compressed)"
                .into(),
        );
    };
    Ok(Some(InboxKey::Data {
        action,
        table: table.to_owned(),
        format,
        gzip,
    }))
}

/// The prefixes under which `table`'s data files arrive.
pub fn data_prefixes(table: &str) -> [String; 3] {
    Action::ALL.map(|a| format!("{a}/{table}/"))
}

/// The key of `table`'s declaration.
pub fn schema_key(table: &str) -> String {
    format!("{SCHEMA_PREFIX}{table}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(
            parse("schema/customers.json").unwrap(),
            Some(InboxKey::Schema {
                table: "customers".into()
            })
        );
        assert_eq!(
            parse("upsert/customers/2026/12/01/a.CSV.gz").unwrap(),
            Some(InboxKey::Data {
                action: Action::Upsert,
                table: "customers".into(),
                format: Format::Csv,
                gzip: true
            })
        );
        assert_eq!(
            parse("append/t/x.parquet").unwrap().unwrap(),
            InboxKey::Data {
                action: Action::Append,
                table: "t".into(),
                format: Format::Parquet,
                gzip: false
            }
        );
        assert_eq!(parse("README.md").unwrap(), None);
        assert_eq!(parse("other/t/x.csv").unwrap(), None);
        assert!(parse("append/t/x.xlsx").unwrap_err().contains(".csv"));
        assert!(parse("append/Bad-Name/x.csv").is_err());
        assert!(parse("append/x.csv").is_err());
        assert!(parse("schema/t.yaml").is_err());
    }
}
