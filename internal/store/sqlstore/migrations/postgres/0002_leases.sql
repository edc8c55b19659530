-- Leases let one node of several run the background jobs. The token is a
-- fencing token: it grows each time the lease changes hands, and a job's
-- writes check it, so a node that lost its lease cannot write any more.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
