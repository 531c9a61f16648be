-- +goose Up
-- Tickets (SPEC M7): incidents' work, PCRs (allowlist requests), inquiries,
-- policy-change and agent-update requests, emergency calls; their notes and
-- links; and the allowlist entries applied PCRs made.
CREATE TABLE tickets (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,
    assignee   TEXT NOT NULL DEFAULT '',
    requester  TEXT NOT NULL DEFAULT '',
    pcr        TEXT NOT NULL DEFAULT '',   -- the allowlist request, JSON; '' when not a PCR
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tickets_tenant ON tickets (tenant, state, kind, id);

CREATE TABLE ticket_notes (
    id        BIGSERIAL PRIMARY KEY,
    tenant    TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    at        BIGINT NOT NULL,
    author    TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX ticket_notes_ticket ON ticket_notes (tenant, ticket_id, id);

CREATE TABLE ticket_links (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT NOT NULL,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    kind        TEXT NOT NULL,             -- incident | alert
    ref         TEXT NOT NULL,             -- INC-000123, or the vendor's alert id
    incident_id BIGINT REFERENCES incidents (id),
    UNIQUE (ticket_id, kind, ref)
);
CREATE INDEX ticket_links_ticket ON ticket_links (tenant, ticket_id);
CREATE INDEX ticket_links_incident ON ticket_links (tenant, incident_id);

CREATE TABLE allowlist_entries (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    sha256     TEXT NOT NULL DEFAULT '',
    path_glob  TEXT NOT NULL DEFAULT '',
    host_glob  TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX allowlist_entries_tenant ON allowlist_entries (tenant, sha256);

-- +goose Down
DROP TABLE allowlist_entries;
DROP TABLE ticket_links;
DROP TABLE ticket_notes;
DROP TABLE tickets;
