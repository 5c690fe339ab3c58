//! `etl simulate`: live business activity against the source, as the totesys application writes it.
//!
//! Every write stamps `last_updated` with the transaction's start time in UTC (`now() AT TIME ZONE
//! 'UTC'`, rounded by the `timestamp(3)` column), so the pipeline sees the same timestamps, ties
//! and rounding it meets in production. Besides new orders and settlements (all the real data
//! has), it makes the changes the real data lacks but the pipeline must handle: order edits,
//! address and department edits, and long-running transactions that commit rows stamped well
//! before their commit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use thiserror::Error;
use tokio::task::JoinSet;
use tokio_postgres::{Client, GenericClient};

use etl_adapters::DbError;

#[derive(Debug, Error)]
pub enum SimulateError {
    #[error("simulation failed while {step}: {source}")]
    Db {
        step: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    Connect(#[from] DbError),
    #[error("the source has no {0} rows to build orders from: run `etl seed` first")]
    NotSeeded(&'static str),
    #[error("{0}")]
    Invalid(String),
}

fn db(step: &'static str) -> impl FnOnce(tokio_postgres::Error) -> SimulateError {
    move |source| SimulateError::Db { step, source }
}

/// What to simulate. Rates are fractions of all operations; the rest are new orders.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// Stop after this long (at least one of `duration` and `operations` must be set).
    pub duration: Option<Duration>,
    /// Stop after this many operations.
    pub operations: Option<u64>,
    /// Operations per second; 0 runs as fast as the database allows.
    pub ops_per_sec: f64,
    pub settle_rate: f64,
    pub order_edit_rate: f64,
    pub dimension_edit_rate: f64,
    /// Fraction of new orders written by a transaction held open for `long_tx_hold`.
    pub long_tx_rate: f64,
    pub long_tx_hold: Duration,
    pub seed: u64,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            duration: None,
            operations: Some(100),
            ops_per_sec: 0.0,
            settle_rate: 0.2,
            order_edit_rate: 0.05,
            dimension_edit_rate: 0.02,
            long_tx_rate: 0.0,
            long_tx_hold: Duration::from_secs(2),
            seed: 1,
        }
    }
}

impl SimulateOptions {
    fn validate(&self) -> Result<(), SimulateError> {
        if self.duration.is_none() && self.operations.is_none() {
            return Err(SimulateError::Invalid(
                "simulate needs a bound: give --duration or --operations".into(),
            ));
        }
        let rates = [
            ("--settle-rate", self.settle_rate),
            ("--order-edit-rate", self.order_edit_rate),
            ("--dimension-edit-rate", self.dimension_edit_rate),
            ("--long-tx-rate", self.long_tx_rate),
        ];
        for (flag, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimulateError::Invalid(format!(
                    "{flag} must be between 0 and 1, got {rate}"
                )));
            }
        }
        if self.settle_rate + self.order_edit_rate + self.dimension_edit_rate > 1.0 {
            return Err(SimulateError::Invalid(
                "--settle-rate, --order-edit-rate and --dimension-edit-rate add up to more than 1"
                    .into(),
            ));
        }
        if !(self.ops_per_sec >= 0.0 && self.ops_per_sec.is_finite()) {
            return Err(SimulateError::Invalid(format!(
                "--rate must be a non-negative number, got {}",
                self.ops_per_sec
            )));
        }
        Ok(())
    }
}

/// Kinds of operation, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    NewOrder,
    LongNewOrder,
    Settlement,
    OrderEdit,
    AddressEdit,
    DepartmentEdit,
}

/// What a simulation did: operations by kind, and every source row it wrote, by table and key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulateReport {
    pub operations: BTreeMap<Operation, u64>,
    /// Distinct rows written (inserted or updated), by table.
    pub rows: BTreeMap<&'static str, BTreeSet<i32>>,
    pub elapsed_secs: f64,
}

impl SimulateReport {
    fn record(&mut self, op: Operation, writes: Writes) {
        *self.operations.entry(op).or_default() += 1;
        for (table, id) in writes {
            self.rows.entry(table).or_default().insert(id);
        }
    }

    /// Distinct rows written across all tables.
    pub fn distinct_rows(&self) -> usize {
        self.rows.values().map(BTreeSet::len).sum()
    }

    pub fn total_operations(&self) -> u64 {
        self.operations.values().sum()
    }
}

