//! The source-table catalog: what the totesys OLTP database is expected to look like.
//!
//! This is the one place the pipeline states the source contract (TOTESYS.md §1). The seed
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
