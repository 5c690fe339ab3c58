-- The totesys OLTP schema (Terrific Totes), as the real database has it.
-- Reference: docs/architecture.md §2. Model it exactly: this is where pipelines break.
--   * every primary key is an integer fed by a sequence named <table>_<pk>_seq;
--   * created_at / last_updated are timestamp(3) WITHOUT time zone, holding UTC;
--     last_updated has no default: the application stamps it on every write;
--   * money is numeric(10,2); three "dates" are text 'YYYY-MM-DD';
--   * order <-> transaction <-> payment is 1:1:1 through unique indexes.
-- Applied by `etl seed` when the source has no totesys tables yet.

CREATE TYPE "PaymentTypeName" AS ENUM ('SALES_RECEIPT', 'SALES_REFUND', 'PURCHASE_PAYMENT', 'PURCHASE_REFUND');
CREATE TYPE "TransactionType" AS ENUM ('SALE', 'PURCHASE');

CREATE SEQUENCE address_address_id_seq AS integer;
CREATE TABLE address (
    address_id     integer NOT NULL DEFAULT nextval('address_address_id_seq'),
    address_line_1 text NOT NULL,
    address_line_2 text,
    district       text,
    city           text NOT NULL,
    postal_code    text NOT NULL,
    country        text NOT NULL,
    phone          text NOT NULL,
    created_at     timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated   timestamp(3) without time zone NOT NULL,
    CONSTRAINT address_pkey PRIMARY KEY (address_id)
);
ALTER SEQUENCE address_address_id_seq OWNED BY address.address_id;

CREATE SEQUENCE counterparty_counterparty_id_seq AS integer;
CREATE TABLE counterparty (
    counterparty_id         integer NOT NULL DEFAULT nextval('counterparty_counterparty_id_seq'),
    counterparty_legal_name text NOT NULL,
    legal_address_id        integer NOT NULL,
    commercial_contact      text,
    delivery_contact        text,
    created_at              timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated            timestamp(3) without time zone NOT NULL,
    CONSTRAINT counterparty_pkey PRIMARY KEY (counterparty_id)
);
ALTER SEQUENCE counterparty_counterparty_id_seq OWNED BY counterparty.counterparty_id;

CREATE SEQUENCE currency_currency_id_seq AS integer;
CREATE TABLE currency (
    currency_id   integer NOT NULL DEFAULT nextval('currency_currency_id_seq'),
    currency_code varchar(3) NOT NULL,
    created_at    timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated  timestamp(3) without time zone NOT NULL,
    CONSTRAINT currency_pkey PRIMARY KEY (currency_id)
);
ALTER SEQUENCE currency_currency_id_seq OWNED BY currency.currency_id;

CREATE SEQUENCE department_department_id_seq AS integer;
CREATE TABLE department (
    department_id   integer NOT NULL DEFAULT nextval('department_department_id_seq'),
    department_name text NOT NULL,
    location        text,
    manager         text,
    created_at      timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated    timestamp(3) without time zone NOT NULL,
    CONSTRAINT department_pkey PRIMARY KEY (department_id)
);
ALTER SEQUENCE department_department_id_seq OWNED BY department.department_id;

CREATE SEQUENCE design_design_id_seq AS integer;
CREATE TABLE design (
    design_id     integer NOT NULL DEFAULT nextval('design_design_id_seq'),
    created_at    timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    design_name   text NOT NULL,
    file_location text NOT NULL,
    file_name     text NOT NULL,
    last_updated  timestamp(3) without time zone NOT NULL,
    CONSTRAINT design_pkey PRIMARY KEY (design_id)
);
ALTER SEQUENCE design_design_id_seq OWNED BY design.design_id;

CREATE SEQUENCE staff_staff_id_seq AS integer;
CREATE TABLE staff (
    staff_id      integer NOT NULL DEFAULT nextval('staff_staff_id_seq'),
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    department_id integer NOT NULL,
    email_address text NOT NULL,
    created_at    timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated  timestamp(3) without time zone NOT NULL,
    CONSTRAINT staff_pkey PRIMARY KEY (staff_id)
);
ALTER SEQUENCE staff_staff_id_seq OWNED BY staff.staff_id;

CREATE SEQUENCE sales_order_sales_order_id_seq AS integer;
CREATE TABLE sales_order (
    sales_order_id              integer NOT NULL DEFAULT nextval('sales_order_sales_order_id_seq'),
    created_at                  timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated                timestamp(3) without time zone NOT NULL,
    design_id                   integer NOT NULL,
    staff_id                    integer NOT NULL,
    counterparty_id             integer NOT NULL,
    units_sold                  integer NOT NULL,
    unit_price                  numeric(10,2) NOT NULL,
    currency_id                 integer NOT NULL,
    agreed_delivery_date        text NOT NULL,
    agreed_payment_date         text NOT NULL,
    agreed_delivery_location_id integer NOT NULL,
    CONSTRAINT sales_order_pkey PRIMARY KEY (sales_order_id)
);
ALTER SEQUENCE sales_order_sales_order_id_seq OWNED BY sales_order.sales_order_id;

CREATE SEQUENCE purchase_order_purchase_order_id_seq AS integer;
CREATE TABLE purchase_order (
    purchase_order_id           integer NOT NULL DEFAULT nextval('purchase_order_purchase_order_id_seq'),
    created_at                  timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated                timestamp(3) without time zone NOT NULL,
    staff_id                    integer NOT NULL,
    counterparty_id             integer NOT NULL,
    item_code                   text NOT NULL,
    item_quantity               integer NOT NULL,
    item_unit_price             numeric(10,2) NOT NULL,
    currency_id                 integer NOT NULL,
    agreed_delivery_date        text NOT NULL,
    agreed_payment_date         text NOT NULL,
    agreed_delivery_location_id integer NOT NULL,
    CONSTRAINT purchase_order_pkey PRIMARY KEY (purchase_order_id)
);
ALTER SEQUENCE purchase_order_purchase_order_id_seq OWNED BY purchase_order.purchase_order_id;

