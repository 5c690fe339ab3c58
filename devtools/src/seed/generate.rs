//! Deterministic synthetic totesys history (docs/architecture.md §11), as plain data. No I/O here.
//!
//! Everything is drawn from one ChaCha8 stream seeded with `--seed`, in a fixed order, and the
//! history ends at a given date rather than at "now", so the same seed and end date always give
//! byte-identical data.
//!
//! The shapes follow the real database: orders only on weekdays 08:00-18:59; every order written
//! with its transaction and payment (same `created_at`, amount = quantity x price, payment type by
//! transaction type, payment date = agreed payment date); and a settlement job at 07:55 on each
//! weekday that marks the payments due that day as paid, stamping `last_updated`. Payments due on a
//! weekend, or due the same day they were created (after that morning's job ran), stay unpaid,
//! which is what leaves about 40% of the real payments unpaid.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::reference::Reference;

/// Length of the generated history, ending the day before `end`.
pub const HISTORY_DAYS: u64 = 730;
/// Purchase orders per sales order in the real data (4.6k / 11k).
pub const PURCHASE_RATIO: f64 = 0.42;
pub const ADDRESSES: usize = 30;
pub const COUNTERPARTIES: usize = 20;
pub const STAFF: usize = 20;
pub const DESIGNS: usize = 470;
/// Share of sales orders whose delivery is agreed far out (up to ~2 years) instead of within a week.
pub const FAR_DELIVERY_RATE: f64 = 0.01;

const BUSINESS_OPEN: u32 = 8; // 08:00:00.000
const BUSINESS_MS_PER_DAY: u64 = 11 * 3_600_000; // until 18:59:59.999
const SETTLEMENT_TIME: (u32, u32) = (7, 55);

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSpec {
    /// Number of sales orders; purchase orders, transactions and payments follow from it.
    pub scale: u64,
    pub seed: u64,
    /// The history ends before this date (00:00 UTC). Defaults to today in the CLI.
    pub end: NaiveDate,
}

impl SeedSpec {
    pub fn purchase_orders(&self) -> u64 {
        (self.scale as f64 * PURCHASE_RATIO).round() as u64
    }

    /// The first day of the history; reference rows are created on it, orders start the day after.
    pub fn start(&self) -> NaiveDate {
        self.end - Days::new(HISTORY_DAYS)
    }

    /// When the reference rows were created (the real data has one such instant for all of them).
    pub fn reference_created_at(&self) -> NaiveDateTime {
        self.start()
            .and_time(NaiveTime::from_hms_milli_opt(14, 20, 49, 962).unwrap_or_default())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub line_1: String,
    pub line_2: Option<String>,
    pub district: Option<&'static str>,
    pub city: &'static str,
    pub postal_code: String,
    pub country: &'static str,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterparty {
    pub legal_name: String,
    pub legal_address_id: i32,
    pub commercial_contact: Option<String>,
    pub delivery_contact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub department_id: i32,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Design {
    pub name: &'static str,
    pub file_location: &'static str,
    pub file_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Sale,
    Purchase,
}

/// One business event: an order with its transaction and payment (ids are 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub kind: OrderKind,
    pub created_at: NaiveDateTime,
    /// `sales_order_id` or `purchase_order_id`, numbered in time order within its kind.
    pub order_id: i32,
    /// Also the payment's id: both tables grow one row per order, in time order.
    pub transaction_id: i32,
    pub design_id: i32,
    pub staff_id: i32,
    pub counterparty_id: i32,
    pub currency_id: i32,
    pub location_id: i32,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub item_code: [u8; 7],
    pub agreed_delivery_date: NaiveDate,
    pub agreed_payment_date: NaiveDate,
    pub company_ac_number: i32,
    pub counterparty_ac_number: i32,
    /// When the settlement job marked the payment paid, if it has by the end of the history.
    pub settled_at: Option<NaiveDateTime>,
}

impl Order {
    pub fn payment_amount_cents(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price_cents
    }

    pub fn payment_type_id(&self) -> i32 {
        match self.kind {
            OrderKind::Sale => 1,
            OrderKind::Purchase => 3,
        }
    }

    pub fn payment_last_updated(&self) -> NaiveDateTime {
        self.settled_at.unwrap_or(self.created_at)
    }
}

/// The whole generated history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub spec: SeedSpec,
    pub addresses: Vec<Address>,
    pub counterparties: Vec<Counterparty>,
    pub staff: Vec<Staff>,
    pub designs: Vec<Design>,
    /// In `created_at` order.
    pub orders: Vec<Order>,
}

