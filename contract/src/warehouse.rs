//! The warehouse catalog: the galaxy schema of docs/architecture.md §3, as transform writes it to Parquet
//! and load merges it into Postgres. One definition, so the Parquet schema, the staging tables
//! and the merge statements cannot disagree.

/// A warehouse column's type (and with it the Parquet and Postgres types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarehouseType {
    /// Parquet INT32; Postgres `integer`.
    Int,
    /// Parquet UTF8; Postgres `text`.
    Text,
    /// Parquet BOOLEAN; Postgres `boolean`.
    Bool,
    /// Parquet Date32; Postgres `date`.
    Date,
    /// Parquet Time64(us); Postgres `time`.
    Time,
    /// Parquet Decimal128(10,2); Postgres `numeric(10,2)`.
    Money,
    /// Parquet Timestamp(us, UTC); Postgres `timestamptz`: the source version of a row.
    Version,
}

impl WarehouseType {
    /// The Postgres type of the column.
    pub fn sql(&self) -> &'static str {
        match self {
            WarehouseType::Int => "integer",
            WarehouseType::Text => "text",
            WarehouseType::Bool => "boolean",
            WarehouseType::Date => "date",
            WarehouseType::Time => "time",
            WarehouseType::Money => "numeric(10,2)",
            WarehouseType::Version => "timestamptz",
        }
    }
}