CREATE SEQUENCE payment_type_payment_type_id_seq AS integer;
CREATE TABLE payment_type (
    payment_type_id   integer NOT NULL DEFAULT nextval('payment_type_payment_type_id_seq'),
    payment_type_name "PaymentTypeName" NOT NULL,
    created_at        timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated      timestamp(3) without time zone NOT NULL,
    CONSTRAINT payment_type_pkey PRIMARY KEY (payment_type_id)
);
ALTER SEQUENCE payment_type_payment_type_id_seq OWNED BY payment_type.payment_type_id;

CREATE SEQUENCE transaction_transaction_id_seq AS integer;
CREATE TABLE transaction (
    transaction_id    integer NOT NULL DEFAULT nextval('transaction_transaction_id_seq'),
    transaction_type  "TransactionType" NOT NULL,
    sales_order_id    integer,
    purchase_order_id integer,
    created_at        timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated      timestamp(3) without time zone NOT NULL,
    CONSTRAINT transaction_pkey PRIMARY KEY (transaction_id)
);
ALTER SEQUENCE transaction_transaction_id_seq OWNED BY transaction.transaction_id;

CREATE SEQUENCE payment_payment_id_seq AS integer;
CREATE TABLE payment (
    payment_id             integer NOT NULL DEFAULT nextval('payment_payment_id_seq'),
    created_at             timestamp(3) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_updated           timestamp(3) without time zone NOT NULL,
    transaction_id         integer NOT NULL,
    counterparty_id        integer NOT NULL,
    payment_amount         numeric(10,2) NOT NULL,
    currency_id            integer NOT NULL,
    payment_type_id        integer NOT NULL,
    paid                   boolean NOT NULL,
    payment_date           text NOT NULL,
    company_ac_number      integer NOT NULL,
    counterparty_ac_number integer NOT NULL,
    CONSTRAINT payment_pkey PRIMARY KEY (payment_id)
);
ALTER SEQUENCE payment_payment_id_seq OWNED BY payment.payment_id;

CREATE UNIQUE INDEX payment_transaction_id_key ON payment (transaction_id);
CREATE UNIQUE INDEX transaction_sales_order_id_key ON transaction (sales_order_id);
CREATE UNIQUE INDEX transaction_purchase_order_id_key ON transaction (purchase_order_id);

ALTER TABLE counterparty ADD CONSTRAINT counterparty_legal_address_id_fkey
    FOREIGN KEY (legal_address_id) REFERENCES address (address_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE staff ADD CONSTRAINT staff_department_id_fkey
    FOREIGN KEY (department_id) REFERENCES department (department_id) ON UPDATE CASCADE ON DELETE RESTRICT;

ALTER TABLE sales_order ADD CONSTRAINT sales_order_design_id_fkey
    FOREIGN KEY (design_id) REFERENCES design (design_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE sales_order ADD CONSTRAINT sales_order_staff_id_fkey
    FOREIGN KEY (staff_id) REFERENCES staff (staff_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE sales_order ADD CONSTRAINT sales_order_counterparty_id_fkey
    FOREIGN KEY (counterparty_id) REFERENCES counterparty (counterparty_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE sales_order ADD CONSTRAINT sales_order_currency_id_fkey
    FOREIGN KEY (currency_id) REFERENCES currency (currency_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE sales_order ADD CONSTRAINT sales_order_agreed_delivery_location_id_fkey
    FOREIGN KEY (agreed_delivery_location_id) REFERENCES address (address_id) ON UPDATE CASCADE ON DELETE RESTRICT;

ALTER TABLE purchase_order ADD CONSTRAINT purchase_order_staff_id_fkey
    FOREIGN KEY (staff_id) REFERENCES staff (staff_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE purchase_order ADD CONSTRAINT purchase_order_counterparty_id_fkey
    FOREIGN KEY (counterparty_id) REFERENCES counterparty (counterparty_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE purchase_order ADD CONSTRAINT purchase_order_currency_id_fkey
    FOREIGN KEY (currency_id) REFERENCES currency (currency_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE purchase_order ADD CONSTRAINT purchase_order_agreed_delivery_location_id_fkey
    FOREIGN KEY (agreed_delivery_location_id) REFERENCES address (address_id) ON UPDATE CASCADE ON DELETE RESTRICT;

ALTER TABLE transaction ADD CONSTRAINT transaction_sales_order_id_fkey
    FOREIGN KEY (sales_order_id) REFERENCES sales_order (sales_order_id) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE transaction ADD CONSTRAINT transaction_purchase_order_id_fkey
    FOREIGN KEY (purchase_order_id) REFERENCES purchase_order (purchase_order_id) ON UPDATE CASCADE ON DELETE SET NULL;

ALTER TABLE payment ADD CONSTRAINT payment_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES transaction (transaction_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE payment ADD CONSTRAINT payment_counterparty_id_fkey
    FOREIGN KEY (counterparty_id) REFERENCES counterparty (counterparty_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE payment ADD CONSTRAINT payment_currency_id_fkey
    FOREIGN KEY (currency_id) REFERENCES currency (currency_id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE payment ADD CONSTRAINT payment_payment_type_id_fkey
    FOREIGN KEY (payment_type_id) REFERENCES payment_type (payment_type_id) ON UPDATE CASCADE ON DELETE RESTRICT;