/// Generates the dataset for `spec`.
pub fn generate(spec: SeedSpec, reference: &Reference) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let addresses = (0..ADDRESSES)
        .map(|_| address(&mut rng, reference))
        .collect();
    let counterparties = (0..COUNTERPARTIES)
        .map(|_| counterparty(&mut rng, reference))
        .collect();
    let staff = (0..STAFF).map(|_| staff(&mut rng, reference)).collect();
    let designs = (0..DESIGNS)
        .map(|_| design(&mut rng, reference, spec.start()))
        .collect();
    let orders = orders(&mut rng, spec, reference);
    Dataset {
        spec,
        addresses,
        counterparties,
        staff,
        designs,
        orders,
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn address(rng: &mut ChaCha8Rng, r: &Reference) -> Address {
    let line_1 = format!(
        "{} {} {}",
        rng.random_range(1..10_000),
        pick(rng, &r.street_names),
        pick(rng, &r.street_suffixes)
    );
    let line_2 = rng
        .random_bool(1.0 / 3.0)
        .then(|| match rng.random_range(0..3) {
            0 => format!("Apt. {}", rng.random_range(1..1000)),
            1 => format!("Suite {}", rng.random_range(1..1000)),
            _ => pick(rng, &r.street_names).to_owned(),
        });
    let district = rng.random_bool(0.5).then(|| pick(rng, &r.districts));
    let postal_code = if rng.random_bool(0.5) {
        digits(rng, 5)
    } else {
        format!("{}-{}", digits(rng, 5), digits(rng, 4))
    };
    Address {
        line_1,
        line_2,
        district,
        city: pick(rng, &r.cities),
        postal_code,
        country: pick(rng, &r.countries),
        phone: format!("{} {}", digits(rng, 4), digits(rng, 6)),
    }
}

fn full_name(rng: &mut ChaCha8Rng, r: &Reference) -> String {
    format!("{} {}", pick(rng, &r.first_names), pick(rng, &r.last_names))
}

fn counterparty(rng: &mut ChaCha8Rng, r: &Reference) -> Counterparty {
    let legal_name = match rng.random_range(0..3) {
        0 => format!(
            "{}, {} and {}",
            pick(rng, &r.last_names),
            pick(rng, &r.last_names),
            pick(rng, &r.last_names)
        ),
        1 => format!("{}-{}", pick(rng, &r.last_names), pick(rng, &r.last_names)),
        _ => format!(
            "{} {}",
            pick(rng, &r.last_names),
            pick(rng, &r.company_suffixes)
        ),
    };
    Counterparty {
        legal_name,
        legal_address_id: rng.random_range(1..=ADDRESSES as i32),
        commercial_contact: rng.random_bool(0.9).then(|| full_name(rng, r)),
        delivery_contact: rng.random_bool(0.9).then(|| full_name(rng, r)),
    }
}

fn staff(rng: &mut ChaCha8Rng, r: &Reference) -> Staff {
    let first_name = pick(rng, &r.first_names);
    let last_name = pick(rng, &r.last_names);
    Staff {
        first_name,
        last_name,
        department_id: rng.random_range(1..=r.departments.len() as i32),
        email: format!(
            "{}.{}@terrifictotes.com",
            first_name.to_lowercase(),
            last_name.to_lowercase()
        ),
    }
}

fn design(rng: &mut ChaCha8Rng, r: &Reference, created: NaiveDate) -> Design {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let name = pick(rng, &r.design_names);
    let suffix: String = (0..4).map(|_| char::from(pick(rng, ALNUM))).collect();
    Design {
        name,
        file_location: pick(rng, &r.file_locations),
        file_name: format!(
            "{}-{}-{suffix}.json",
            name.to_lowercase(),
            created.format("%Y%m%d")
        ),
    }
}

/// Weekdays strictly after the start day and strictly before the end day.
fn business_days(spec: SeedSpec) -> Vec<NaiveDate> {
    spec.start()
        .iter_days()
        .skip(1)
        .take_while(|d| *d < spec.end)
        .filter(|d| is_weekday(*d))
        .collect()
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// When the 07:55 settlement job ran on `day`. One transaction settles the whole day, so every
/// payment it touches shares this `last_updated` (a large tie, as in the real data). The
/// milliseconds vary by day the way a job's start time does.
pub fn settlement_time(day: NaiveDate) -> NaiveDateTime {
    let millis = (day.num_days_from_ce() as u32).wrapping_mul(7919) % 1000;
    day.and_time(
        NaiveTime::from_hms_milli_opt(SETTLEMENT_TIME.0, SETTLEMENT_TIME.1, 0, millis)
            .unwrap_or_default(),
    )
}

fn orders(rng: &mut ChaCha8Rng, spec: SeedSpec, r: &Reference) -> Vec<Order> {
    let days = business_days(spec);
    let sales = spec.scale as usize;
    let purchases = spec.purchase_orders() as usize;
    let total = sales + purchases;
    if days.is_empty() || total == 0 {
        return Vec::new();
    }
    let span = days.len() as u64 * BUSINESS_MS_PER_DAY;
    let mut offsets: Vec<u64> = (0..total).map(|_| rng.random_range(0..span)).collect();
    offsets.sort_unstable();
    let mut kinds: Vec<OrderKind> = std::iter::repeat_n(OrderKind::Sale, sales)
        .chain(std::iter::repeat_n(OrderKind::Purchase, purchases))
        .collect();
    kinds.shuffle(rng);

    let history_end = spec.end.and_time(NaiveTime::MIN);
    let currencies = r.currency_codes.len() as i32;
    let (mut sales_id, mut purchase_id) = (0, 0);
    offsets
        .into_iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (offset, kind))| {
            let day = days[(offset / BUSINESS_MS_PER_DAY) as usize];
            let created_at = day.and_time(NaiveTime::MIN)
                + TimeDelta::hours(i64::from(BUSINESS_OPEN))
                + TimeDelta::milliseconds((offset % BUSINESS_MS_PER_DAY) as i64);
            let order_id = match kind {
                OrderKind::Sale => {
                    sales_id += 1;
                    sales_id
                }
                OrderKind::Purchase => {
                    purchase_id += 1;
                    purchase_id
                }
            };
            let (quantity, unit_price_cents, design_id, item_code) = match kind {
                OrderKind::Sale => (
                    rng.random_range(1_001..=99_973),
                    rng.random_range(200..=400),
                    rng.random_range(1..=DESIGNS as i32),
                    [0; 7],
                ),
                OrderKind::Purchase => {
                    const CODE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                    let mut code = [0u8; 7];
                    code.iter_mut().for_each(|c| *c = pick(rng, CODE));
                    (
                        rng.random_range(1..=999),
                        rng.random_range(300..=99_900),
                        0,
                        code,
                    )
                }
            };
            let delivery_days = if kind == OrderKind::Sale && rng.random_bool(FAR_DELIVERY_RATE) {
                rng.random_range(8..=730)
            } else {
                rng.random_range(0..=7)
            };
            let payment_days = rng.random_range(0..=6);
            let agreed_payment_date = day + Days::new(payment_days);
            let settlement = settlement_time(agreed_payment_date);
            let settled_at = (is_weekday(agreed_payment_date)
                && settlement > created_at
                && settlement < history_end)
                .then_some(settlement);
            Order {
                kind,
                created_at,
                order_id,
                transaction_id: i as i32 + 1,
                design_id,
                staff_id: rng.random_range(1..=STAFF as i32),
                counterparty_id: rng.random_range(1..=COUNTERPARTIES as i32),
                currency_id: rng.random_range(1..=currencies),
                location_id: rng.random_range(1..=ADDRESSES as i32),
                quantity,
                unit_price_cents,
                item_code,
                agreed_delivery_date: day + Days::new(delivery_days),
                agreed_payment_date,
                company_ac_number: rng.random_range(10_000_000..=99_999_999),
                counterparty_ac_number: rng.random_range(10_000_000..=99_999_999),
                settled_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(scale: u64, seed: u64) -> SeedSpec {
        SeedSpec {
            scale,
            seed,
            end: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let r = Reference::load();
        assert_eq!(generate(spec(500, 7), &r), generate(spec(500, 7), &r));
        assert_ne!(
            generate(spec(500, 7), &r).orders,
            generate(spec(500, 8), &r).orders
        );
    }

    #[test]
    fn orders_are_in_time_order_with_dense_ids() {
        let d = generate(spec(2_000, 1), &Reference::load());
        assert_eq!(d.orders.len(), 2_000 + 840);
        assert!(
            d.orders
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at)
        );
        let sales: Vec<i32> = d
            .orders
            .iter()
            .filter(|o| o.kind == OrderKind::Sale)
            .map(|o| o.order_id)
            .collect();
        assert_eq!(sales, (1..=2_000).collect::<Vec<_>>());
        let last = d.orders.last().unwrap();
        assert!(last.created_at < spec(1, 1).end.and_time(NaiveTime::MIN));
    }

    #[test]
    fn settlement_is_at_0755_on_weekdays_after_creation() {
        let d = generate(spec(3_000, 3), &Reference::load());
        for o in &d.orders {
            if let Some(at) = o.settled_at {
                assert_eq!(at.date(), o.agreed_payment_date);
                assert!(is_weekday(at.date()));
                assert!(at > o.created_at);
                assert_eq!((at.time().format("%H:%M").to_string()), "07:55");
            }
        }
        let settled = d.orders.iter().filter(|o| o.settled_at.is_some()).count();
        let rate = settled as f64 / d.orders.len() as f64;
        assert!((0.55..0.66).contains(&rate), "settled rate {rate}");
    }

    #[test]
    fn zero_scale_gives_reference_data_only() {
        let d = generate(spec(0, 1), &Reference::load());
        assert!(d.orders.is_empty());
        assert_eq!(d.designs.len(), DESIGNS);
    }
}