impl WarehouseType {
    /// The Arrow type of the column in the processed Parquet (the contract of docs/architecture.md §4).
    pub fn arrow(&self) -> arrow_schema::DataType {
        use arrow_schema::{DataType, TimeUnit};
        match self {
            WarehouseType::Int => DataType::Int32,
            WarehouseType::Text => DataType::Utf8,
            WarehouseType::Bool => DataType::Boolean,
            WarehouseType::Date => DataType::Date32,
            WarehouseType::Time => DataType::Time64(TimeUnit::Microsecond),
            WarehouseType::Money => DataType::Decimal128(10, 2),
            WarehouseType::Version => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarehouseColumn {
    pub name: &'static str,
    pub ty: WarehouseType,
    pub nullable: bool,
}

/// Dimensions keep the latest values (upsert by natural key, newest source version wins); facts
/// keep every captured version (a new row per natural key and source version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Dimension,
    Fact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarehouseTable {
    pub name: &'static str,
    pub kind: TableKind,
    /// Dimensions: the primary key. Facts: the natural id; with the version columns it is unique.
    pub key: &'static str,
    /// Facts: the surrogate key the warehouse assigns (not in the Parquet).
    pub surrogate_key: Option<&'static str>,
    /// The columns transform writes, in order.
    pub columns: &'static [WarehouseColumn],
}

impl WarehouseTable {
    pub fn column(&self, name: &str) -> Option<&WarehouseColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns that identify one stored version: the key, plus the source version for facts.
    pub fn version_key(&self) -> Vec<&'static str> {
        match self.kind {
            TableKind::Dimension => vec![self.key],
            TableKind::Fact => vec![self.key, "last_updated_date", "last_updated_time"],
        }
    }
}

const fn c(name: &'static str, ty: WarehouseType) -> WarehouseColumn {
    WarehouseColumn {
        name,
        ty,
        nullable: false,
    }
}

const fn n(name: &'static str, ty: WarehouseType) -> WarehouseColumn {
    WarehouseColumn {
        name,
        ty,
        nullable: true,
    }
}

use WarehouseType::{Bool, Date, Int, Money, Text, Time, Version};

/// The dimension tables' source version column (an addition to docs/architecture.md §3, so load can keep
/// the newest version whatever order runs arrive in).
pub const DIMENSION_VERSION: &str = "last_updated";

/// All warehouse tables, in load (dependency) order: dimensions before the facts that point at them.
pub const WAREHOUSE_TABLES: [WarehouseTable; 11] = [
    WarehouseTable {
        name: "dim_date",
        kind: TableKind::Dimension,
        key: "date_id",
        surrogate_key: None,
        columns: &[
            c("date_id", Date),
            c("year", Int),
            c("month", Int),
            c("day", Int),
            c("day_of_week", Int),
            c("day_name", Text),
            c("month_name", Text),
            c("quarter", Int),
        ],
    },
    WarehouseTable {
        name: "dim_staff",
        kind: TableKind::Dimension,
        key: "staff_id",
        surrogate_key: None,
        columns: &[
            c("staff_id", Int),
            c("first_name", Text),
            c("last_name", Text),
            c("department_name", Text),
            n("location", Text),
            c("email_address", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_location",
        kind: TableKind::Dimension,
        key: "location_id",
        surrogate_key: None,
        columns: &[
            c("location_id", Int),
            c("address_line_1", Text),
            n("address_line_2", Text),
            n("district", Text),
            c("city", Text),
            c("postal_code", Text),
            c("country", Text),
            c("phone", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_design",
        kind: TableKind::Dimension,
        key: "design_id",
        surrogate_key: None,
        columns: &[
            c("design_id", Int),
            c("design_name", Text),
            c("file_location", Text),
            c("file_name", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_currency",
        kind: TableKind::Dimension,
        key: "currency_id",
        surrogate_key: None,
        columns: &[
            c("currency_id", Int),
            c("currency_code", Text),
            c("currency_name", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_counterparty",
        kind: TableKind::Dimension,
        key: "counterparty_id",
        surrogate_key: None,
        columns: &[
            c("counterparty_id", Int),
            c("counterparty_legal_name", Text),
            c("counterparty_legal_address_line_1", Text),
            n("counterparty_legal_address_line_2", Text),
            n("counterparty_legal_district", Text),
            c("counterparty_legal_city", Text),
            c("counterparty_legal_postal_code", Text),
            c("counterparty_legal_country", Text),
            c("counterparty_legal_phone_number", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_payment_type",
        kind: TableKind::Dimension,
        key: "payment_type_id",
        surrogate_key: None,
        columns: &[
            c("payment_type_id", Int),
            c("payment_type_name", Text),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "dim_transaction",
        kind: TableKind::Dimension,
        key: "transaction_id",
        surrogate_key: None,
        columns: &[
            c("transaction_id", Int),
            c("transaction_type", Text),
            n("sales_order_id", Int),
            n("purchase_order_id", Int),
            c("last_updated", Version),
        ],
    },
    WarehouseTable {
        name: "fact_sales_order",
        kind: TableKind::Fact,
        key: "sales_order_id",
        surrogate_key: Some("sales_record_id"),
        columns: &[
            c("sales_order_id", Int),
            c("created_date", Date),
            c("created_time", Time),
            c("last_updated_date", Date),
            c("last_updated_time", Time),
            c("sales_staff_id", Int),
            c("counterparty_id", Int),
            c("units_sold", Int),
            c("unit_price", Money),
            c("currency_id", Int),
            c("design_id", Int),
            c("agreed_payment_date", Date),
            c("agreed_delivery_date", Date),
            c("agreed_delivery_location_id", Int),
        ],
    },
    WarehouseTable {
        name: "fact_purchase_order",
        kind: TableKind::Fact,
        key: "purchase_order_id",
        surrogate_key: Some("purchase_record_id"),
        columns: &[
            c("purchase_order_id", Int),
            c("created_date", Date),
            c("created_time", Time),
            c("last_updated_date", Date),
            c("last_updated_time", Time),
            c("staff_id", Int),
            c("counterparty_id", Int),
            c("item_code", Text),
            c("item_quantity", Int),
            c("item_unit_price", Money),
            c("currency_id", Int),
            c("agreed_delivery_date", Date),
            c("agreed_payment_date", Date),
            c("agreed_delivery_location_id", Int),
        ],
    },
    WarehouseTable {
        name: "fact_payment",
        kind: TableKind::Fact,
        key: "payment_id",
        surrogate_key: Some("payment_record_id"),
        columns: &[
            c("payment_id", Int),
            c("created_date", Date),
            c("created_time", Time),
            c("last_updated_date", Date),
            c("last_updated_time", Time),
            c("transaction_id", Int),
            c("counterparty_id", Int),
            c("payment_amount", Money),
            c("currency_id", Int),
            c("payment_type_id", Int),
            c("paid", Bool),
            c("payment_date", Date),
        ],
    },
];

/// Looks a warehouse table up by name.
pub fn warehouse_table(name: &str) -> Option<&'static WarehouseTable> {
    WAREHOUSE_TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_come_before_facts_and_carry_a_version() {
        let first_fact = WAREHOUSE_TABLES
            .iter()
            .position(|t| t.kind == TableKind::Fact)
            .unwrap();
        assert!(
            WAREHOUSE_TABLES[first_fact..]
                .iter()
                .all(|t| t.kind == TableKind::Fact)
        );
        for t in &WAREHOUSE_TABLES {
            assert!(t.column(t.key).is_some(), "{}", t.name);
            match t.kind {
                TableKind::Dimension if t.name != "dim_date" => {
                    assert_eq!(t.column(DIMENSION_VERSION).unwrap().ty, Version)
                }
                TableKind::Fact => assert!(t.surrogate_key.is_some()),
                _ => {}
            }
        }
    }
}

/// A fact column that references a dimension's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    pub fact: &'static str,
    pub column: &'static str,
    pub dimension: &'static str,
}

const fn fk(fact: &'static str, column: &'static str, dimension: &'static str) -> ForeignKey {
    ForeignKey {
        fact,
        column,
        dimension,
    }
}

/// Every reference from a fact to a dimension (the stars of docs/architecture.md §3). Every date column
/// of a fact references `dim_date`.
pub const FOREIGN_KEYS: [ForeignKey; 24] = [
    fk("fact_sales_order", "created_date", "dim_date"),
    fk("fact_sales_order", "last_updated_date", "dim_date"),
    fk("fact_sales_order", "agreed_payment_date", "dim_date"),
    fk("fact_sales_order", "agreed_delivery_date", "dim_date"),
    fk("fact_sales_order", "sales_staff_id", "dim_staff"),
    fk("fact_sales_order", "counterparty_id", "dim_counterparty"),
    fk("fact_sales_order", "currency_id", "dim_currency"),
    fk("fact_sales_order", "design_id", "dim_design"),
    fk(
        "fact_sales_order",
        "agreed_delivery_location_id",
        "dim_location",
    ),
    fk("fact_purchase_order", "created_date", "dim_date"),
    fk("fact_purchase_order", "last_updated_date", "dim_date"),
    fk("fact_purchase_order", "agreed_delivery_date", "dim_date"),
    fk("fact_purchase_order", "agreed_payment_date", "dim_date"),
    fk("fact_purchase_order", "staff_id", "dim_staff"),
    fk("fact_purchase_order", "counterparty_id", "dim_counterparty"),
    fk("fact_purchase_order", "currency_id", "dim_currency"),
    fk(
        "fact_purchase_order",
        "agreed_delivery_location_id",
        "dim_location",
    ),
    fk("fact_payment", "created_date", "dim_date"),
    fk("fact_payment", "last_updated_date", "dim_date"),
    fk("fact_payment", "payment_date", "dim_date"),
    fk("fact_payment", "transaction_id", "dim_transaction"),
    fk("fact_payment", "counterparty_id", "dim_counterparty"),
    fk("fact_payment", "currency_id", "dim_currency"),
    fk("fact_payment", "payment_type_id", "dim_payment_type"),
];
