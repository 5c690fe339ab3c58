//! A table's declaration (`schema/<table>.json`): its columns and types, primary key, allowed
//! actions, what to do with bad rows, and the checks a file must pass. Parsed and validated
//! here, with no I/O; [`evolve`] says how a new declaration changes an existing table, and
//! refuses a breaking change unless the declaration allows it.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DeclarationError;

/// The longest table name: Postgres names hold 63 bytes and the error table adds `__errors`.
pub const MAX_TABLE_NAME: usize = 55;
/// The suffix of a table's error table (`inbox.<table>__errors`).
pub const ERRORS_SUFFIX: &str = "__errors";

/// A column type of an inbox table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Bigint,
    /// `numeric(precision, scale)`.
    Numeric {
        precision: u16,
        scale: u16,
    },
    Boolean,
    Date,
    Timestamp,
    Timestamptz,
}

impl ColumnType {
    /// Parses a declared type name: `text`, `integer`, `bigint`, `numeric(p,s)` (or
    /// `numeric(p)`), `boolean`, `date`, `timestamp`, `timestamptz`.
    pub fn parse(text: &str) -> Option<ColumnType> {
        let t = text.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "text" => ColumnType::Text,
            "integer" | "int" | "int4" => ColumnType::Integer,
            "bigint" | "int8" => ColumnType::Bigint,
            "boolean" | "bool" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "timestamptz" => ColumnType::Timestamptz,
            _ => {
                let inner = t.strip_prefix("numeric(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
                let precision: u16 = p.trim().parse().ok()?;
                let scale: u16 = s.trim().parse().ok()?;
                if precision == 0 || precision > 1000 || scale > precision {
                    return None;
                }
                ColumnType::Numeric { precision, scale }
            }
        })
    }

    /// The Postgres type.
    pub fn sql(self) -> String {
        match self {
            ColumnType::Text => "text".into(),
            ColumnType::Integer => "integer".into(),
            ColumnType::Bigint => "bigint".into(),
            ColumnType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Timestamptz => "timestamptz".into(),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

/// How a data file changes its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Adds the file's rows.
    Append,
    /// Replaces every row of the table with the file's, in one transaction.
    Truncate,
    /// Merges on the primary key; within a file the last row of a key wins.
    Upsert,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Append, Action::Truncate, Action::Upsert];

    pub fn name(self) -> &'static str {
        match self {
            Action::Append => "append",
            Action::Truncate => "truncate",
            Action::Upsert => "upsert",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to rows that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRows {
    /// The file loads nothing (the default): one bad row rejects it.
    RejectFile,
    /// Bad rows go to `inbox.<table>__errors`; the good rows load.
    ErrorTable,
}

/// A data-quality check, run inside the load's transaction before it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No value of the column below `min` (a literal of the column's type, validated).
    Min {
        column: String,
        min: String,
    },
    Max {
        column: String,
        max: String,
    },
    /// No two rows of the table share a non-null value of the column.
    Unique {
        column: String,
    },
    NotNull {
        column: String,
    },
    /// The file brings at least this many rows.
    MinRows {
        rows: u64,
    },
}

impl Check {
    /// How the check is named in messages and the log: `balance min 0`, `id unique`.
    pub fn describe(&self) -> String {
        match self {
            Check::Min { column, min } => format!("{column} min {min}"),
            Check::Max { column, max } => format!("{column} max {max}"),
            Check::Unique { column } => format!("{column} unique"),
            Check::NotNull { column } => format!("{column} not_null"),
            Check::MinRows { rows } => format!("min_rows {rows}"),
        }
    }
}

/// A validated declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub table: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub allowed_actions: BTreeSet<Action>,
    pub bad_rows: BadRows,
    pub checks: Vec<Check>,
    pub allow_breaking: bool,
}

/// The JSON as written, before validation.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    table: String,
    columns: Vec<RawColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    allowed_actions: Option<Vec<String>>,
    #[serde(default)]
    bad_rows: Option<String>,
    #[serde(default)]
    checks: Vec<RawCheck>,
    #[serde(default)]
    allow_breaking: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    nullable: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    min: Option<Value>,
    #[serde(default)]
    max: Option<Value>,
    #[serde(default)]
    unique: Option<bool>,
    #[serde(default)]
    not_null: Option<bool>,
    #[serde(default)]
    min_rows: Option<u64>,
}

/// Whether `name` is a plain lower-case SQL identifier: it is then the same quoted or not, in
/// every tool, and needs no escaping in messages or keys.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Whether `name` may be an inbox table's name (see [`Declaration::parse`]).
pub fn is_table_name(name: &str) -> bool {
    is_identifier(name)
        && name.len() <= MAX_TABLE_NAME
        && !name.ends_with(ERRORS_SUFFIX)
        && !name.starts_with("etl_inbox")
}

