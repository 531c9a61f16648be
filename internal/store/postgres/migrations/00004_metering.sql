-- +goose Up
-- Prepaid option tickets (seed 001: bought in advance, valid one year, used
-- by option work). A purchase is a lot; consumptions take from the lots
-- valid at their time, oldest first (internal/meter.Replay), so which lot
-- paid for what is derived, never stored. Times are unix microseconds.
CREATE TABLE prepaid_purchases (
    id           BIGSERIAL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    purchased_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,     -- one year after purchased_at, exclusive
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    note         TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE INDEX prepaid_purchases_tenant ON prepaid_purchases (tenant, purchased_at);

CREATE TABLE prepaid_consumptions (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    at         BIGINT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    reason     TEXT NOT NULL CHECK (reason <> ''),
    ref        TEXT NOT NULL DEFAULT '', -- the ticket or incident (INC-000123) the work was for
    created_at BIGINT NOT NULL
);
CREATE INDEX prepaid_consumptions_tenant ON prepaid_consumptions (tenant, at);

-- Monthly usage counts alerts by received_at and incidents by created_at.
CREATE INDEX incidents_created ON incidents (tenant, created_at);

-- +goose Down
DROP INDEX incidents_created;
DROP TABLE prepaid_consumptions;
DROP TABLE prepaid_purchases;
