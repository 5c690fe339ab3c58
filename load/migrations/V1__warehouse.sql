-- The galaxy schema of TOTESYS.md §2. Dimensions keep the latest values, with the source
-- version (last_updated) they came from so load can keep the newest whatever order runs arrive
-- in; facts keep every captured version, unique per (natural id, source version).

CREATE TABLE dim_date (
    date_id     date PRIMARY KEY,
    year        integer NOT NULL,
    month       integer NOT NULL,
    day         integer NOT NULL,
    day_of_week integer NOT NULL,
    day_name    text NOT NULL,
    month_name  text NOT NULL,
    quarter     integer NOT NULL
);

CREATE TABLE dim_staff (
    staff_id        integer PRIMARY KEY,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    department_name text NOT NULL,
    location        text,
    email_address   text NOT NULL,
    last_updated    timestamptz NOT NULL
);

CREATE TABLE dim_location (
    location_id    integer PRIMARY KEY,
    address_line_1 text NOT NULL,
    address_line_2 text,
    district       text,
    city           text NOT NULL,
    postal_code    text NOT NULL,
    country        text NOT NULL,
    phone          text NOT NULL,
    last_updated   timestamptz NOT NULL
);

CREATE TABLE dim_design (
    design_id     integer PRIMARY KEY,
    design_name   text NOT NULL,
    file_location text NOT NULL,
    file_name     text NOT NULL,
    last_updated  timestamptz NOT NULL
);

CREATE TABLE dim_currency (
    currency_id   integer PRIMARY KEY,
    currency_code text NOT NULL,
    currency_name text NOT NULL,
    last_updated  timestamptz NOT NULL
);

CREATE TABLE dim_counterparty (
    counterparty_id                   integer PRIMARY KEY,
    counterparty_legal_name           text NOT NULL,
    counterparty_legal_address_line_1 text NOT NULL,
    counterparty_legal_address_line_2 text,
    counterparty_legal_district       text,
    counterparty_legal_city           text NOT NULL,
    counterparty_legal_postal_code    text NOT NULL,
    counterparty_legal_country        text NOT NULL,
    counterparty_legal_phone_number   text NOT NULL,
    last_updated                      timestamptz NOT NULL
);

CREATE TABLE dim_payment_type (
    payment_type_id   integer PRIMARY KEY,
    payment_type_name text NOT NULL,
    last_updated      timestamptz NOT NULL
);

CREATE TABLE dim_transaction (
    transaction_id    integer PRIMARY KEY,
    transaction_type  text NOT NULL,
    sales_order_id    integer,
    purchase_order_id integer,
    last_updated      timestamptz NOT NULL
);

CREATE TABLE fact_sales_order (
    sales_record_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sales_order_id              integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date,
    created_time                time NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date,
    last_updated_time           time NOT NULL,
    sales_staff_id              integer NOT NULL REFERENCES dim_staff,
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty,
    units_sold                  integer NOT NULL,
    unit_price                  numeric(10,2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency,
    design_id                   integer NOT NULL REFERENCES dim_design,
    agreed_payment_date         date NOT NULL REFERENCES dim_date,
    agreed_delivery_date        date NOT NULL REFERENCES dim_date,
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location,
    CONSTRAINT fact_sales_order_version_key
        UNIQUE (sales_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_purchase_order (
    purchase_record_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_order_id           integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date,
    created_time                time NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date,
    last_updated_time           time NOT NULL,
    staff_id                    integer NOT NULL REFERENCES dim_staff,
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty,
    item_code                   text NOT NULL,
    item_quantity               integer NOT NULL,
    item_unit_price             numeric(10,2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency,
    agreed_delivery_date        date NOT NULL REFERENCES dim_date,
    agreed_payment_date         date NOT NULL REFERENCES dim_date,
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location,
    CONSTRAINT fact_purchase_order_version_key
        UNIQUE (purchase_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_payment (
    payment_record_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id        integer NOT NULL,
    created_date      date NOT NULL REFERENCES dim_date,
    created_time      time NOT NULL,
    last_updated_date date NOT NULL REFERENCES dim_date,
    last_updated_time time NOT NULL,
    transaction_id    integer NOT NULL REFERENCES dim_transaction,
    counterparty_id   integer NOT NULL REFERENCES dim_counterparty,
    payment_amount    numeric(10,2) NOT NULL,
    currency_id       integer NOT NULL REFERENCES dim_currency,
    payment_type_id   integer NOT NULL REFERENCES dim_payment_type,
    paid              boolean NOT NULL,
    payment_date      date NOT NULL REFERENCES dim_date,
    CONSTRAINT fact_payment_version_key
        UNIQUE (payment_id, last_updated_date, last_updated_time)
);

-- One row per loaded processed run, written in the run's own transaction: a run in the ledger
-- is entirely in the warehouse, and loading it again is skipped.
CREATE TABLE etl_load_ledger (
    run_id          text PRIMARY KEY,
    manifest_sha256 text NOT NULL,
    rows            jsonb NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now()
);
