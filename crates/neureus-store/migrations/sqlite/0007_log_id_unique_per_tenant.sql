-- request_logs without its `id TEXT PRIMARY KEY`, whose own index (sqlite_autoindex_request_logs_1,
-- keyed by id alone) every record was inserted into. Every read of a record names its tenant
-- (/ai/logs pages, /ai/logs/{id}: tenant isolation), so (tenant_id, id), already indexed, now
-- UNIQUE, serves the lookups and refuses a repeated id within a tenant as the primary key did
-- (ids are UUIDv7, time-ordered with random bits). One B-tree insert a record fewer, on the
-- gateway's core (see BENCHMARKS.md, stop 23).
-- The table is rebuilt (SQLite cannot drop a primary key in place): the records are copied in
-- (tenant_id, id) order, then the indexes are made anew.
CREATE TABLE request_logs_new (
    id               TEXT NOT NULL,
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

INSERT INTO request_logs_new (id, tenant_id, api_key_id, created_at, endpoint, model_requested,
                              model, provider, category, status, error_type, error_message,
                              input_tokens, output_tokens, cached_tokens, cost_e10, latency_ms,
                              ttft_ms, streamed, routing, preprocessing, metadata, request_body,
                              response_body)
SELECT id, tenant_id, api_key_id, created_at, endpoint, model_requested, model, provider, category,
       status, error_type, error_message, input_tokens, output_tokens, cached_tokens, cost_e10,
       latency_ms, ttft_ms, streamed, routing, preprocessing, metadata, request_body, response_body
FROM request_logs
ORDER BY tenant_id, id;

DROP TABLE request_logs;

ALTER TABLE request_logs_new RENAME TO request_logs;

CREATE UNIQUE INDEX request_logs_tenant_id_idx ON request_logs (tenant_id, id);
CREATE INDEX request_logs_tenant_created_idx ON request_logs (tenant_id, created_at);
CREATE INDEX request_logs_tenant_model_idx ON request_logs (tenant_id, model, id);
CREATE INDEX request_logs_tenant_provider_idx ON request_logs (tenant_id, provider, id);
CREATE INDEX request_logs_tenant_failed_idx ON request_logs (tenant_id, status, id) WHERE status <> 200;
