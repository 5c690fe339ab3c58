//! The source-table catalog: what the totesys OLTP database is expected to look like.
//!
//! This is the one place the pipeline states the source contract (docs/architecture.md §2). The seed
//! schema is tested against it, and extract compares the live `information_schema` with it
//! before reading, so that schema drift fails loudly instead of silently dropping or nulling data.

/// A source column's SQL type, precise enough to detect drift (a `numeric(10,2)` that became
/// `numeric(12,4)` is drift) and to know how a value must be encoded downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Integer,
    Text,
    Varchar {
        max_len: u32,
    },
    /// `timestamp(p) without time zone`; totesys stores UTC wall-clock times in it.
    Timestamp {
        precision: u32,
    },
    Numeric {
        precision: u32,
        scale: u32,
    },
    Boolean,
    /// A Postgres enum type, by its (case-sensitive) type name.
    Enum(&'static str),
}

impl ColumnType {
    /// The `information_schema.columns.data_type` value Postgres reports for this type.
    pub fn information_schema_type(&self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Text => "text",
            ColumnType::Varchar { .. } => "character varying",
            ColumnType::Timestamp { .. } => "timestamp without time zone",
            ColumnType::Numeric { .. } => "numeric",
            ColumnType::Boolean => "boolean",
            ColumnType::Enum(_) => "USER-DEFINED",
        }
    }
}

/// One expected source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
}

/// One expected source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTable {
    pub name: &'static str,
    /// The single-column integer primary key every totesys table has.
    pub primary_key: &'static str,
    /// Columns in their physical order in the real database.
    pub columns: &'static [Column],
}

impl SourceTable {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The two enum types of totesys, with their labels in declaration order.
pub const ENUM_TYPES: [(&str, &[&str]); 2] = [
    (
        "PaymentTypeName",
        &[
            "SALES_RECEIPT",
            "SALES_REFUND",
            "PURCHASE_PAYMENT",
            "PURCHASE_REFUND",
        ],
    ),
    ("TransactionType", &["SALE", "PURCHASE"]),
];

const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
    }
}

const fn null(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
    }
}

const INT: ColumnType = ColumnType::Integer;
const TEXT: ColumnType = ColumnType::Text;
const TS3: ColumnType = ColumnType::Timestamp { precision: 3 };
const MONEY: ColumnType = ColumnType::Numeric {
    precision: 10,
    scale: 2,
};

