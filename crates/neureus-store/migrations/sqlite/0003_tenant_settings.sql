-- Per-tenant settings as a JSON object (e.g. {"trimThresholdTokens": 8000}), and a change
-- time so caches in other processes can notice.
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS tenants_updated_idx ON tenants (updated_at);
