-- +goose Up
-- When a ticket entered its state (the 72-hour wait on the customer is
-- counted from here).
ALTER TABLE tickets ADD COLUMN state_since BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET state_since = updated_at;
CREATE INDEX tickets_waiting ON tickets (state, state_since);

-- +goose Down
DROP INDEX tickets_waiting;
ALTER TABLE tickets DROP COLUMN state_since;
