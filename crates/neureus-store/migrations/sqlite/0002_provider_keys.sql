-- Tenants' own provider keys (BYOK), sealed with AES-256-GCM. A row is never deleted:
-- DELETE clears the sealed fields and bumps the version, so `updated_at` finds every change.
CREATE TABLE IF NOT EXISTS provider_keys (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    provider       TEXT NOT NULL,
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

-- Small named values: the master-key canary.
CREATE TABLE IF NOT EXISTS settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
