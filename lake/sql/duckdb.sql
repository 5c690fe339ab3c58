-- The warehouse's tables, current views and reports over the lake, in DuckDB (docs/lake.md).
-- Replace {lake} with the lake's location: the ETL_LAKE directory, or s3://bucket/prefix after
-- `LOAD httpfs` and an S3 secret. The tests run this file against every lake they build and
-- compare each view with the Postgres warehouse cell by cell (tests/tests/it/lake.rs).
--
-- A table holds every run's rows as appended: a dimension's versions, and a fact version once
-- per run that read it (the lookback re-reads). The views below are what the warehouse keeps.

-- The calendar: one row per date, whichever runs wrote it.
CREATE OR REPLACE VIEW dim_date AS
SELECT DISTINCT * FROM iceberg_scan('{lake}/dim_date');

-- Dimensions: each key's newest source version, as the warehouse's upsert keeps it.
CREATE OR REPLACE VIEW dim_staff AS
SELECT * FROM iceberg_scan('{lake}/dim_staff')
QUALIFY row_number() OVER (PARTITION BY staff_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_location AS
SELECT * FROM iceberg_scan('{lake}/dim_location')
QUALIFY row_number() OVER (PARTITION BY location_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_design AS
SELECT * FROM iceberg_scan('{lake}/dim_design')
QUALIFY row_number() OVER (PARTITION BY design_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_currency AS
SELECT * FROM iceberg_scan('{lake}/dim_currency')
QUALIFY row_number() OVER (PARTITION BY currency_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_counterparty AS
SELECT * FROM iceberg_scan('{lake}/dim_counterparty')
QUALIFY row_number() OVER (PARTITION BY counterparty_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_payment_type AS
SELECT * FROM iceberg_scan('{lake}/dim_payment_type')
QUALIFY row_number() OVER (PARTITION BY payment_type_id ORDER BY last_updated DESC) = 1;

CREATE OR REPLACE VIEW dim_transaction AS
SELECT * FROM iceberg_scan('{lake}/dim_transaction')
QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY last_updated DESC) = 1;

-- Facts: every captured version once, and each id's newest (the warehouse's *_current).
CREATE OR REPLACE VIEW fact_sales_order AS
SELECT DISTINCT * FROM iceberg_scan('{lake}/fact_sales_order');

CREATE OR REPLACE VIEW fact_sales_order_current AS
SELECT * FROM fact_sales_order
QUALIFY row_number() OVER (PARTITION BY sales_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) = 1;

CREATE OR REPLACE VIEW fact_purchase_order AS
SELECT DISTINCT * FROM iceberg_scan('{lake}/fact_purchase_order');

CREATE OR REPLACE VIEW fact_purchase_order_current AS
SELECT * FROM fact_purchase_order
QUALIFY row_number() OVER (PARTITION BY purchase_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) = 1;

CREATE OR REPLACE VIEW fact_payment AS
SELECT DISTINCT * FROM iceberg_scan('{lake}/fact_payment');

CREATE OR REPLACE VIEW fact_payment_current AS
SELECT * FROM fact_payment
QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY last_updated_date DESC, last_updated_time DESC) = 1;

-- The warehouse's reports (load/migrations/V2__views.sql), unchanged.
CREATE OR REPLACE VIEW report_monthly_sales AS
SELECT date_trunc('month', f.created_date)::date AS month,
       c.currency_code,
       cp.counterparty_legal_country AS counterparty_country,
       count(*) AS orders,
       sum(f.units_sold) AS units_sold,
       sum(f.units_sold * f.unit_price) AS sales_value
FROM fact_sales_order_current f
JOIN dim_currency c USING (currency_id)
JOIN dim_counterparty cp USING (counterparty_id)
GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW report_payments_outstanding AS
SELECT p.payment_id,
       t.transaction_type,
       cp.counterparty_legal_name,
       c.currency_code,
       p.payment_amount,
       p.payment_date,
       current_date - p.payment_date AS days_overdue
FROM fact_payment_current p
JOIN dim_transaction t USING (transaction_id)
JOIN dim_counterparty cp USING (counterparty_id)
JOIN dim_currency c USING (currency_id)
WHERE NOT p.paid;
