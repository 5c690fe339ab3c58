-- Views for analysts.

-- The current version of each fact: the latest captured source version per natural id.
CREATE VIEW fact_sales_order_current AS
SELECT DISTINCT ON (sales_order_id) *
FROM fact_sales_order
ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC;

CREATE VIEW fact_purchase_order_current AS
SELECT DISTINCT ON (purchase_order_id) *
FROM fact_purchase_order
ORDER BY purchase_order_id, last_updated_date DESC, last_updated_time DESC;

CREATE VIEW fact_payment_current AS
SELECT DISTINCT ON (payment_id) *
FROM fact_payment
ORDER BY payment_id, last_updated_date DESC, last_updated_time DESC;

-- Sales value per month of order, currency and counterparty country (current order values).
CREATE VIEW report_monthly_sales AS
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

-- Payments not yet made or received, with how overdue they are.
CREATE VIEW report_payments_outstanding AS
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
