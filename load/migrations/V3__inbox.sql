-- The file-drop inbox (crate inbox, README "File-drop inbox"): declared tables live in schema
-- inbox beside their registry and the processing log.
CREATE SCHEMA IF NOT EXISTS inbox;

-- The declaration in force per table (schema/<table>.json, as last applied).
CREATE TABLE inbox.etl_inbox_tables (
    table_name     text PRIMARY KEY,
    declaration    jsonb NOT NULL,
    schema_file    text NOT NULL,
    schema_version text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per object version processed: what it was, what it did, and why not. The unique key
-- makes each version's effect happen once however often its event is delivered.
CREATE TABLE inbox.etl_inbox_log (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    file          text NOT NULL,
    version       text NOT NULL,
    action        text NOT NULL CHECK (action IN ('append', 'truncate', 'upsert', 'schema')),
    table_name    text NOT NULL,
    rows_loaded   bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    checks        jsonb NOT NULL DEFAULT '[]',
    status        text NOT NULL CHECK (status IN ('loaded', 'rejected', 'applied', 'refused')),
    reason        text,
    alerted       boolean NOT NULL DEFAULT true,
    started       timestamptz NOT NULL,
    finished      timestamptz NOT NULL,
    UNIQUE (source, file, version)
);
CREATE INDEX etl_inbox_log_table ON inbox.etl_inbox_log (table_name, finished);
CREATE INDEX etl_inbox_log_finished ON inbox.etl_inbox_log (finished);