/// The 11 totesys tables, parents before children (the order a bulk load must follow).
pub const SOURCE_TABLES: [SourceTable; 11] = [
    SourceTable {
        name: "address",
        primary_key: "address_id",
        columns: &[
            col("address_id", INT),
            col("address_line_1", TEXT),
            null("address_line_2", TEXT),
            null("district", TEXT),
            col("city", TEXT),
            col("postal_code", TEXT),
            col("country", TEXT),
            col("phone", TEXT),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "counterparty",
        primary_key: "counterparty_id",
        columns: &[
            col("counterparty_id", INT),
            col("counterparty_legal_name", TEXT),
            col("legal_address_id", INT),
            null("commercial_contact", TEXT),
            null("delivery_contact", TEXT),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "currency",
        primary_key: "currency_id",
        columns: &[
            col("currency_id", INT),
            col("currency_code", ColumnType::Varchar { max_len: 3 }),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "department",
        primary_key: "department_id",
        columns: &[
            col("department_id", INT),
            col("department_name", TEXT),
            null("location", TEXT),
            null("manager", TEXT),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "design",
        primary_key: "design_id",
        columns: &[
            col("design_id", INT),
            col("created_at", TS3),
            col("design_name", TEXT),
            col("file_location", TEXT),
            col("file_name", TEXT),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "payment_type",
        primary_key: "payment_type_id",
        columns: &[
            col("payment_type_id", INT),
            col("payment_type_name", ColumnType::Enum("PaymentTypeName")),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "staff",
        primary_key: "staff_id",
        columns: &[
            col("staff_id", INT),
            col("first_name", TEXT),
            col("last_name", TEXT),
            col("department_id", INT),
            col("email_address", TEXT),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "sales_order",
        primary_key: "sales_order_id",
        columns: &[
            col("sales_order_id", INT),
            col("created_at", TS3),
            col("last_updated", TS3),
            col("design_id", INT),
            col("staff_id", INT),
            col("counterparty_id", INT),
            col("units_sold", INT),
            col("unit_price", MONEY),
            col("currency_id", INT),
            col("agreed_delivery_date", TEXT),
            col("agreed_payment_date", TEXT),
            col("agreed_delivery_location_id", INT),
        ],
    },
    SourceTable {
        name: "purchase_order",
        primary_key: "purchase_order_id",
        columns: &[
            col("purchase_order_id", INT),
            col("created_at", TS3),
            col("last_updated", TS3),
            col("staff_id", INT),
            col("counterparty_id", INT),
            col("item_code", TEXT),
            col("item_quantity", INT),
            col("item_unit_price", MONEY),
            col("currency_id", INT),
            col("agreed_delivery_date", TEXT),
            col("agreed_payment_date", TEXT),
            col("agreed_delivery_location_id", INT),
        ],
    },
    SourceTable {
        name: "transaction",
        primary_key: "transaction_id",
        columns: &[
            col("transaction_id", INT),
            col("transaction_type", ColumnType::Enum("TransactionType")),
            null("sales_order_id", INT),
            null("purchase_order_id", INT),
            col("created_at", TS3),
            col("last_updated", TS3),
        ],
    },
    SourceTable {
        name: "payment",
        primary_key: "payment_id",
        columns: &[
            col("payment_id", INT),
            col("created_at", TS3),
            col("last_updated", TS3),
            col("transaction_id", INT),
            col("counterparty_id", INT),
            col("payment_amount", MONEY),
            col("currency_id", INT),
            col("payment_type_id", INT),
            col("paid", ColumnType::Boolean),
            col("payment_date", TEXT),
            col("company_ac_number", INT),
            col("counterparty_ac_number", INT),
        ],
    },
];

/// Looks a source table up by name.
pub fn source_table(name: &str) -> Option<&'static SourceTable> {
    SOURCE_TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_its_primary_key_and_watermark_column() {
        for table in &SOURCE_TABLES {
            let pk = table.column(table.primary_key).expect("pk column");
            assert_eq!(pk.ty, ColumnType::Integer, "{}", table.name);
            assert!(!pk.nullable);
            let lu = table.column("last_updated").expect("last_updated");
            assert_eq!(lu.ty, ColumnType::Timestamp { precision: 3 });
        }
    }

    #[test]
    fn table_names_are_unique_and_findable() {
        for table in &SOURCE_TABLES {
            assert_eq!(source_table(table.name), Some(table));
        }
        assert_eq!(source_table("orders"), None);
    }
}

/// A column as the live database describes it in `information_schema.columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub name: String,
    pub data_type: String,
    pub udt_name: String,
    pub nullable: bool,
    pub numeric_precision: Option<i32>,
    pub numeric_scale: Option<i32>,
    pub character_maximum_length: Option<i32>,
    pub datetime_precision: Option<i32>,
}

impl LiveColumn {
    /// Whether the live column has exactly the expected type.
    fn has_type(&self, ty: &ColumnType) -> bool {
        if self.data_type != ty.information_schema_type() {
            return false;
        }
        match *ty {
            ColumnType::Integer | ColumnType::Text | ColumnType::Boolean => true,
            ColumnType::Varchar { max_len } => {
                self.character_maximum_length == Some(max_len as i32)
            }
            ColumnType::Timestamp { precision } => {
                self.datetime_precision == Some(precision as i32)
            }
            ColumnType::Numeric { precision, scale } => {
                self.numeric_precision == Some(precision as i32)
                    && self.numeric_scale == Some(scale as i32)
            }
            ColumnType::Enum(name) => self.udt_name == name,
        }
    }

    /// The type as SQL would spell it, for messages.
    pub fn sql_type(&self) -> String {
        let n = |v: Option<i32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
        match self.data_type.as_str() {
            "numeric" => match self.numeric_precision {
                Some(p) => format!("numeric({p},{})", n(self.numeric_scale)),
                None => "numeric".into(),
            },
            "character varying" => format!("varchar({})", n(self.character_maximum_length)),
            "timestamp without time zone" => {
                format!(
                    "timestamp({}) without time zone",
                    n(self.datetime_precision)
                )
            }
            "timestamp with time zone" => {
                format!("timestamp({}) with time zone", n(self.datetime_precision))
            }
            "USER-DEFINED" => format!("\"{}\"", self.udt_name),
            other => other.to_string(),
        }
    }
}

impl ColumnType {
    /// The type as SQL spells it, for messages.
    pub fn sql_type(&self) -> String {
        match self {
            ColumnType::Integer => "integer".into(),
            ColumnType::Text => "text".into(),
            ColumnType::Varchar { max_len } => format!("varchar({max_len})"),
            ColumnType::Timestamp { precision } => {
                format!("timestamp({precision}) without time zone")
            }
            ColumnType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Enum(name) => format!("\"{name}\""),
        }
    }
}

/// One difference between the live source and the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    MissingTable {
        table: &'static str,
    },
    MissingColumn {
        table: &'static str,
        column: &'static str,
        expected: String,
    },
    UnexpectedColumn {
        table: &'static str,
        column: String,
        found: String,
    },
    Retyped {
        table: &'static str,
        column: &'static str,
        expected: String,
        found: String,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::MissingTable { table } => write!(f, "table {table} is missing"),
            Drift::MissingColumn {
                table,
                column,
                expected,
            } => write!(f, "{table}.{column} ({expected}) is missing"),
            Drift::UnexpectedColumn {
                table,
                column,
                found,
            } => write!(f, "{table}.{column} ({found}) is not in the catalog"),
            Drift::Retyped {
                table,
                column,
                expected,
                found,
            } => write!(f, "{table}.{column} is {found}, expected {expected}"),
        }
    }
}

/// Compares a table's live columns with the catalog. Column order does not matter (extract
/// selects by name); names, types, precision and nullability do.
pub fn drift(table: &'static SourceTable, live: &[LiveColumn]) -> Vec<Drift> {
    if live.is_empty() {
        return vec![Drift::MissingTable { table: table.name }];
    }
    let mut found = Vec::new();
    for column in table.columns {
        let nullability = |nullable: bool| if nullable { "" } else { " NOT NULL" };
        let expected = format!("{}{}", column.ty.sql_type(), nullability(column.nullable));
        match live.iter().find(|l| l.name == column.name) {
            None => found.push(Drift::MissingColumn {
                table: table.name,
                column: column.name,
                expected,
            }),
            Some(l) if !l.has_type(&column.ty) || l.nullable != column.nullable => {
                found.push(Drift::Retyped {
                    table: table.name,
                    column: column.name,
                    expected,
                    found: format!("{}{}", l.sql_type(), nullability(l.nullable)),
                })
            }
            Some(_) => {}
        }
    }
    for l in live {
        if table.column(&l.name).is_none() {
            found.push(Drift::UnexpectedColumn {
                table: table.name,
                column: l.name.clone(),
                found: l.sql_type(),
            });
        }
    }
    found
}

#[cfg(test)]
mod drift_tests {
    use super::*;

    fn live_of(table: &SourceTable) -> Vec<LiveColumn> {
        table
            .columns
            .iter()
            .map(|c| {
                let mut l = LiveColumn {
                    name: c.name.into(),
                    data_type: c.ty.information_schema_type().into(),
                    udt_name: String::new(),
                    nullable: c.nullable,
                    numeric_precision: None,
                    numeric_scale: None,
                    character_maximum_length: None,
                    datetime_precision: None,
                };
                match c.ty {
                    ColumnType::Numeric { precision, scale } => {
                        l.numeric_precision = Some(precision as i32);
                        l.numeric_scale = Some(scale as i32);
                    }
                    ColumnType::Varchar { max_len } => {
                        l.character_maximum_length = Some(max_len as i32)
                    }
                    ColumnType::Timestamp { precision } => {
                        l.datetime_precision = Some(precision as i32)
                    }
                    ColumnType::Enum(name) => l.udt_name = name.into(),
                    _ => {}
                }
                l
            })
            .collect()
    }

    #[test]
    fn an_exact_match_has_no_drift() {
        for table in &SOURCE_TABLES {
            assert_eq!(drift(table, &live_of(table)), vec![], "{}", table.name);
        }
    }

    #[test]
    fn added_dropped_and_retyped_columns_are_named() {
        let payment = source_table("payment").unwrap();
        let mut live = live_of(payment);
        live.retain(|c| c.name != "paid");
        live.iter_mut()
            .find(|c| c.name == "payment_amount")
            .unwrap()
            .numeric_scale = Some(4);
        live.push(LiveColumn {
            name: "note".into(),
            data_type: "text".into(),
            udt_name: "text".into(),
            nullable: true,
            numeric_precision: None,
            numeric_scale: None,
            character_maximum_length: None,
            datetime_precision: None,
        });
        let messages: Vec<String> = drift(payment, &live)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            messages,
            [
                "payment.payment_amount is numeric(10,4) NOT NULL, expected numeric(10,2) NOT NULL",
                "payment.paid (boolean NOT NULL) is missing",
                "payment.note (text) is not in the catalog",
            ]
        );
        assert_eq!(
            drift(payment, &[]),
            vec![Drift::MissingTable { table: "payment" }]
        );
    }
}
