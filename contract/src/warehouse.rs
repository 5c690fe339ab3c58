//! The warehouse catalog: the galaxy schema of docs/architecture.md §3, as transform derives it from
//! the source, writes it to Parquet and load merges it into Postgres. One definition, so the
//! star-schema model, the Parquet schema, the staging tables and the merge statements cannot
//! disagree: each table says how its rows arise from the source ([`Grain`]) and each column
//! where its values come from ([`Origin`]); transform's model interprets that and nothing else.

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

/// The Arrow field metadata key Parquet writers and readers keep a field id under (the value
/// of `parquet::arrow::PARQUET_FIELD_ID_META_KEY`, spelled out so the contract needs no
/// Parquet dependency; the lake's tests hold the two equal).
pub const FIELD_ID_KEY: &str = "PARQUET:field_id";

/// A file column that does not match the catalog: load quarantines such a file, the lake
/// refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct ColumnMismatch {
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarehouseColumn {
    pub name: &'static str,
    pub ty: WarehouseType,
    pub nullable: bool,
    pub from: Origin,
}

impl WarehouseColumn {
    const fn from(self, from: Origin) -> WarehouseColumn {
        WarehouseColumn { from, ..self }
    }
}

/// Where a warehouse column's values come from, in terms of the table's [`Grain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The source column of the same name.
    Same,
    /// A source column of another name.
    Source(&'static str),
    /// A column of the parent row the source row refers to ([`Parent`]).
    Parent(&'static str),
    /// The date part of a source timestamp.
    DateOf(&'static str),
    /// The time of day of a source timestamp.
    TimeOf(&'static str),
    /// The row's source version: its `last_updated`, or with a parent the later of its own and
    /// its parent's, so a dimension row changes when either side does.
    Version,
    /// The ISO 4217 name of the currency code in a source column.
    CurrencyName(&'static str),
    /// Computed from the date alone (the calendar).
    Calendar,
}

/// How a table's rows arise from a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// One row per captured version of a source row: the run's rows of `source`.
    Fact { source: &'static str },
    /// The run's rows of `source`, one per key.
    Rows { source: &'static str },
    /// The current state (transform's snapshot) of every `source` row the run changed, or
    /// whose parent it changed, joined with that parent.
    Current {
        source: &'static str,
        parent: Option<Parent>,
    },
    /// One row per date the run's facts refer to.
    Calendar,
}

/// The row a source row refers to, whose columns a joined dimension carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub table: &'static str,
    /// The source row's column holding the parent's primary key.
    pub via: &'static str,
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
    /// How the rows arise from a run.
    pub grain: Grain,
    /// The columns transform writes, in order.
    pub columns: &'static [WarehouseColumn],
}

impl WarehouseTable {
    pub fn column(&self, name: &str) -> Option<&WarehouseColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the table's processed Parquet: the columns in catalog order, each
    /// field carrying its Iceberg field id (its position, from 1) under [`FIELD_ID_KEY`], so
    /// the lake can register a processed file as an Iceberg data file as it is, without
    /// rewriting it (lake/src/publish.rs). Readers that resolve columns by name ignore the ids.
    pub fn arrow_schema(&self) -> arrow_schema::Schema {
        arrow_schema::Schema::new(
            self.columns
                .iter()
                .zip(1..)
                .map(|(c, id): (_, i32)| {
                    arrow_schema::Field::new(c.name, c.ty.arrow(), c.nullable).with_metadata(
                        std::collections::HashMap::from([(
                            FIELD_ID_KEY.to_owned(),
                            id.to_string(),
                        )]),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }

    /// Whether a file's schema holds this table's rows as load and the lake read them (by
    /// name): every column present with its type, none nullable that is NOT NULL here, none
    /// extra. Order and field ids are not checked. The error names a column, never a value.
    pub fn check_arrow(&self, schema: &arrow_schema::Schema) -> Result<(), ColumnMismatch> {
        let mismatch = |column: &str, reason: String| ColumnMismatch {
            column: column.to_owned(),
            reason,
        };
        for column in self.columns {
            let field = schema.field_with_name(column.name).map_err(|_| {
                mismatch(
                    column.name,
                    format!("missing from the file (expected by {})", self.name),
                )
            })?;
            let expected = column.ty.arrow();
            if field.data_type() != &expected {
                return Err(mismatch(
                    column.name,
                    format!("has type {}, expected {expected}", field.data_type()),
                ));
            }
            if field.is_nullable() && !column.nullable {
                return Err(mismatch(
                    column.name,
                    "is nullable in the file but NOT NULL in the warehouse".into(),
                ));
            }
        }
        match schema
            .fields()
            .iter()
            .find(|f| self.column(f.name()).is_none())
        {
            Some(extra) => Err(mismatch(
                extra.name(),
                format!("is not a column of {}", self.name),
            )),
            None => Ok(()),
        }
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
        from: Origin::Same,
    }
}

const fn n(name: &'static str, ty: WarehouseType) -> WarehouseColumn {
    WarehouseColumn {
        name,
        ty,
        nullable: true,
        from: Origin::Same,
    }
}

use Origin::{Calendar, CurrencyName, DateOf, Source, TimeOf};
use WarehouseType::{Bool, Date, Int, Money, Text, Time, Version};

/// A dimension's source version column.
const fn version() -> WarehouseColumn {
    c(DIMENSION_VERSION, Version).from(Origin::Version)
}

const fn p(name: &'static str, ty: WarehouseType, parent_column: &'static str) -> WarehouseColumn {
    c(name, ty).from(Origin::Parent(parent_column))
}

const fn np(name: &'static str, ty: WarehouseType, parent_column: &'static str) -> WarehouseColumn {
    n(name, ty).from(Origin::Parent(parent_column))
}

/// A fact's four date and time columns of its creation and its version.
const CREATED_DATE: WarehouseColumn = c("created_date", Date).from(DateOf("created_at"));
const CREATED_TIME: WarehouseColumn = c("created_time", Time).from(TimeOf("created_at"));
const UPDATED_DATE: WarehouseColumn = c("last_updated_date", Date).from(DateOf("last_updated"));
const UPDATED_TIME: WarehouseColumn = c("last_updated_time", Time).from(TimeOf("last_updated"));

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
        grain: Grain::Calendar,
        columns: &[
            c("date_id", Date).from(Calendar),
            c("year", Int).from(Calendar),
            c("month", Int).from(Calendar),
            c("day", Int).from(Calendar),
            c("day_of_week", Int).from(Calendar),
            c("day_name", Text).from(Calendar),
            c("month_name", Text).from(Calendar),
            c("quarter", Int).from(Calendar),
        ],
    },
    WarehouseTable {
        name: "dim_staff",
        kind: TableKind::Dimension,
        key: "staff_id",
        surrogate_key: None,
        grain: Grain::Current {
            source: "staff",
            parent: Some(Parent {
                table: "department",
                via: "department_id",
            }),
        },
        columns: &[
            c("staff_id", Int),
            c("first_name", Text),
            c("last_name", Text),
            p("department_name", Text, "department_name"),
            np("location", Text, "location"),
            c("email_address", Text),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_location",
        kind: TableKind::Dimension,
        key: "location_id",
        surrogate_key: None,
        grain: Grain::Current {
            source: "address",
            parent: None,
        },
        columns: &[
            c("location_id", Int).from(Source("address_id")),
            c("address_line_1", Text),
            n("address_line_2", Text),
            n("district", Text),
            c("city", Text),
            c("postal_code", Text),
            c("country", Text),
            c("phone", Text),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_design",
        kind: TableKind::Dimension,
        key: "design_id",
        surrogate_key: None,
        grain: Grain::Rows { source: "design" },
        columns: &[
            c("design_id", Int),
            c("design_name", Text),
            c("file_location", Text),
            c("file_name", Text),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_currency",
        kind: TableKind::Dimension,
        key: "currency_id",
        surrogate_key: None,
        grain: Grain::Rows { source: "currency" },
        columns: &[
            c("currency_id", Int),
            c("currency_code", Text),
            c("currency_name", Text).from(CurrencyName("currency_code")),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_counterparty",
        kind: TableKind::Dimension,
        key: "counterparty_id",
        surrogate_key: None,
        grain: Grain::Current {
            source: "counterparty",
            parent: Some(Parent {
                table: "address",
                via: "legal_address_id",
            }),
        },
        columns: &[
            c("counterparty_id", Int),
            c("counterparty_legal_name", Text),
            p("counterparty_legal_address_line_1", Text, "address_line_1"),
            np("counterparty_legal_address_line_2", Text, "address_line_2"),
            np("counterparty_legal_district", Text, "district"),
            p("counterparty_legal_city", Text, "city"),
            p("counterparty_legal_postal_code", Text, "postal_code"),
            p("counterparty_legal_country", Text, "country"),
            p("counterparty_legal_phone_number", Text, "phone"),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_payment_type",
        kind: TableKind::Dimension,
        key: "payment_type_id",
        surrogate_key: None,
        grain: Grain::Rows {
            source: "payment_type",
        },
        columns: &[
            c("payment_type_id", Int),
            c("payment_type_name", Text),
            version(),
        ],
    },
    WarehouseTable {
        name: "dim_transaction",
        kind: TableKind::Dimension,
        key: "transaction_id",
        surrogate_key: None,
        grain: Grain::Rows {
            source: "transaction",
        },
        columns: &[
            c("transaction_id", Int),
            c("transaction_type", Text),
            n("sales_order_id", Int),
            n("purchase_order_id", Int),
            version(),
        ],
    },
    WarehouseTable {
        name: "fact_sales_order",
        kind: TableKind::Fact,
        key: "sales_order_id",
        surrogate_key: Some("sales_record_id"),
        grain: Grain::Fact {
            source: "sales_order",
        },
        columns: &[
            c("sales_order_id", Int),
            CREATED_DATE,
            CREATED_TIME,
            UPDATED_DATE,
            UPDATED_TIME,
            c("sales_staff_id", Int).from(Source("staff_id")),
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
        grain: Grain::Fact {
            source: "purchase_order",
        },
        columns: &[
            c("purchase_order_id", Int),
            CREATED_DATE,
            CREATED_TIME,
            UPDATED_DATE,
            UPDATED_TIME,
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
        grain: Grain::Fact { source: "payment" },
        columns: &[
            c("payment_id", Int),
            CREATED_DATE,
            CREATED_TIME,
            UPDATED_DATE,
            UPDATED_TIME,
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

impl Grain {
    /// The source table a run's rows of this table come from (none for the calendar).
    pub fn source(&self) -> Option<&'static str> {
        match self {
            Grain::Fact { source } | Grain::Rows { source } | Grain::Current { source, .. } => {
                Some(source)
            }
            Grain::Calendar => None,
        }
    }

    pub fn parent(&self) -> Option<Parent> {
        match self {
            Grain::Current { parent, .. } => *parent,
            Grain::Fact { .. } | Grain::Rows { .. } | Grain::Calendar => None,
        }
    }
}

/// The source tables whose current state transform keeps (its snapshots): those a
/// [`Grain::Current`] dimension reads or joins, sorted.
pub fn current_state_tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = WAREHOUSE_TABLES
        .iter()
        .filter(|t| matches!(t.grain, Grain::Current { .. }))
        .flat_map(|t| {
            t.grain
                .source()
                .into_iter()
                .chain(t.grain.parent().map(|p| p.table))
        })
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// Looks a warehouse table up by name.
pub fn warehouse_table(name: &str) -> Option<&'static WarehouseTable> {
    WAREHOUSE_TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_comes_from_a_source_column_that_exists_and_fits() {
        use crate::catalog::{ColumnType, source_table};
        for t in &WAREHOUSE_TABLES {
            let Some(source) = t.grain.source() else {
                assert!(t.columns.iter().all(|c| c.from == Calendar), "{}", t.name);
                continue;
            };
            let source = source_table(source).unwrap();
            let parent = t.grain.parent().map(|p| {
                assert!(source.column(p.via).is_some(), "{}: {}", t.name, p.via);
                source_table(p.table).unwrap()
            });
            for column in t.columns {
                let here = |name: &str| {
                    source
                        .column(name)
                        .unwrap_or_else(|| panic!("{}.{}: no {name}", t.name, column.name))
                };
                let nullable = match column.from {
                    Origin::Same => here(column.name).nullable,
                    Source(name) | CurrencyName(name) => here(name).nullable,
                    DateOf(name) | TimeOf(name) => {
                        assert!(matches!(here(name).ty, ColumnType::Timestamp { .. }));
                        here(name).nullable
                    }
                    Origin::Parent(name) => {
                        let parent = parent.unwrap_or_else(|| panic!("{}: no parent", t.name));
                        parent.column(name).unwrap().nullable
                    }
                    Origin::Version => here(DIMENSION_VERSION).nullable,
                    Calendar => panic!("{}.{}: a calendar column", t.name, column.name),
                };
                // A NULL in the source must have somewhere to go.
                assert!(column.nullable || !nullable, "{}.{}", t.name, column.name);
            }
        }
        assert_eq!(
            current_state_tables(),
            ["address", "counterparty", "department", "staff"]
        );
    }

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
