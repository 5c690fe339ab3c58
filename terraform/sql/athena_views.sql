-- Generated from the warehouse catalog by lake/src/athena.rs: do not edit (its unit test says how
-- to regenerate). The warehouse's current state and reports as Athena views over the lake's
-- Iceberg tables (docs/lake.md). Terraform makes each statement a named query in the lake's
-- workgroup (terraform/lake.tf): run them once, and again after this file changes. The tests run
-- this file in DuckDB over the lake and compare every view with the Postgres warehouse.
--
-- A lake table holds every run's rows as appended: a dimension's versions, a fact version once
-- per run that read it. These views give what the warehouse keeps.

-- One row per date, whichever runs wrote it.
CREATE OR REPLACE VIEW dim_date_current AS
SELECT DISTINCT date_id, year, month, day, day_of_week, day_name, month_name, quarter
FROM dim_date;

-- Each staff_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_staff_current AS
SELECT staff_id, first_name, last_name, department_name, location, email_address, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY staff_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_staff
) AS versions
WHERE version_rank = 1;

-- Each location_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_location_current AS
SELECT location_id, address_line_1, address_line_2, district, city, postal_code, country, phone, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY location_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_location
) AS versions
WHERE version_rank = 1;

-- Each design_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_design_current AS
SELECT design_id, design_name, file_location, file_name, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY design_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_design
) AS versions
WHERE version_rank = 1;

-- Each currency_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_currency_current AS
SELECT currency_id, currency_code, currency_name, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY currency_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_currency
) AS versions
WHERE version_rank = 1;

-- Each counterparty_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_counterparty_current AS
SELECT counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2, counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, counterparty_legal_phone_number, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY counterparty_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_counterparty
) AS versions
WHERE version_rank = 1;

-- Each payment_type_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_payment_type_current AS
SELECT payment_type_id, payment_type_name, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY payment_type_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_payment_type
) AS versions
WHERE version_rank = 1;

-- Each transaction_id's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_transaction_current AS
SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id, last_updated
FROM (
  SELECT *, row_number() OVER (PARTITION BY transaction_id ORDER BY last_updated DESC) AS version_rank
  FROM dim_transaction
) AS versions
WHERE version_rank = 1;

-- Every captured version once.
CREATE OR REPLACE VIEW fact_sales_order_versions AS
SELECT DISTINCT sales_order_id, created_date, created_time, last_updated_date, last_updated_time, sales_staff_id, counterparty_id, units_sold, unit_price, currency_id, design_id, agreed_payment_date, agreed_delivery_date, agreed_delivery_location_id
FROM fact_sales_order;

-- Each sales_order_id's newest version (the warehouse's fact_sales_order_current).
CREATE OR REPLACE VIEW fact_sales_order_current AS
SELECT sales_order_id, created_date, created_time, last_updated_date, last_updated_time, sales_staff_id, counterparty_id, units_sold, unit_price, currency_id, design_id, agreed_payment_date, agreed_delivery_date, agreed_delivery_location_id
FROM (
  SELECT *, row_number() OVER (PARTITION BY sales_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) AS version_rank
  FROM fact_sales_order_versions
) AS versions
WHERE version_rank = 1;

-- Every captured version once.
CREATE OR REPLACE VIEW fact_purchase_order_versions AS
SELECT DISTINCT purchase_order_id, created_date, created_time, last_updated_date, last_updated_time, staff_id, counterparty_id, item_code, item_quantity, item_unit_price, currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id
FROM fact_purchase_order;

-- Each purchase_order_id's newest version (the warehouse's fact_purchase_order_current).
CREATE OR REPLACE VIEW fact_purchase_order_current AS
SELECT purchase_order_id, created_date, created_time, last_updated_date, last_updated_time, staff_id, counterparty_id, item_code, item_quantity, item_unit_price, currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id
FROM (
  SELECT *, row_number() OVER (PARTITION BY purchase_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) AS version_rank
  FROM fact_purchase_order_versions
) AS versions
WHERE version_rank = 1;

-- Every captured version once.
CREATE OR REPLACE VIEW fact_payment_versions AS
SELECT DISTINCT payment_id, created_date, created_time, last_updated_date, last_updated_time, transaction_id, counterparty_id, payment_amount, currency_id, payment_type_id, paid, payment_date
FROM fact_payment;

-- Each payment_id's newest version (the warehouse's fact_payment_current).
CREATE OR REPLACE VIEW fact_payment_current AS
SELECT payment_id, created_date, created_time, last_updated_date, last_updated_time, transaction_id, counterparty_id, payment_amount, currency_id, payment_type_id, paid, payment_date
FROM (
  SELECT *, row_number() OVER (PARTITION BY payment_id ORDER BY last_updated_date DESC, last_updated_time DESC) AS version_rank
  FROM fact_payment_versions
) AS versions
WHERE version_rank = 1;

-- The warehouse's reports (load/migrations/V2__views.sql) over the views above.
CREATE OR REPLACE VIEW report_monthly_sales AS
SELECT CAST(date_trunc('month', f.created_date) AS date) AS month,
       c.currency_code,
       cp.counterparty_legal_country AS counterparty_country,
       count(*) AS orders,
       sum(f.units_sold) AS units_sold,
       sum(f.units_sold * f.unit_price) AS sales_value
FROM fact_sales_order_current f
JOIN dim_currency_current c ON c.currency_id = f.currency_id
JOIN dim_counterparty_current cp ON cp.counterparty_id = f.counterparty_id
GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW report_payments_outstanding AS
SELECT p.payment_id,
       t.transaction_type,
       cp.counterparty_legal_name,
       c.currency_code,
       p.payment_amount,
       p.payment_date,
       date_diff('day', p.payment_date, current_date) AS days_overdue
FROM fact_payment_current p
JOIN dim_transaction_current t ON t.transaction_id = p.transaction_id
JOIN dim_counterparty_current cp ON cp.counterparty_id = p.counterparty_id
JOIN dim_currency_current c ON c.currency_id = p.currency_id
WHERE NOT p.paid;