impl Declaration {
    /// Parses and validates `schema/<table>.json`; `key_table` is the table its key names, which
    /// the document must name too.
    pub fn parse(key_table: &str, bytes: &[u8]) -> Result<Declaration, DeclarationError> {
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| DeclarationError::Json {
            line: e.line(),
            column: e.column(),
            reason: json_reason(&e),
        })?;
        let invalid = |reason: String| DeclarationError::Invalid { reason };
        if raw.table != key_table {
            return Err(invalid(format!(
                "the document declares table {:?} but its key names {key_table:?}",
                raw.table
            )));
        }
        if !is_table_name(&raw.table) {
            return Err(invalid(format!(
                "table name {:?}: use lower-case letters, digits and _ (at most {MAX_TABLE_NAME} \
                 characters, not ending in {ERRORS_SUFFIX}, not starting with etl_inbox)",
                raw.table
            )));
        }
        if raw.columns.is_empty() {
            return Err(invalid("no columns are declared".into()));
        }
        let mut names = BTreeSet::new();
        let mut columns = Vec::with_capacity(raw.columns.len());
        for c in &raw.columns {
            if !is_identifier(&c.name) {
                return Err(invalid(format!(
                    "column name {:?}: use lower-case letters, digits and _",
                    c.name
                )));
            }
            if !names.insert(c.name.as_str()) {
                return Err(invalid(format!("column {} is declared twice", c.name)));
            }
            let ty = ColumnType::parse(&c.ty).ok_or_else(|| {
                invalid(format!(
                    "column {} has type {:?}: use text, integer, bigint, numeric(p,s), boolean, \
                     date, timestamp or timestamptz",
                    c.name, c.ty
                ))
            })?;
            columns.push(Column {
                name: c.name.clone(),
                ty,
                nullable: c.nullable.unwrap_or(true),
            });
        }
        for key in &raw.primary_key {
            let Some(column) = columns.iter_mut().find(|c| &c.name == key) else {
                return Err(invalid(format!("primary key column {key} is not declared")));
            };
            if c_nullable_explicit(&raw.columns, key) == Some(true) {
                return Err(invalid(format!(
                    "primary key column {key} is declared nullable"
                )));
            }
            column.nullable = false;
        }
        let allowed_actions = match &raw.allowed_actions {
            // By default every action the declaration supports: upsert needs a key.
            None => Action::ALL
                .into_iter()
                .filter(|a| *a != Action::Upsert || !raw.primary_key.is_empty())
                .collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    Action::parse(n).ok_or_else(|| {
                        invalid(format!(
                            "allowed action {n:?}: use append, truncate or upsert"
                        ))
                    })
                })
                .collect::<Result<BTreeSet<_>, _>>()?,
        };
        if allowed_actions.contains(&Action::Upsert) && raw.primary_key.is_empty() {
            return Err(invalid(
                "upsert is allowed but no primary_key is declared: name the key, or leave \
                 upsert out of allowed_actions"
                    .into(),
            ));
        }
        let bad_rows = match raw.bad_rows.as_deref() {
            None | Some("reject_file") => BadRows::RejectFile,
            Some("error_table") => BadRows::ErrorTable,
            Some(other) => {
                return Err(invalid(format!(
                    "bad_rows {other:?}: use reject_file or error_table"
                )));
            }
        };
        let checks = raw
            .checks
            .iter()
            .map(|c| check(c, &columns))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Declaration {
            table: raw.table,
            columns,
            primary_key: raw.primary_key,
            allowed_actions,
            bad_rows,
            checks,
            allow_breaking: raw.allow_breaking,
        })
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The declaration as stored in the warehouse (`inbox.etl_inbox_tables`), in the form
    /// [`Declaration::parse`] reads.
    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| match c {
                Check::Min { column, min } => serde_json::json!({"column": column, "min": min}),
                Check::Max { column, max } => serde_json::json!({"column": column, "max": max}),
                Check::Unique { column } => serde_json::json!({"column": column, "unique": true}),
                Check::NotNull { column } => {
                    serde_json::json!({"column": column, "not_null": true})
                }
                Check::MinRows { rows } => serde_json::json!({"min_rows": rows}),
            })
            .collect();
        serde_json::json!({
            "table": self.table,
            "columns": self.columns.iter().map(|c| serde_json::json!({
                "name": c.name, "type": c.ty.sql(), "nullable": c.nullable,
            })).collect::<Vec<_>>(),
            "primary_key": self.primary_key,
            "allowed_actions": self.allowed_actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "bad_rows": match self.bad_rows {
                BadRows::RejectFile => "reject_file",
                BadRows::ErrorTable => "error_table",
            },
            "checks": checks,
            "allow_breaking": self.allow_breaking,
        })
    }
}

