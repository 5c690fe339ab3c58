//! The Iceberg schema of a warehouse table, derived from the one catalog
//! (`etl_contract::warehouse`) as the Parquet, staging and merge schemas are, so the lake's
//! tables cannot disagree with the warehouse's.

use etl_contract::warehouse::{WarehouseTable, WarehouseType};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

/// The Iceberg type of a warehouse column type: the same values as the processed Parquet.
pub fn iceberg_type(ty: WarehouseType) -> PrimitiveType {
    match ty {
        WarehouseType::Int => PrimitiveType::Int,
        WarehouseType::Text => PrimitiveType::String,
        WarehouseType::Bool => PrimitiveType::Boolean,
        WarehouseType::Date => PrimitiveType::Date,
        WarehouseType::Time => PrimitiveType::Time,
        WarehouseType::Money => PrimitiveType::Decimal {
            precision: 10,
            scale: 2,
        },
        WarehouseType::Version => PrimitiveType::Timestamptz,
    }
}

/// The table's schema: its columns in catalog order, field ids from 1, required where the
/// warehouse column is NOT NULL. Facts carry no surrogate key (the warehouse assigns it); a
/// fact row is identified by its natural key and source version, as in the warehouse.
pub fn schema(table: &WarehouseTable) -> Result<Schema, iceberg::Error> {
    let fields = table.columns.iter().zip(1..).map(|(column, id)| {
        let ty = Type::Primitive(iceberg_type(column.ty));
        let field = if column.nullable {
            NestedField::optional(id, column.name, ty)
        } else {
            NestedField::required(id, column.name, ty)
        };
        field.into()
    });
    Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etl_contract::warehouse::WAREHOUSE_TABLES;

    #[test]
    fn every_warehouse_table_has_a_schema_with_its_columns_in_order() {
        for table in &WAREHOUSE_TABLES {
            let schema = schema(table).unwrap();
            let names: Vec<_> = schema
                .as_struct()
                .fields()
                .iter()
                .map(|f| f.name.clone())
                .collect();
            let expected: Vec<_> = table.columns.iter().map(|c| c.name.to_owned()).collect();
            assert_eq!(names, expected, "{}", table.name);
            for (field, column) in schema.as_struct().fields().iter().zip(table.columns) {
                assert_eq!(
                    field.required, !column.nullable,
                    "{}.{}",
                    table.name, column.name
                );
            }
        }
    }
}
