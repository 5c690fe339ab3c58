//! The seeded source: its schema against docs/architecture.md §2 and the generator's shapes (§11).

use etl_contract::catalog::{ColumnType, ENUM_TYPES, SOURCE_TABLES};
use etl_devtools::seed::{SeedError, SeedOptions};

use crate::support::{scalar, seeded, spec, table_checksum};

#[tokio::test]
async fn seeded_schema_matches_the_totesys_catalog_exactly() {
    let (db, _) = seeded("schema", spec(10, 1)).await;
    let client = db.connect().await;

    for table in &SOURCE_TABLES {
        let rows = client
            .query(
                "SELECT column_name::text, data_type::text, is_nullable = 'YES', \
                        numeric_precision, numeric_scale, character_maximum_length, \
                        datetime_precision, udt_name::text \
                 FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&table.name],
            )
            .await
            .unwrap();
        let actual: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        let expected: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        assert_eq!(actual, expected, "columns of {}", table.name);

        for (row, column) in rows.iter().zip(table.columns) {
            let at = format!("{}.{}", table.name, column.name);
            assert_eq!(
                row.get::<_, String>(1),
                column.ty.information_schema_type(),
                "{at}"
            );
            assert_eq!(
                row.get::<_, bool>(2),
                column.nullable,
                "nullability of {at}"
            );
            let precision: Option<i32> = row.get(3);
            let scale: Option<i32> = row.get(4);
            let max_len: Option<i32> = row.get(5);
            let dt_precision: Option<i32> = row.get(6);
            match column.ty {
                ColumnType::Numeric {
                    precision: p,
                    scale: s,
                } => {
                    assert_eq!((precision, scale), (Some(p as i32), Some(s as i32)), "{at}")
                }
                ColumnType::Varchar { max_len: n } => assert_eq!(max_len, Some(n as i32), "{at}"),
                ColumnType::Timestamp { precision: p } => {
                    assert_eq!(dt_precision, Some(p as i32), "{at}")
                }
                ColumnType::Enum(name) => assert_eq!(row.get::<_, String>(7), name, "{at}"),
                ColumnType::Integer => assert_eq!(precision, Some(32), "{at}"),
                ColumnType::Text | ColumnType::Boolean => {}
            }
        }

        // The primary key, its sequence, and the application-set last_updated.
        let pk: String = client
            .query_one(
                "SELECT a.attname::text FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
                &[&table.name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(pk, table.primary_key, "primary key of {}", table.name);
        let sequence: Option<String> = client
            .query_one(
                "SELECT pg_get_serial_sequence($1, $2)",
                &[&table.name, &table.primary_key],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            sequence.as_deref(),
            Some(format!("public.{}_{}_seq", table.name, table.primary_key).as_str())
        );
        let defaults = client
            .query(
                "SELECT column_name::text, column_default FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 \
                   AND column_name IN ('created_at', 'last_updated') ORDER BY column_name",
                &[&table.name],
            )
            .await
            .unwrap();
        let defaults: Vec<(String, Option<String>)> =
            defaults.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            defaults,
            [
                ("created_at".into(), Some("CURRENT_TIMESTAMP".into())),
                ("last_updated".into(), None)
            ],
            "timestamp defaults of {}",
            table.name
        );
    }

    for (name, labels) in ENUM_TYPES {
        let actual: Vec<String> = client
            .query(
                "SELECT e.enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
                 WHERE t.typname = $1 ORDER BY e.enumsortorder",
                &[&name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(actual, labels, "labels of enum {name}");
    }

    let uniques: Vec<String> = client
        .query(
            "SELECT i.indexrelid::regclass::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indisunique AND NOT i.indisprimary \
               AND c.relnamespace = 'public'::regnamespace ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        uniques,
        [
            "payment_transaction_id_key",
            "transaction_purchase_order_id_key",
            "transaction_sales_order_id_key"
        ]
    );

    // Every foreign key with its update/delete rules: CASCADE / RESTRICT, except
    // transaction -> orders, which sets NULL on delete.
    let fks: Vec<String> = client
        .query(
            "SELECT format('%s(%s)->%s %s%s', conrelid::regclass, a.attname, confrelid::regclass, \
                           confupdtype, confdeltype) \
             FROM pg_constraint c JOIN pg_attribute a \
               ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE contype = 'f' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        fks,
        [
            "counterparty(legal_address_id)->address cr",
            "payment(counterparty_id)->counterparty cr",
            "payment(currency_id)->currency cr",
            "payment(payment_type_id)->payment_type cr",
            "payment(transaction_id)->transaction cr",
            "purchase_order(agreed_delivery_location_id)->address cr",
            "purchase_order(counterparty_id)->counterparty cr",
            "purchase_order(currency_id)->currency cr",
            "purchase_order(staff_id)->staff cr",
            "sales_order(agreed_delivery_location_id)->address cr",
            "sales_order(counterparty_id)->counterparty cr",
            "sales_order(currency_id)->currency cr",
            "sales_order(design_id)->design cr",
            "sales_order(staff_id)->staff cr",
            "staff(department_id)->department cr",
            "transaction(purchase_order_id)->purchase_order cn",
            "transaction(sales_order_id)->sales_order cn",
        ]
    );
    let invalid: i64 = scalar(
        &client,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated",
    )
    .await;
    assert_eq!(invalid, 0, "every restored foreign key is validated");
}

/// Asserts a SQL condition holds for every row it is about: the query returns violation counts.
async fn no_violations(client: &tokio_postgres::Client, rule: &str, sql: &str) {
    let violations: i64 = scalar(client, sql).await;
    assert_eq!(violations, 0, "rule violated {violations} times: {rule}");
}

/// A share computed by SQL lies within `range`.
async fn share_within(
    client: &tokio_postgres::Client,
    what: &str,
    sql: &str,
    range: std::ops::RangeInclusive<f64>,
) {
    let share: f64 = scalar(client, sql).await;
    assert!(range.contains(&share), "{what}: {share} not in {range:?}");
}

#[tokio::test]
async fn generator_follows_the_real_data_shapes() {
    let scale = 6_000;
    let (db, report) = seeded("shapes", spec(scale, 42)).await;
    let c = db.connect().await;

    // Volumes: reference tables sized like the real ones, orders from the scale.
    let expected = [
        ("address", 30),
        ("counterparty", 20),
        ("currency", 3),
        ("department", 8),
        ("design", 470),
        ("payment_type", 4),
        ("staff", 20),
        ("sales_order", 6_000),
        ("purchase_order", 2_520),
        ("transaction", 8_520),
        ("payment", 8_520),
    ];
    for (table, rows) in expected {
        let n: i64 = scalar(&c, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n, rows, "rows in {table}");
        assert!(
            report.rows.contains(&(table, rows as u64)),
            "report of {table}"
        );
    }

    // 1:1:1 chains: order <-> transaction <-> payment, type matching the order set.
    no_violations(
        &c,
        "a transaction names exactly the order of its type",
        "SELECT count(*) FROM transaction WHERE NOT ( \
           (transaction_type = 'SALE' AND sales_order_id IS NOT NULL AND purchase_order_id IS NULL) \
           OR (transaction_type = 'PURCHASE' AND purchase_order_id IS NOT NULL AND sales_order_id IS NULL))",
    )
    .await;
    no_violations(
        &c,
        "every order has a transaction",
        "SELECT (SELECT count(*) FROM sales_order s WHERE NOT EXISTS \
                   (SELECT 1 FROM transaction t WHERE t.sales_order_id = s.sales_order_id)) + \
                (SELECT count(*) FROM purchase_order p WHERE NOT EXISTS \
                   (SELECT 1 FROM transaction t WHERE t.purchase_order_id = p.purchase_order_id))",
    )
    .await;
    no_violations(
        &c,
        "every transaction has a payment",
        "SELECT count(*) FROM transaction t WHERE NOT EXISTS \
           (SELECT 1 FROM payment p WHERE p.transaction_id = t.transaction_id)",
    )
    .await;

    // Payments mirror their order: same created_at, counterparty, currency, amount = qty x price,
    // payment type by transaction type, payment date = agreed payment date.
    let order_payment = "FROM payment p JOIN transaction t USING (transaction_id) \
        LEFT JOIN sales_order s ON s.sales_order_id = t.sales_order_id \
        LEFT JOIN purchase_order o ON o.purchase_order_id = t.purchase_order_id";
    no_violations(
        &c,
        "payment mirrors its order",
        &format!(
            "SELECT count(*) {order_payment} WHERE \
               p.created_at <> coalesce(s.created_at, o.created_at) \
               OR t.created_at <> p.created_at \
               OR p.counterparty_id <> coalesce(s.counterparty_id, o.counterparty_id) \
               OR p.currency_id <> coalesce(s.currency_id, o.currency_id) \
               OR p.payment_amount <> coalesce(s.units_sold * s.unit_price, o.item_quantity * o.item_unit_price) \
               OR p.payment_type_id <> CASE t.transaction_type WHEN 'SALE' THEN 1 ELSE 3 END \
               OR p.payment_date <> coalesce(s.agreed_payment_date, o.agreed_payment_date)"
        ),
    )
    .await;
    no_violations(
        &c,
        "account numbers have 8 digits",
        "SELECT count(*) FROM payment WHERE company_ac_number NOT BETWEEN 10000000 AND 99999999 \
           OR counterparty_ac_number NOT BETWEEN 10000000 AND 99999999",
    )
    .await;

    // Settlement: paid exactly when updated later, at 07:55 on the (week)day the payment is due.
    no_violations(
        &c,
        "a payment is paid iff settled later at 07:55 on its due weekday",
        "SELECT count(*) FROM payment WHERE paid <> (last_updated > created_at) \
           OR (paid AND (to_char(last_updated, 'HH24:MI') <> '07:55' \
                         OR last_updated::date::text <> payment_date \
                         OR extract(isodow FROM last_updated) > 5))",
    )
    .await;
    share_within(
        &c,
        "share of payments settled (~60%)",
        "SELECT avg(paid::int)::float8 FROM payment",
        0.52..=0.68,
    )
    .await;
    no_violations(
        &c,
        "orders are written on weekdays 08:00-18:59, within ~2 years before the end",
        "SELECT count(*) FROM payment WHERE extract(isodow FROM created_at) > 5 \
           OR extract(hour FROM created_at) NOT BETWEEN 8 AND 18 \
           OR created_at >= '2025-06-02' OR created_at < '2023-06-02'",
    )
    .await;
    share_within(
        &c,
        "history spans ~2 years",
        "SELECT extract(epoch FROM max(created_at) - min(created_at))::float8 / 86400 FROM payment",
        720.0..=731.0,
    )
    .await;

    // Sales order values and date offsets.
    no_violations(
        &c,
        "sales order ranges",
        "SELECT count(*) FROM sales_order WHERE units_sold NOT BETWEEN 1001 AND 99973 \
           OR unit_price NOT BETWEEN 2.00 AND 4.00 \
           OR agreed_payment_date::date - created_at::date NOT BETWEEN 0 AND 6 \
           OR agreed_delivery_date::date - created_at::date NOT BETWEEN 0 AND 730 \
           OR agreed_delivery_date !~ '^\\d{4}-\\d{2}-\\d{2}$'",
    )
    .await;
    share_within(
        &c,
        "sales orders delivered within a week (rarely later)",
        "SELECT avg((agreed_delivery_date::date - created_at::date <= 7)::int)::float8 FROM sales_order",
        0.97..=1.0,
    )
    .await;
    no_violations(
        &c,
        "purchase order ranges",
        "SELECT count(*) FROM purchase_order WHERE item_code !~ '^[A-Z0-9]{7}$' \
           OR item_quantity NOT BETWEEN 1 AND 999 OR item_unit_price NOT BETWEEN 3.00 AND 999.00 \
           OR agreed_payment_date::date - created_at::date NOT BETWEEN 0 AND 6 \
           OR agreed_delivery_date::date - created_at::date NOT BETWEEN 0 AND 7",
    )
    .await;
    for currency in 1..=3 {
        share_within(
            &c,
            &format!("share of orders in currency {currency}"),
            &format!("SELECT avg((currency_id = {currency})::int)::float8 FROM payment"),
            0.29..=0.38,
        )
        .await;
    }

    // Reference data and names.
    let departments: Vec<String> = c
        .query(
            "SELECT department_name || ':' || location FROM department ORDER BY department_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        departments,
        [
            "Sales:Manchester",
            "Purchasing:Manchester",
            "Production:Leeds",
            "Dispatch:Leds",
            "Finance:Manchester",
            "Facilities:Manchester",
            "Communications:Leeds",
            "HR:Leeds"
        ]
    );
    no_violations(
        &c,
        "staff email is first.last@terrifictotes.com in lower case",
        "SELECT count(*) FROM staff \
         WHERE email_address <> lower(first_name || '.' || last_name) || '@terrifictotes.com'",
    )
    .await;
    no_violations(
        &c,
        "design file names follow <name>-<YYYYMMDD>-<4>.json",
        "SELECT count(*) FROM design WHERE file_name !~ ('^' || lower(design_name) || '-\\d{8}-[a-z0-9]{4}\\.json$') \
           OR design_name NOT IN ('Bronze','Concrete','Cotton','Fresh','Frozen','Granite','Metal', \
                                  'Plastic','Rubber','Soft','Steel','Wooden') \
           OR file_location !~ '^/'",
    )
    .await;
    share_within(
        &c,
        "address_line_2 NULL in ~2/3 of rows (30 rows)",
        "SELECT avg((address_line_2 IS NULL)::int)::float8 FROM address",
        0.4..=0.9,
    )
    .await;
    share_within(
        &c,
        "district NULL in ~1/2 of rows (30 rows)",
        "SELECT avg((district IS NULL)::int)::float8 FROM address",
        0.25..=0.75,
    )
    .await;
    no_violations(
        &c,
        "reference rows are created once and never updated",
        "SELECT count(*) FROM address WHERE last_updated <> created_at",
    )
    .await;

    // Sequences continue after the seeded ids.
    let next: i32 = scalar(&c, "SELECT nextval('payment_payment_id_seq')::int").await;
    assert_eq!(next, 8_521);
}

#[tokio::test]
async fn the_same_seed_gives_identical_data_and_another_seed_does_not() {
    let (a, _) = seeded("det_a", spec(1_500, 9)).await;
    let (b, _) = seeded("det_b", spec(1_500, 9)).await;
    let (other, _) = seeded("det_c", spec(1_500, 10)).await;
    let (a, b, other) = (a.connect().await, b.connect().await, other.connect().await);
    for table in &SOURCE_TABLES {
        let sum_a = table_checksum(&a, table.name, table.primary_key).await;
        assert_eq!(
            sum_a,
            table_checksum(&b, table.name, table.primary_key).await,
            "{} differs between two seeds with the same --seed",
            table.name
        );
        if ["sales_order", "payment", "address"].contains(&table.name) {
            assert_ne!(
                sum_a,
                table_checksum(&other, table.name, table.primary_key).await,
                "{} is the same for a different --seed",
                table.name
            );
        }
    }
}

#[tokio::test]
async fn seeding_refuses_a_non_empty_source_unless_forced() {
    let (db, _) = seeded("refuse", spec(100, 1)).await;
    let mut client = db.connect().await;
    let before = table_checksum(&client, "payment", "payment_id").await;

    let err = etl_devtools::seed::seed(
        &mut client,
        SeedOptions {
            spec: spec(200, 2),
            force: false,
        },
        |_, _, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SeedError::NotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        before,
        table_checksum(&client, "payment", "payment_id").await
    );

    etl_devtools::seed::seed(
        &mut client,
        SeedOptions {
            spec: spec(200, 2),
            force: true,
        },
        |_, _, _| {},
    )
    .await
    .expect("forced reseed");
    let orders: i64 = scalar(&client, "SELECT count(*) FROM sales_order").await;
    assert_eq!(orders, 200);
    let max_id: i32 = scalar(&client, "SELECT max(sales_order_id) FROM sales_order").await;
    assert_eq!(max_id, 200, "ids restart after --force");
}

#[tokio::test]
async fn seeding_refuses_a_source_with_only_part_of_the_schema() {
    let db = etl_tests::TestDatabase::create("partial").await;
    let mut client = db.connect().await;
    client
        .batch_execute("CREATE TABLE address (address_id int)")
        .await
        .unwrap();
    let err = etl_devtools::seed::seed(
        &mut client,
        SeedOptions {
            spec: spec(10, 1),
            force: true,
        },
        |_, _, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SeedError::PartialSchema { .. }), "{err}");
    assert!(err.to_string().contains("counterparty"), "{err}");
}
