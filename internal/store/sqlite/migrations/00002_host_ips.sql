-- +goose Up
-- Which host an IP address belonged to when a vendor last named it, so that
-- an alert that carries only an address (a firewall's syslog line) joins
-- the incident of the host an EDR saw at that address.
CREATE TABLE host_ips (
    tenant    TEXT NOT NULL,
    ip        TEXT NOT NULL,
    host_key  TEXT NOT NULL,
    vendor    TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (tenant, ip)
);

-- +goose Down
DROP TABLE host_ips;