type Writes = Vec<(&'static str, i32)>;

/// Id ranges of the rows operations pick from.
#[derive(Debug, Clone, Copy)]
struct Ranges {
    design: i32,
    staff: i32,
    counterparty: i32,
    currency: i32,
    address: i32,
    department: i32,
}

impl Ranges {
    async fn load(client: &Client) -> Result<Self, SimulateError> {
        let row = client
            .query_one(
                "SELECT (SELECT max(design_id) FROM design), (SELECT max(staff_id) FROM staff), \
                        (SELECT max(counterparty_id) FROM counterparty), \
                        (SELECT max(currency_id) FROM currency), \
                        (SELECT max(address_id) FROM address), \
                        (SELECT max(department_id) FROM department)",
                &[],
            )
            .await
            .map_err(db("reading the reference data"))?;
        let get = |i: usize, table: &'static str| {
            row.get::<_, Option<i32>>(i)
                .ok_or(SimulateError::NotSeeded(table))
        };
        Ok(Ranges {
            design: get(0, "design")?,
            staff: get(1, "staff")?,
            counterparty: get(2, "counterparty")?,
            currency: get(3, "currency")?,
            address: get(4, "address")?,
            department: get(5, "department")?,
        })
    }
}

/// The values of one new order, drawn up front so a long transaction needs no generator state.
#[derive(Debug, Clone)]
struct NewOrder {
    sale: bool,
    design: i32,
    staff: i32,
    counterparty: i32,
    currency: i32,
    location: i32,
    quantity: i32,
    price_cents: i64,
    item_code: String,
    delivery_days: i32,
    payment_days: i32,
    ac: (i32, i32),
}

impl NewOrder {
    fn draw(rng: &mut ChaCha8Rng, r: &Ranges) -> Self {
        let sale = rng.random_bool(1.0 / 1.42);
        const CODE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        NewOrder {
            sale,
            design: rng.random_range(1..=r.design),
            staff: rng.random_range(1..=r.staff),
            counterparty: rng.random_range(1..=r.counterparty),
            currency: rng.random_range(1..=r.currency),
            location: rng.random_range(1..=r.address),
            quantity: if sale {
                rng.random_range(1_001..=99_973)
            } else {
                rng.random_range(1..=999)
            },
            price_cents: if sale {
                rng.random_range(200..=400)
            } else {
                rng.random_range(300..=99_900)
            },
            item_code: (0..7)
                .map(|_| char::from(CODE[rng.random_range(0..CODE.len())]))
                .collect(),
            delivery_days: rng.random_range(0..=7),
            payment_days: rng.random_range(0..=6),
            ac: (
                rng.random_range(10_000_000..=99_999_999),
                rng.random_range(10_000_000..=99_999_999),
            ),
        }
    }

    /// Writes the order, its transaction and its payment (three statements, caller's transaction).
    async fn write(&self, tx: &impl GenericClient) -> Result<Writes, SimulateError> {
        const NOW: &str = "(now() AT TIME ZONE 'UTC')";
        let dates = format!("(({NOW})::date + $1::int)::text, (({NOW})::date + $2::int)::text");
        let (order_table, order_id) = if self.sale {
            let sql = format!(
                "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, \
                   counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date, \
                   agreed_payment_date, agreed_delivery_location_id) \
                 VALUES ({NOW}, {NOW}, $3, $4, $5, $6, ($7::int8 / 100.0)::numeric(10,2), $8, \
                   {dates}, $9) RETURNING sales_order_id"
            );
            let row = tx
                .query_one(
                    &sql,
                    &[
                        &self.delivery_days,
                        &self.payment_days,
                        &self.design,
                        &self.staff,
                        &self.counterparty,
                        &self.quantity,
                        &self.price_cents,
                        &self.currency,
                        &self.location,
                    ],
                )
                .await
                .map_err(db("inserting a sales order"))?;
            ("sales_order", row.get::<_, i32>(0))
        } else {
            let sql = format!(
                "INSERT INTO purchase_order (created_at, last_updated, staff_id, counterparty_id, \
                   item_code, item_quantity, item_unit_price, currency_id, agreed_delivery_date, \
                   agreed_payment_date, agreed_delivery_location_id) \
                 VALUES ({NOW}, {NOW}, $3, $4, $5, $6, ($7::int8 / 100.0)::numeric(10,2), $8, \
                   {dates}, $9) RETURNING purchase_order_id"
            );
            let row = tx
                .query_one(
                    &sql,
                    &[
                        &self.delivery_days,
                        &self.payment_days,
                        &self.staff,
                        &self.counterparty,
                        &self.item_code,
                        &self.quantity,
                        &self.price_cents,
                        &self.currency,
                        &self.location,
                    ],
                )
                .await
                .map_err(db("inserting a purchase order"))?;
            ("purchase_order", row.get::<_, i32>(0))
        };
        let (kind, column) = if self.sale {
            ("SALE", "sales_order_id")
        } else {
            ("PURCHASE", "purchase_order_id")
        };
        let transaction_id: i32 = tx
            .query_one(
                &format!(
                    "INSERT INTO transaction (transaction_type, {column}, created_at, last_updated) \
                     VALUES ('{kind}', $1, {NOW}, {NOW}) RETURNING transaction_id"
                ),
                &[&order_id],
            )
            .await
            .map_err(db("inserting a transaction"))?
            .get(0);
        let payment_type = if self.sale { 1 } else { 3 };
        let payment_id: i32 = tx
            .query_one(
                &format!(
                    "INSERT INTO payment (created_at, last_updated, transaction_id, counterparty_id, \
                       payment_amount, currency_id, payment_type_id, paid, payment_date, \
                       company_ac_number, counterparty_ac_number) \
                     VALUES ({NOW}, {NOW}, $1, $2, ($3::int8 * $4::int8 / 100.0)::numeric(10,2), \
                       $5, $6, false, (({NOW})::date + $7::int)::text, $8, $9) \
                     RETURNING payment_id"
                ),
                &[
                    &transaction_id,
                    &self.counterparty,
                    &i64::from(self.quantity),
                    &self.price_cents,
                    &self.currency,
                    &payment_type,
                    &self.payment_days,
                    &self.ac.0,
                    &self.ac.1,
                ],
            )
            .await
            .map_err(db("inserting a payment"))?
            .get(0);
        Ok(vec![
            (order_table, order_id),
            ("transaction", transaction_id),
            ("payment", payment_id),
        ])
    }
}

