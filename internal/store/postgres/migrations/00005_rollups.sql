-- +goose Up
-- Rollups of the alerts that triage's lookups read, kept at write time, so
-- that a lookup costs the same whether a host or a detection has ten alerts
-- or ten thousand (an initial full-disk scan floods one pattern on every
-- host): which incidents hold a fingerprint or a host, and when last; on
-- which hosts and days a pattern fired.
CREATE TABLE incident_keys (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- fp | host
    key         TEXT NOT NULL,
    incident_id BIGINT NOT NULL,
    latest      BIGINT NOT NULL,        -- the latest receipt of such an alert
    PRIMARY KEY (tenant, kind, key, incident_id)
);
CREATE TABLE pattern_sightings (
    tenant   TEXT NOT NULL,
    pattern  TEXT NOT NULL,
    host_key TEXT NOT NULL,
    day      BIGINT NOT NULL,           -- UTC day: received_at / 86400000000
    latest   BIGINT NOT NULL,
    PRIMARY KEY (tenant, pattern, host_key, day)
);
INSERT INTO incident_keys (tenant, kind, key, incident_id, latest)
    SELECT tenant, 'fp', fingerprint, incident_id, MAX(received_at) FROM alerts
    WHERE incident_id IS NOT NULL GROUP BY tenant, fingerprint, incident_id;
INSERT INTO incident_keys (tenant, kind, key, incident_id, latest)
    SELECT tenant, 'host', host_key, incident_id, MAX(received_at) FROM alerts
    WHERE incident_id IS NOT NULL GROUP BY tenant, host_key, incident_id;
INSERT INTO pattern_sightings (tenant, pattern, host_key, day, latest)
    SELECT tenant, pattern, host_key, received_at / 86400000000, MAX(received_at) FROM alerts
    GROUP BY tenant, pattern, host_key, received_at / 86400000000;

-- +goose Down
DROP TABLE pattern_sightings;
DROP TABLE incident_keys;
