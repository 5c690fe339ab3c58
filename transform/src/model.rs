//! The galaxy schema (docs/architecture.md §3) built from source frames with polars. Pure functions of
//! frames: no I/O, deterministic (every output is sorted by its version key).
//!
//! Timestamps arrive as Int64 microseconds since the epoch; a fact's `created_at` splits into a
//! date (Int32 days) and a time (Int64 microseconds since midnight) with floor division, so
//! times before 1970 split correctly too.

use polars::prelude::*;

use crate::currency::CURRENCY_NAMES;
use crate::error::TransformError;

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn date_of(column: &str) -> Expr {
    col(column)
        .floor_div(lit(MICROS_PER_DAY))
        .cast(DataType::Int32)
}

fn time_of(column: &str) -> Expr {
    col(column) - col(column).floor_div(lit(MICROS_PER_DAY)) * lit(MICROS_PER_DAY)
}

/// The later of two source versions: a joined dimension row changes when either side does.
fn later(a: &str, b: &str) -> Expr {
    when(col(a).gt_eq(col(b))).then(col(a)).otherwise(col(b))
}

fn sorted(frame: LazyFrame, by: &[&str]) -> LazyFrame {
    frame.sort(
        by.iter().map(|s| PlSmallStr::from(*s)).collect::<Vec<_>>(),
        SortMultipleOptions::default().with_maintain_order(true),
    )
}

fn collect(frame: LazyFrame, table: &'static str) -> Result<DataFrame, TransformError> {
    frame.collect().map_err(TransformError::frame(table))
}

fn fact_times() -> [Expr; 4] {
    [
        date_of("created_at").alias("created_date"),
        time_of("created_at").alias("created_time"),
        date_of("last_updated").alias("last_updated_date"),
        time_of("last_updated").alias("last_updated_time"),
    ]
}

/// One fact row per captured `sales_order` version.
pub fn fact_sales_order(sales_order: &DataFrame) -> Result<DataFrame, TransformError> {
    let [cd, ct, ud, ut] = fact_times();
    let frame = sales_order.clone().lazy().select([
        col("sales_order_id"),
        cd,
        ct,
        ud,
        ut,
        col("staff_id").alias("sales_staff_id"),
        col("counterparty_id"),
        col("units_sold"),
        col("unit_price"),
        col("currency_id"),
        col("design_id"),
        col("agreed_payment_date"),
        col("agreed_delivery_date"),
        col("agreed_delivery_location_id"),
    ]);
    collect(
        sorted(
            frame,
            &["sales_order_id", "last_updated_date", "last_updated_time"],
        ),
        "fact_sales_order",
    )
}

/// One fact row per captured `purchase_order` version.
pub fn fact_purchase_order(purchase_order: &DataFrame) -> Result<DataFrame, TransformError> {
    let [cd, ct, ud, ut] = fact_times();
    let frame = purchase_order.clone().lazy().select([
        col("purchase_order_id"),
        cd,
        ct,
        ud,
        ut,
        col("staff_id"),
        col("counterparty_id"),
        col("item_code"),
        col("item_quantity"),
        col("item_unit_price"),
        col("currency_id"),
        col("agreed_delivery_date"),
        col("agreed_payment_date"),
        col("agreed_delivery_location_id"),
    ]);
    collect(
        sorted(
            frame,
            &[
                "purchase_order_id",
                "last_updated_date",
                "last_updated_time",
            ],
        ),
        "fact_purchase_order",
    )
}

/// One fact row per captured `payment` version (the account numbers are dropped).
pub fn fact_payment(payment: &DataFrame) -> Result<DataFrame, TransformError> {
    let [cd, ct, ud, ut] = fact_times();
    let frame = payment.clone().lazy().select([
        col("payment_id"),
        cd,
        ct,
        ud,
        ut,
        col("transaction_id"),
        col("counterparty_id"),
        col("payment_amount"),
        col("currency_id"),
        col("payment_type_id"),
        col("paid"),
        col("payment_date"),
    ]);
    collect(
        sorted(
            frame,
            &["payment_id", "last_updated_date", "last_updated_time"],
        ),
        "fact_payment",
    )
}

pub fn dim_design(design: &DataFrame) -> Result<DataFrame, TransformError> {
    let frame = design.clone().lazy().select([
        col("design_id"),
        col("design_name"),
        col("file_location"),
        col("file_name"),
        col("last_updated"),
    ]);
    collect(sorted(frame, &["design_id"]), "dim_design")
}

pub fn dim_payment_type(payment_type: &DataFrame) -> Result<DataFrame, TransformError> {
    let frame = payment_type.clone().lazy().select([
        col("payment_type_id"),
        col("payment_type_name"),
        col("last_updated"),
    ]);
    collect(sorted(frame, &["payment_type_id"]), "dim_payment_type")
}

pub fn dim_transaction(transaction: &DataFrame) -> Result<DataFrame, TransformError> {
    let frame = transaction.clone().lazy().select([
        col("transaction_id"),
        col("transaction_type"),
        col("sales_order_id"),
        col("purchase_order_id"),
        col("last_updated"),
    ]);
    collect(sorted(frame, &["transaction_id"]), "dim_transaction")
}

