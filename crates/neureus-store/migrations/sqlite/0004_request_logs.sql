-- One row per request that reached the gateway with a valid key. `id` is time-ordered
-- (UUIDv7), so (tenant_id, id) serves newest-first pagination; cost is stored in units of
-- 1e-10 USD so sums are exact.
CREATE TABLE IF NOT EXISTS request_logs (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    api_key_id       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    endpoint         TEXT NOT NULL,
    model_requested  TEXT,
    model            TEXT,
    provider         TEXT,
    category         TEXT,
    status           INTEGER NOT NULL,
    error_type       TEXT,
    error_message    TEXT,
    input_tokens     BIGINT NOT NULL,
    output_tokens    BIGINT NOT NULL,
    cached_tokens    BIGINT NOT NULL,
    cost_e10         BIGINT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    ttft_ms          BIGINT,
    streamed         INTEGER NOT NULL,
    routing          TEXT,
    preprocessing    TEXT,
    metadata         TEXT,
    request_body     TEXT,
    response_body    TEXT
);

CREATE INDEX IF NOT EXISTS request_logs_tenant_id_idx ON request_logs (tenant_id, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_created_idx ON request_logs (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS request_logs_created_idx ON request_logs (created_at);
