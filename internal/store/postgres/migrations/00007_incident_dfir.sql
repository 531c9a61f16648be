-- +goose Up
-- DFIR mode (seed 003): a ransomware incident handed to digital forensics
-- and incident response.
ALTER TABLE incidents ADD COLUMN dfir INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE incidents DROP COLUMN dfir;
