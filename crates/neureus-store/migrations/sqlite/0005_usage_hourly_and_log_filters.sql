-- Usage per tenant, hour, model, provider and API key, kept beside request_logs in the same
-- transaction as the records it sums, so /ai/usage over a month reads hundreds of rows
-- instead of millions (measured at ten million records: 6.6 s -> milliseconds).
-- NULL model/provider are stored as ''.
CREATE TABLE IF NOT EXISTS usage_hourly (
    tenant_id      TEXT NOT NULL,
    hour           BIGINT NOT NULL,
    model          TEXT NOT NULL,
    provider       TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    requests       BIGINT NOT NULL,
    errors         BIGINT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    cached_tokens  BIGINT NOT NULL,
    cost_e10       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, model, provider, api_key_id)
);

CREATE INDEX IF NOT EXISTS usage_hourly_hour_idx ON usage_hourly (hour);

-- Existing records, summed once.
INSERT INTO usage_hourly (tenant_id, hour, model, provider, api_key_id, requests, errors,
                          input_tokens, output_tokens, cached_tokens, cost_e10)
SELECT tenant_id, (created_at / 3600000) * 3600000, COALESCE(model, ''), COALESCE(provider, ''),
       api_key_id, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens),
       SUM(output_tokens), SUM(cached_tokens), SUM(cost_e10)
FROM request_logs
GROUP BY tenant_id, (created_at / 3600000) * 3600000, COALESCE(model, ''), COALESCE(provider, ''), api_key_id;

-- /ai/logs filters that match few of a tenant's records would otherwise walk all of them
-- (measured at ten million records: 3.6 s for a model filter, 6.8 s for a status filter).
CREATE INDEX IF NOT EXISTS request_logs_tenant_model_idx ON request_logs (tenant_id, model, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_status_idx ON request_logs (tenant_id, status, id);
CREATE INDEX IF NOT EXISTS request_logs_tenant_provider_idx ON request_logs (tenant_id, provider, id);