fn c_nullable_explicit(columns: &[RawColumn], name: &str) -> Option<bool> {
    columns
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.nullable)
}

/// serde_json's message without the input it quotes (a declaration is ours to quote, but its
/// parser's messages are kept to positions and kinds everywhere).
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn check(raw: &RawCheck, columns: &[Column]) -> Result<Check, DeclarationError> {
    let invalid = |reason: String| DeclarationError::Invalid { reason };
    if let Some(rows) = raw.min_rows {
        if raw.column.is_some() || raw.min.is_some() || raw.max.is_some() {
            return Err(invalid(
                "a min_rows check takes no column, min or max".into(),
            ));
        }
        return Ok(Check::MinRows { rows });
    }
    let name = raw
        .column
        .as_deref()
        .ok_or_else(|| invalid("a check names a column (or is {\"min_rows\": N})".into()))?;
    let column = columns.iter().find(|c| c.name == name).ok_or_else(|| {
        invalid(format!(
            "a check names column {name}, which is not declared"
        ))
    })?;
    let literal = |value: &Value, what: &str| -> Result<String, DeclarationError> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(invalid(format!(
                    "check {what} of column {name}: a number or a string"
                )));
            }
        };
        let mut out = Vec::new();
        crate::value::encode(column.ty, &text, &mut out)
            .map_err(|reason| invalid(format!("check {what} of column {name}: {reason}")))?;
        if column.ty == ColumnType::Text {
            // The canonical form of text is COPY-escaped; the check compares the text itself.
            return Ok(text);
        }
        String::from_utf8(out).map_err(|_| invalid(format!("check {what} of column {name}")))
    };
    match (&raw.min, &raw.max, raw.unique, raw.not_null) {
        (Some(min), None, None, None) => Ok(Check::Min {
            column: name.to_owned(),
            min: literal(min, "min")?,
        }),
        (None, Some(max), None, None) => Ok(Check::Max {
            column: name.to_owned(),
            max: literal(max, "max")?,
        }),
        (None, None, Some(true), None) => Ok(Check::Unique {
            column: name.to_owned(),
        }),
        (None, None, None, Some(true)) => Ok(Check::NotNull {
            column: name.to_owned(),
        }),
        _ => Err(invalid(format!(
            "the check of column {name} must be exactly one of min, max, unique: true, \
             not_null: true"
        ))),
    }
}

/// How a new declaration changes the table of the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evolution {
    /// Columns to add, in declaration order (always nullable).
    pub added: Vec<Column>,
    /// Columns whose NOT NULL is lifted.
    pub relaxed: Vec<String>,
    /// Breaking changes the declaration allows (`allow_breaking`); empty otherwise.
    pub breaking: Vec<Breaking>,
}

impl Evolution {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.relaxed.is_empty() && self.breaking.is_empty()
    }
}

/// A change that can lose or refuse existing data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breaking {
    Drop { column: String },
    Retype { column: String, to: ColumnType },
    RequireValue { column: String },
    AddRequired { column: Column },
    PrimaryKey { columns: Vec<String> },
}

impl Breaking {
    pub fn describe(&self) -> String {
        match self {
            Breaking::Drop { column } => format!("drops column {column}"),
            Breaking::Retype { column, to } => format!("retypes column {column} to {to}"),
            Breaking::RequireValue { column } => format!("makes column {column} NOT NULL"),
            Breaking::AddRequired { column } => {
                format!(
                    "adds column {} as NOT NULL (existing rows have no value)",
                    column.name
                )
            }
            Breaking::PrimaryKey { columns } => {
                format!("changes the primary key to ({})", columns.join(", "))
            }
        }
    }
}

