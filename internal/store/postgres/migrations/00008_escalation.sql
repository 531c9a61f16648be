-- +goose Up
-- Acknowledgement of an incident (signed mail link, Slack, console, API):
-- it stops the incident's escalation chain. One per incident.
CREATE TABLE incident_acks (
    tenant      TEXT NOT NULL,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at          BIGINT NOT NULL,
    by_whom     TEXT NOT NULL,
    via         TEXT NOT NULL,
    PRIMARY KEY (tenant, incident_id)
);

-- Each escalation step taken (or skipped) once per incident, round and step:
-- the key makes a step idempotent across sweeps and nodes.
CREATE TABLE escalation_steps (
    tenant      TEXT NOT NULL,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    round       INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    due_at      BIGINT NOT NULL,
    fired_at    BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (tenant, incident_id, round, step)
);

-- SLO warnings (level = percent of the budget) and breaches (level 100),
-- each once per object and clock.
CREATE TABLE slo_signals (
    tenant   TEXT NOT NULL,
    object   TEXT NOT NULL,
    clock    TEXT NOT NULL,
    level    INTEGER NOT NULL,
    due_at   BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, object, clock, level)
);

-- What a notice of a kind other than first/update is about, as JSON
-- (an SLO warning's clock, share of the budget and due time).
ALTER TABLE notifications ADD COLUMN about TEXT NOT NULL DEFAULT '';
-- The escalation sweep's start times: recent first notices of a tenant.
CREATE INDEX notifications_kind ON notifications (tenant, kind, created_at);

-- An object's history (first human action for the SLO clocks, the
-- incident view) without reading the tenant's whole log.
CREATE INDEX audit_object ON audit (tenant, object);

-- +goose Down
DROP INDEX audit_object;
DROP INDEX notifications_kind;
ALTER TABLE notifications DROP COLUMN about;
DROP TABLE slo_signals;
DROP TABLE escalation_steps;
DROP TABLE incident_acks;