/// Runs the simulation against the source at `url`.
pub async fn simulate(
    url: &str,
    connect_timeout: Duration,
    options: &SimulateOptions,
) -> Result<SimulateReport, SimulateError> {
    options.validate()?;
    let connect = || etl_adapters::db::connect("source", url, "etl-simulate", connect_timeout);
    let mut client = connect().await?;
    let ranges = Ranges::load(&client).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut report = SimulateReport::default();
    let mut long_running: JoinSet<Result<(Operation, Writes), SimulateError>> = JoinSet::new();
    let started = Instant::now();
    let pace =
        (options.ops_per_sec > 0.0).then(|| Duration::from_secs_f64(1.0 / options.ops_per_sec));
    let mut done = 0u64;
    let mut long_count = 0u64;

    loop {
        if options.operations.is_some_and(|n| done >= n)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let roll: f64 = rng.random();
        let thresholds = [
            options.settle_rate,
            options.settle_rate + options.order_edit_rate,
            options.settle_rate + options.order_edit_rate + options.dimension_edit_rate,
        ];
        if roll < thresholds[0] {
            let writes = settle(&client, &mut rng).await?;
            report.record(Operation::Settlement, writes);
        } else if roll < thresholds[1] {
            let writes = edit_order(&mut client, &mut rng).await?;
            report.record(Operation::OrderEdit, writes);
        } else if roll < thresholds[2] {
            let (op, writes) = edit_dimension(&client, &mut rng, &ranges).await?;
            report.record(op, writes);
        } else {
            let order = NewOrder::draw(&mut rng, &ranges);
            if rng.random_bool(options.long_tx_rate) {
                long_count += 1;
                let idle_first = long_count.is_multiple_of(2);
                let hold = options.long_tx_hold;
                let mut long_client = connect().await?;
                long_running.spawn(async move {
                    let tx = long_client
                        .transaction()
                        .await
                        .map_err(db("opening a long transaction"))?;
                    // Both shapes of late commit the extract must survive: a row written now and
                    // committed later, and a transaction that sits idle before it writes.
                    if idle_first {
                        tx.batch_execute("SELECT 1")
                            .await
                            .map_err(db("starting a long transaction"))?;
                        tokio::time::sleep(hold).await;
                    }
                    let writes = order.write(&tx).await?;
                    if !idle_first {
                        tokio::time::sleep(hold).await;
                    }
                    tx.commit()
                        .await
                        .map_err(db("committing a long transaction"))?;
                    Ok((Operation::LongNewOrder, writes))
                });
            } else {
                let tx = client
                    .transaction()
                    .await
                    .map_err(db("opening a transaction"))?;
                let writes = order.write(&tx).await?;
                tx.commit().await.map_err(db("committing a new order"))?;
                report.record(Operation::NewOrder, writes);
            }
        }
        done += 1;
        if let Some(pace) = pace {
            let due = pace.mul_f64(done as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    while let Some(joined) = long_running.join_next().await {
        let (op, writes) = joined.map_err(|e| {
            SimulateError::Invalid(format!("a long transaction task failed: {e}"))
        })??;
        report.record(op, writes);
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Marks a few unpaid payments paid, the way the 07:55 settlement job does.
async fn settle(client: &Client, rng: &mut ChaCha8Rng) -> Result<Writes, SimulateError> {
    let max: Option<i32> = client
        .query_one("SELECT max(payment_id) FROM payment", &[])
        .await
        .map_err(db("reading the payment range"))?
        .get(0);
    let Some(max) = max else {
        return Ok(Vec::new());
    };
    let candidates: Vec<i32> = (0..5).map(|_| rng.random_range(1..=max)).collect();
    let rows = client
        .query(
            "UPDATE payment SET paid = true, last_updated = now() AT TIME ZONE 'UTC' \
             WHERE payment_id = ANY($1) AND NOT paid RETURNING payment_id",
            &[&candidates],
        )
        .await
        .map_err(db("settling payments"))?;
    Ok(rows.iter().map(|r| ("payment", r.get(0))).collect())
}

/// Changes the quantity of an existing order and re-prices its payment, in one transaction.
async fn edit_order(client: &mut Client, rng: &mut ChaCha8Rng) -> Result<Writes, SimulateError> {
    let sale = rng.random_bool(1.0 / 1.42);
    let (table, key, quantity_col, price_col, quantity) = if sale {
        (
            "sales_order",
            "sales_order_id",
            "units_sold",
            "unit_price",
            rng.random_range(1_001..=99_973),
        )
    } else {
        (
            "purchase_order",
            "purchase_order_id",
            "item_quantity",
            "item_unit_price",
            rng.random_range(1..=999),
        )
    };
    let tx = client
        .transaction()
        .await
        .map_err(db("opening a transaction"))?;
    let max: Option<i32> = tx
        .query_one(&format!("SELECT max({key}) FROM {table}"), &[])
        .await
        .map_err(db("reading the order range"))?
        .get(0);
    let Some(max) = max else {
        return Ok(Vec::new());
    };
    let id = rng.random_range(1..=max);
    let updated = tx
        .query(
            &format!(
                "UPDATE {table} SET {quantity_col} = $2, last_updated = now() AT TIME ZONE 'UTC' \
                 WHERE {key} = $1 RETURNING {key}"
            ),
            &[&id, &quantity],
        )
        .await
        .map_err(db("editing an order"))?;
    let mut writes: Writes = updated.iter().map(|r| (table, r.get(0))).collect();
    let payments = tx
        .query(
            &format!(
                "UPDATE payment p SET payment_amount = o.{quantity_col} * o.{price_col}, \
                   last_updated = now() AT TIME ZONE 'UTC' \
                 FROM transaction t JOIN {table} o ON o.{key} = t.{key} \
                 WHERE t.{key} = $1 AND p.transaction_id = t.transaction_id \
                 RETURNING p.payment_id"
            ),
            &[&id],
        )
        .await
        .map_err(db("re-pricing a payment"))?;
    writes.extend(payments.iter().map(|r| ("payment", r.get(0))));
    tx.commit().await.map_err(db("committing an order edit"))?;
    Ok(writes)
}

/// Changes an address's phone number or a department's manager: parents of dimension rows whose
/// change must propagate to every dimension row that joins to them.
async fn edit_dimension(
    client: &Client,
    rng: &mut ChaCha8Rng,
    ranges: &Ranges,
) -> Result<(Operation, Writes), SimulateError> {
    if rng.random_bool(0.5) {
        let id = rng.random_range(1..=ranges.address);
        let phone = format!(
            "{:04} {:06}",
            rng.random_range(0..10_000),
            rng.random_range(0..1_000_000)
        );
        let n = client
            .execute(
                "UPDATE address SET phone = $2, last_updated = now() AT TIME ZONE 'UTC' \
                 WHERE address_id = $1",
                &[&id, &phone],
            )
            .await
            .map_err(db("editing an address"))?;
        let writes = if n > 0 {
            vec![("address", id)]
        } else {
            Vec::new()
        };
        Ok((Operation::AddressEdit, writes))
    } else {
        let id = rng.random_range(1..=ranges.department);
        let manager = format!("Manager {}", rng.random_range(1..10_000));
        let n = client
            .execute(
                "UPDATE department SET manager = $2, last_updated = now() AT TIME ZONE 'UTC' \
                 WHERE department_id = $1",
                &[&id, &manager],
            )
            .await
            .map_err(db("editing a department"))?;
        let writes = if n > 0 {
            vec![("department", id)]
        } else {
            Vec::new()
        };
        Ok((Operation::DepartmentEdit, writes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_a_bound_and_sane_rates() {
        let mut o = SimulateOptions {
            operations: None,
            ..Default::default()
        };
        assert!(o.validate().unwrap_err().to_string().contains("--duration"));
        o.operations = Some(1);
        assert!(o.validate().is_ok());
        o.settle_rate = 0.9;
        o.order_edit_rate = 0.2;
        assert!(o.validate().is_err());
        o.order_edit_rate = 1.5;
        assert!(
            o.validate()
                .unwrap_err()
                .to_string()
                .contains("--order-edit-rate")
        );
    }
}