/// What applying `next` to a table declared as `current` does; a breaking change is refused,
/// naming the column, unless `next.allow_breaking`.
pub fn evolve(current: &Declaration, next: &Declaration) -> Result<Evolution, DeclarationError> {
    let mut evolution = Evolution {
        added: Vec::new(),
        relaxed: Vec::new(),
        breaking: Vec::new(),
    };
    for old in &current.columns {
        match next.column(&old.name) {
            None => evolution.breaking.push(Breaking::Drop {
                column: old.name.clone(),
            }),
            Some(new) if new.ty != old.ty => evolution.breaking.push(Breaking::Retype {
                column: old.name.clone(),
                to: new.ty,
            }),
            Some(new) if old.nullable && !new.nullable => {
                evolution.breaking.push(Breaking::RequireValue {
                    column: old.name.clone(),
                })
            }
            Some(new) if !old.nullable && new.nullable => evolution.relaxed.push(old.name.clone()),
            Some(_) => {}
        }
    }
    for new in &next.columns {
        if current.column(&new.name).is_none() {
            if new.nullable {
                evolution.added.push(new.clone());
            } else {
                evolution.breaking.push(Breaking::AddRequired {
                    column: new.clone(),
                });
            }
        }
    }
    if current.primary_key != next.primary_key {
        evolution.breaking.push(Breaking::PrimaryKey {
            columns: next.primary_key.clone(),
        });
    }
    if let Some(first) = evolution.breaking.first()
        && !next.allow_breaking
    {
        return Err(DeclarationError::Breaking {
            table: next.table.clone(),
            change: first.describe(),
        });
    }
    Ok(evolution)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const CUSTOMERS: &str = r#"{"table": "customers", "columns": [
        {"name": "id", "type": "integer", "nullable": false}, {"name": "name", "type": "text"},
        {"name": "balance", "type": "numeric(12,2)"}, {"name": "joined", "type": "date"}],
        "primary_key": ["id"], "allowed_actions": ["append", "truncate", "upsert"],
        "bad_rows": "error_table",
        "checks": [{"column": "balance", "min": 0}, {"column": "id", "unique": true}, {"min_rows": 1}]}"#;

    #[test]
    fn the_issue_example_parses() {
        let d = Declaration::parse("customers", CUSTOMERS.as_bytes()).unwrap();
        assert_eq!(d.columns.len(), 4);
        assert_eq!(
            d.columns[2].ty,
            ColumnType::Numeric {
                precision: 12,
                scale: 2
            }
        );
        assert!(!d.columns[0].nullable && d.columns[1].nullable);
        assert_eq!(d.bad_rows, BadRows::ErrorTable);
        assert_eq!(
            d.checks,
            vec![
                Check::Min {
                    column: "balance".into(),
                    min: "0".into()
                },
                Check::Unique {
                    column: "id".into()
                },
                Check::MinRows { rows: 1 }
            ]
        );
        // What is stored reads back the same.
        let stored = serde_json::to_vec(&d.to_json()).unwrap();
        assert_eq!(Declaration::parse("customers", &stored).unwrap(), d);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (r#"{"table": "x", "columns": []}"#, "no columns"),
            (
                r#"{"table": "x", "columns": [{"name": "a", "type": "float"}]}"#,
                "column a has type",
            ),
            (
                r#"{"table": "x", "columns": [{"name": "A", "type": "text"}]}"#,
                "column name",
            ),
            (
                r#"{"table": "x", "columns": [{"name": "a", "type": "text"}], "primary_key": ["b"]}"#,
                "primary key column b",
            ),
            (
                r#"{"table": "x", "columns": [{"name": "a", "type": "text"}], "allowed_actions": ["upsert"]}"#,
                "no primary_key",
            ),
            (
                r#"{"table": "x", "columns": [{"name": "a", "type": "date"}], "primary_key": ["a"], "checks": [{"column": "a", "min": "yesterday"}]}"#,
                "check min of column a",
            ),
            (
                r#"{"table": "y", "columns": [{"name": "a", "type": "text"}]}"#,
                "its key names",
            ),
            (
                r#"{"table": "x", "columns": [{"name": "a", "type": "text"}], "extra": 1}"#,
                "unknown field",
            ),
        ];
        for (doc, expected) in cases {
            let err = Declaration::parse("x", doc.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{doc}: {err}");
        }
    }

    #[test]
    fn additive_changes_apply_and_breaking_ones_are_refused_naming_the_column() {
        let current = Declaration::parse("customers", CUSTOMERS.as_bytes()).unwrap();
        let with = |extra: &str, allow: bool| {
            let mut v: Value = serde_json::from_str(CUSTOMERS).unwrap();
            let cols = v["columns"].as_array_mut().unwrap();
            match extra {
                "add" => cols.push(serde_json::json!({"name": "email", "type": "text"})),
                "drop" => {
                    cols.remove(3);
                }
                "retype" => cols[1]["type"] = "integer".into(),
                _ => {}
            }
            v["allow_breaking"] = allow.into();
            Declaration::parse("customers", v.to_string().as_bytes()).unwrap()
        };
        let added = evolve(&current, &with("add", false)).unwrap();
        assert_eq!(added.added.len(), 1);
        assert_eq!(added.added[0].name, "email");
        let err = evolve(&current, &with("drop", false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("drops column joined"), "{err}");
        let err = evolve(&current, &with("retype", false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("retypes column name to integer"), "{err}");
        let allowed = evolve(&current, &with("drop", true)).unwrap();
        assert_eq!(
            allowed.breaking,
            vec![Breaking::Drop {
                column: "joined".into()
            }]
        );
        assert!(evolve(&current, &current).unwrap().is_empty());
    }
}
