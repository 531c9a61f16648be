-- +goose Up
-- Triage reads fingerprints, hosts and patterns from the rollups (00005,
-- 00011), no longer from the alerts themselves, so three of the alerts'
-- indexes were written with every alert and read by nothing. The spread
-- lookup (the same SHA-256 on another host) read every alert with the hash
-- in the last 7 days, each a lookup of the alert's row: in a month of a
-- million alerts that was a third of the work. hash_hosts rolls those alerts
-- up per (hash, host, incident), so alerts_sha256 goes too. Metering reads
-- a tenant's alerts by receipt time, which alerts_received serves.
CREATE TABLE hash_hosts (
    tenant      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    host_key    TEXT NOT NULL,
    incident_id BIGINT NOT NULL,
    latest      BIGINT NOT NULL,        -- the latest receipt of such an alert
    PRIMARY KEY (tenant, sha256, host_key, incident_id)
);
INSERT INTO hash_hosts (tenant, sha256, host_key, incident_id, latest)
    SELECT tenant, sha256, host_key, incident_id, MAX(received_at) FROM alerts
    WHERE sha256 <> '' AND incident_id IS NOT NULL GROUP BY tenant, sha256, host_key, incident_id;
DROP INDEX alerts_fingerprint;
DROP INDEX alerts_pattern;
DROP INDEX alerts_host;
DROP INDEX alerts_sha256;
CREATE INDEX alerts_received ON alerts (tenant, received_at);

-- +goose Down
DROP INDEX alerts_received;
CREATE INDEX alerts_sha256 ON alerts (tenant, sha256, received_at);
CREATE INDEX alerts_fingerprint ON alerts (tenant, fingerprint);
CREATE INDEX alerts_pattern ON alerts (tenant, pattern, received_at, host_key);
CREATE INDEX alerts_host ON alerts (tenant, host_key, received_at);
DROP TABLE hash_hosts;