/// Currencies with their ISO 4217 names; an unknown code is an error naming the currency.
pub fn dim_currency(currency: &DataFrame) -> Result<DataFrame, TransformError> {
    let (codes, names): (Vec<&str>, Vec<&str>) = CURRENCY_NAMES.iter().copied().unzip();
    let iso = df!("iso_code" => codes, "currency_name" => names)
        .map_err(TransformError::frame("dim_currency"))?;
    let frame = currency
        .clone()
        .lazy()
        .left_join(iso.lazy(), col("currency_code"), col("iso_code"))
        .select([
            col("currency_id"),
            col("currency_code"),
            col("currency_name"),
            col("last_updated"),
        ]);
    let out = collect(sorted(frame, &["currency_id"]), "dim_currency")?;
    let names = out
        .column("currency_name")
        .and_then(|c| c.str().cloned())
        .map_err(TransformError::frame("dim_currency"))?;
    if let Some(row) = names.iter().position(|n| n.is_none()) {
        let get = |name: &str| out.column(name).ok().and_then(|c| c.get(row).ok());
        return Err(TransformError::UnknownCurrency {
            currency_id: get("currency_id")
                .and_then(|v| v.extract::<i32>())
                .unwrap_or_default(),
            code: get("currency_code")
                .map(|v| v.get_str().unwrap_or_default().to_owned())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// `dim_location` rows for the given addresses, from the address snapshot.
pub fn dim_location(addresses: &DataFrame, ids: &[i32]) -> Result<DataFrame, TransformError> {
    let frame = with_ids(addresses.clone().lazy(), "address_id", ids, "dim_location")?.select([
        col("address_id").alias("location_id"),
        col("address_line_1"),
        col("address_line_2"),
        col("district"),
        col("city"),
        col("postal_code"),
        col("country"),
        col("phone"),
        col("last_updated"),
    ]);
    collect(sorted(frame, &["location_id"]), "dim_location")
}

/// `dim_counterparty` rows for the given counterparties, joining the snapshots of counterparty
/// and address. A counterparty whose address is not known yet is left out; it is emitted when
/// its address arrives (an address change re-emits every counterparty pointing at it).
pub fn dim_counterparty(
    counterparties: &DataFrame,
    addresses: &DataFrame,
    ids: &[i32],
) -> Result<DataFrame, TransformError> {
    let address = addresses.clone().lazy().select([
        col("address_id"),
        col("address_line_1"),
        col("address_line_2"),
        col("district"),
        col("city"),
        col("postal_code"),
        col("country"),
        col("phone"),
        col("last_updated").alias("address_last_updated"),
    ]);
    let frame = with_ids(
        counterparties.clone().lazy(),
        "counterparty_id",
        ids,
        "dim_counterparty",
    )?
    .inner_join(address, col("legal_address_id"), col("address_id"))
    .select([
        col("counterparty_id"),
        col("counterparty_legal_name"),
        col("address_line_1").alias("counterparty_legal_address_line_1"),
        col("address_line_2").alias("counterparty_legal_address_line_2"),
        col("district").alias("counterparty_legal_district"),
        col("city").alias("counterparty_legal_city"),
        col("postal_code").alias("counterparty_legal_postal_code"),
        col("country").alias("counterparty_legal_country"),
        col("phone").alias("counterparty_legal_phone_number"),
        later("last_updated", "address_last_updated").alias("last_updated"),
    ]);
    collect(sorted(frame, &["counterparty_id"]), "dim_counterparty")
}

/// `dim_staff` rows for the given staff, joining the snapshots of staff and department.
pub fn dim_staff(
    staff: &DataFrame,
    departments: &DataFrame,
    ids: &[i32],
) -> Result<DataFrame, TransformError> {
    let department = departments.clone().lazy().select([
        col("department_id"),
        col("department_name"),
        col("location"),
        col("last_updated").alias("department_last_updated"),
    ]);
    let frame = with_ids(staff.clone().lazy(), "staff_id", ids, "dim_staff")?
        .inner_join(department, col("department_id"), col("department_id"))
        .select([
            col("staff_id"),
            col("first_name"),
            col("last_name"),
            col("department_name"),
            col("location"),
            col("email_address"),
            later("last_updated", "department_last_updated").alias("last_updated"),
        ]);
    collect(sorted(frame, &["staff_id"]), "dim_staff")
}

/// Keeps the rows of `frame` whose `key` is one of `ids`.
fn with_ids(
    frame: LazyFrame,
    key: &str,
    ids: &[i32],
    table: &'static str,
) -> Result<LazyFrame, TransformError> {
    let wanted = df!("__id" => ids.to_vec()).map_err(TransformError::frame(table))?;
    Ok(frame.inner_join(wanted.lazy(), col(key), col("__id")))
}

/// The ids in an Int32 column that refers to rows whose key is in `changed`: e.g. every
/// counterparty (`counterparty_id`) whose `legal_address_id` is one of the changed addresses.
pub fn ids_referring_to(
    frame: &DataFrame,
    id_column: &'static str,
    reference_column: &str,
    changed: &[i32],
    table: &'static str,
) -> Result<Vec<i32>, TransformError> {
    let refs = collect(
        with_ids(frame.clone().lazy(), reference_column, changed, table)?.select([col(id_column)]),
        table,
    )?;
    int_values(&refs, id_column, table)
}

/// The non-null values of an Int32 column, sorted and without duplicates.
pub fn int_values(
    frame: &DataFrame,
    column: &str,
    table: &'static str,
) -> Result<Vec<i32>, TransformError> {
    let values = frame
        .column(column)
        .and_then(|c| c.i32().cloned())
        .map_err(TransformError::frame(table))?;
    let mut out: Vec<i32> = values.iter().flatten().collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
