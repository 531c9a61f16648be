-- +goose Up
-- Triage reads fingerprints, hosts and patterns from the rollups (00005,
-- 00011), no longer from the alerts themselves, so three of the alerts'
-- six indexes were written with every alert and read by nothing. Metering
-- reads a tenant's alerts by receipt time, which alerts_received serves.
DROP INDEX alerts_fingerprint;
DROP INDEX alerts_pattern;
DROP INDEX alerts_host;
CREATE INDEX alerts_received ON alerts (tenant, received_at);

-- +goose Down
DROP INDEX alerts_received;
CREATE INDEX alerts_fingerprint ON alerts (tenant, fingerprint);
CREATE INDEX alerts_pattern ON alerts (tenant, pattern, received_at, host_key);
CREATE INDEX alerts_host ON alerts (tenant, host_key, received_at);
