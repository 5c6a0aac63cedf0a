-- The whole schema for Postgres, as SQLite's migrations 1-7 leave it. Postgres databases
-- start here, so they have no history to replay. Differences from SQLite's:
-- * ids and tenant ids are `COLLATE "C"`: pages go newest first by `id`, a UUIDv7 in hex,
--   which must sort byte by byte whatever the database's locale;
-- * integers are BIGINT throughout (sqlx reads Postgres types strictly);
-- * request_logs keeps an index on created_at alone for retention (SQLite walks the
--   per-tenant index with a skip scan instead, which Postgres has no plan for).
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS tenants_updated_idx ON tenants (updated_at);

CREATE TABLE IF NOT EXISTS api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    public_id    TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE INDEX IF NOT EXISTS api_keys_tenant_idx ON api_keys (tenant_id);
CREATE INDEX IF NOT EXISTS api_keys_revoked_idx ON api_keys (revoked_at);

CREATE TABLE IF NOT EXISTS provider_keys (
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    provider       TEXT COLLATE "C" NOT NULL,
    version        BIGINT NOT NULL,
    master_key_id  TEXT,
    nonce          TEXT,
    ciphertext     TEXT,
    account_id     TEXT,
    last4          TEXT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);

CREATE INDEX IF NOT EXISTS provider_keys_updated_idx ON provider_keys (updated_at);

CREATE TABLE IF NOT EXISTS settings (
    name   TEXT COLLATE "C" PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS request_logs (
    id               TEXT COLLATE "C" NOT NULL,
    tenant_id        TEXT COLLATE "C" NOT NULL,
    api_key_id       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    endpoint         TEXT NOT NULL,
    model_requested  TEXT,
    model            TEXT COLLATE "C",
    provider         TEXT COLLATE "C",
    category         TEXT,
    status           BIGINT NOT NULL,
    error_type       TEXT,
    error_message    TEXT,
    input_tokens     BIGINT NOT NULL,
    output_tokens    BIGINT NOT NULL,
    cached_tokens    BIGINT NOT NULL,
    cost_e10         BIGINT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    ttft_ms          BIGINT,
    streamed         BIGINT NOT NULL,
    routing          TEXT,
    preprocessing    TEXT,
    metadata         TEXT,
    request_body     TEXT,
    response_body    TEXT
);

CREATE UNIQUE INDEX IF NOT EXISTS request_logs_tenant_id_idx ON request_logs (tenant_id, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_created_idx ON request_logs (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS request_logs_tenant_model_idx ON request_logs (tenant_id, model, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_provider_idx ON request_logs (tenant_id, provider, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_failed_idx ON request_logs (tenant_id, status, id) WHERE status <> 200;
CREATE INDEX IF NOT EXISTS request_logs_created_idx ON request_logs (created_at);

CREATE TABLE IF NOT EXISTS usage_hourly (
    tenant_id      TEXT COLLATE "C" NOT NULL,
    hour           BIGINT NOT NULL,
    model          TEXT COLLATE "C" NOT NULL,
    provider       TEXT COLLATE "C" NOT NULL,
    api_key_id     TEXT COLLATE "C" NOT NULL,
    requests       BIGINT NOT NULL,
    errors         BIGINT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    cached_tokens  BIGINT NOT NULL,
    cost_e10       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, model, provider, api_key_id)
);

CREATE INDEX IF NOT EXISTS usage_hourly_hour_idx ON usage_hourly (hour);
