-- +goose Up
-- The rollups (00005, 00011, 00012) are upserted with every triaged alert,
-- by their primary key. As ordinary SQLite tables each row lived twice: in
-- the table's rowid b-tree and in the primary key's index, so every upsert
-- changed two b-trees and the commit wrote both trees' pages. WITHOUT ROWID
-- keeps each row in its primary key's b-tree alone. (PostgreSQL has no
-- rowid: its tables stay as they are.) The copy runs once, at the first
-- start after the upgrade, in time proportional to the rollups' rows (one
-- per pattern and host, pattern and day, hash and host, and incident key).
CREATE TABLE incident_keys_new (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    incident_id BIGINT NOT NULL,
    latest      BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind, key, incident_id)
) WITHOUT ROWID;
INSERT INTO incident_keys_new SELECT tenant, kind, key, incident_id, latest FROM incident_keys;
DROP TABLE incident_keys;
ALTER TABLE incident_keys_new RENAME TO incident_keys;

CREATE TABLE pattern_hosts_new (
    tenant   TEXT NOT NULL,
    pattern  TEXT NOT NULL,
    host_key TEXT NOT NULL,
    latest   BIGINT NOT NULL,
    PRIMARY KEY (tenant, pattern, host_key)
) WITHOUT ROWID;
INSERT INTO pattern_hosts_new SELECT tenant, pattern, host_key, latest FROM pattern_hosts;
DROP TABLE pattern_hosts;
ALTER TABLE pattern_hosts_new RENAME TO pattern_hosts;
CREATE INDEX pattern_hosts_recent ON pattern_hosts (tenant, pattern, latest, host_key);

CREATE TABLE pattern_days_new (
    tenant  TEXT NOT NULL,
    pattern TEXT NOT NULL,
    day     BIGINT NOT NULL,
    latest  BIGINT NOT NULL,
    PRIMARY KEY (tenant, pattern, day)
) WITHOUT ROWID;
INSERT INTO pattern_days_new SELECT tenant, pattern, day, latest FROM pattern_days;
DROP TABLE pattern_days;
ALTER TABLE pattern_days_new RENAME TO pattern_days;

CREATE TABLE hash_hosts_new (
    tenant      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    host_key    TEXT NOT NULL,
    incident_id BIGINT NOT NULL,
    latest      BIGINT NOT NULL,
    PRIMARY KEY (tenant, sha256, host_key, incident_id)
) WITHOUT ROWID;
INSERT INTO hash_hosts_new SELECT tenant, sha256, host_key, incident_id, latest FROM hash_hosts;
DROP TABLE hash_hosts;
ALTER TABLE hash_hosts_new RENAME TO hash_hosts;

-- +goose Down
-- Nothing to undo: the tables keep their columns and keys, and the Down
-- steps of 00012, 00011 and 00005 drop or rebuild them as they are.
SELECT 1;
