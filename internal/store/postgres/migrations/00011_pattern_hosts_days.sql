-- +goose Up
-- Prevalence counts the distinct hosts and the distinct days on which a
-- pattern fired within 14 days. pattern_sightings kept one row per (host,
-- day), so triage's read-ahead read hosts × days rows for every pattern of
-- every batch, and judging one alert walked them all. A host counts when its
-- latest sighting is recent enough, and so does a day: two rollups, one per
-- host and one per day, give the same counts from hosts + days rows.
CREATE TABLE pattern_hosts (
    tenant   TEXT NOT NULL,
    pattern  TEXT NOT NULL,
    host_key TEXT NOT NULL,
    latest   BIGINT NOT NULL,           -- the latest receipt on this host
    PRIMARY KEY (tenant, pattern, host_key)
);
CREATE INDEX pattern_hosts_recent ON pattern_hosts (tenant, pattern, latest, host_key);
CREATE TABLE pattern_days (
    tenant  TEXT NOT NULL,
    pattern TEXT NOT NULL,
    day     BIGINT NOT NULL,            -- UTC day: received_at / 86400000000
    latest  BIGINT NOT NULL,            -- the latest receipt that day
    PRIMARY KEY (tenant, pattern, day)
);
INSERT INTO pattern_hosts (tenant, pattern, host_key, latest)
    SELECT tenant, pattern, host_key, MAX(latest) FROM pattern_sightings GROUP BY tenant, pattern, host_key;
INSERT INTO pattern_days (tenant, pattern, day, latest)
    SELECT tenant, pattern, day, MAX(latest) FROM pattern_sightings GROUP BY tenant, pattern, day;
DROP TABLE pattern_sightings;

-- +goose Down
CREATE TABLE pattern_sightings (
    tenant   TEXT NOT NULL,
    pattern  TEXT NOT NULL,
    host_key TEXT NOT NULL,
    day      BIGINT NOT NULL,
    latest   BIGINT NOT NULL,
    PRIMARY KEY (tenant, pattern, host_key, day)
);
CREATE INDEX pattern_sightings_recent ON pattern_sightings (tenant, pattern, latest, host_key, day);
INSERT INTO pattern_sightings (tenant, pattern, host_key, day, latest)
    SELECT tenant, pattern, host_key, received_at / 86400000000, MAX(received_at) FROM alerts
    GROUP BY tenant, pattern, host_key, received_at / 86400000000;
DROP TABLE pattern_days;
DROP TABLE pattern_hosts;
