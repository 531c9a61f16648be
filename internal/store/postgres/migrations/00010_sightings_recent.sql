-- +goose Up
-- Triage's read-ahead asks for the sightings of a batch's patterns within
-- the prevalence window (14 days): with the latest receipt in an index that
-- also holds host and day, it reads those rows only, from the index alone,
-- rather than every sighting of the pattern since it first fired.
CREATE INDEX pattern_sightings_recent ON pattern_sightings (tenant, pattern, latest, host_key, day);

-- +goose Down
DROP INDEX pattern_sightings_recent;
