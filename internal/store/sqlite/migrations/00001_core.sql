-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    config     TEXT NOT NULL,           -- the tenant file as applied
    secrets    TEXT NOT NULL DEFAULT '',-- sealed (AES-GCM) vendor and webhook secrets
    updated_at INTEGER NOT NULL
);

CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    source      TEXT NOT NULL,
    received_at INTEGER NOT NULL,       -- unix microseconds
    payload     BLOB NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending', -- pending | done | quarantined
    error       TEXT NOT NULL DEFAULT '',
    done_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
CREATE INDEX inbox_tenant_state ON inbox (tenant, state, id);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    status      TEXT NOT NULL,
    verdict     TEXT NOT NULL DEFAULT '',
    priority    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    score       INTEGER NOT NULL,
    needs_human INTEGER NOT NULL,
    title       TEXT NOT NULL,
    hosts       TEXT NOT NULL,          -- JSON array
    techniques  TEXT NOT NULL,          -- JSON array
    evidence    TEXT NOT NULL,          -- JSON array
    alert_count INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX incidents_open ON incidents (tenant, status, last_seen);

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    source      TEXT NOT NULL,
    vendor      TEXT NOT NULL,
    vendor_id   TEXT NOT NULL,
    inbox_id    INTEGER NOT NULL,
    incident_id INTEGER,
    disposition TEXT NOT NULL,          -- new | grouped | folded | suppressed | low
    fingerprint TEXT NOT NULL,
    pattern     TEXT NOT NULL,
    host_key    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    score       INTEGER NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    event_time  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    data        TEXT NOT NULL,          -- the normalised alert, JSON
    UNIQUE (tenant, source, vendor_id)
);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_fingerprint ON alerts (tenant, fingerprint);
CREATE INDEX alerts_sha256 ON alerts (tenant, sha256, received_at);
CREATE INDEX alerts_pattern ON alerts (tenant, pattern, received_at, host_key);
CREATE INDEX alerts_host ON alerts (tenant, host_key, received_at);

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    author      TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX notes_incident ON notes (incident_id);

CREATE TABLE actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    host_key    TEXT NOT NULL,
    host_id     TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    key         TEXT NOT NULL UNIQUE,
    detail      TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    approver    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX actions_incident ON actions (incident_id);
CREATE INDEX actions_host ON actions (tenant, host_key);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    channel     TEXT NOT NULL,
    contact     TEXT NOT NULL,
    address     TEXT NOT NULL,
    language    TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- first | update
    state       TEXT NOT NULL,          -- pending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_incident ON notifications (incident_id);

CREATE TABLE notification_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    at              INTEGER NOT NULL,
    ok              INTEGER NOT NULL,
    detail          TEXT NOT NULL
);

CREATE TABLE cursors (
    tenant     TEXT NOT NULL,
    source     TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, source)
);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant, id);

-- +goose Down
SELECT 1;
