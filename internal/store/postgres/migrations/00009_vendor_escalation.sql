-- +goose Up
-- Vendor escalation (M17): a ticket step asking the EDR maker for a
-- detailed analysis (e.g. WithSecure "Elevate"), and its answer.
CREATE TABLE vendor_escalations (
    id           BIGSERIAL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    vendor       TEXT NOT NULL,
    request      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    vendor_ref   TEXT NOT NULL DEFAULT '',
    verdict      TEXT NOT NULL DEFAULT '',
    answer       TEXT NOT NULL DEFAULT '',
    answered_by  TEXT NOT NULL DEFAULT '',
    answered_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX vendor_escalations_ticket ON vendor_escalations (tenant, ticket_id);

-- Reports delivered to the customer (the stop event of the monthly-report
-- clock, seed 000), one per tenant, kind and period.
CREATE TABLE reports_sent (
    tenant  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    period  TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    sent_by TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, kind, period)
);

-- +goose Down
DROP TABLE reports_sent;
DROP TABLE vendor_escalations;
