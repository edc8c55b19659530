-- The audit trail: one record per API call, as a CloudTrail event.
--
-- audit_events holds the chained records in chain order: each record's mac
-- covers the previous record's mac, its position and its body (the record
-- exactly as stored). The other columns copy fields of the body for
-- lookups; `sigil audit verify` checks that they still agree.
CREATE TABLE audit_events (
    position      INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL,
    event_time    INTEGER NOT NULL,
    event_name    TEXT NOT NULL,
    event_source  TEXT NOT NULL,
    read_only     INTEGER NOT NULL,
    username      TEXT NOT NULL,
    access_key_id TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    error_code    TEXT NOT NULL,
    body          TEXT NOT NULL,
    mac           BLOB NOT NULL
);
-- LookupEvents: an account's records newest first, all or by attribute
-- (EventSource and ReadOnly filter the time index: they have few values).
-- Ties in time are broken by position, which every index entry ends with
-- (it is the rowid).
CREATE INDEX audit_events_time ON audit_events (account_id, event_time);
CREATE INDEX audit_events_name ON audit_events (account_id, event_name, event_time);
CREATE INDEX audit_events_user ON audit_events (account_id, username, event_time);
CREATE INDEX audit_events_key ON audit_events (account_id, access_key_id, event_time);

-- The resources each chained record (at position) names, for lookups by
-- resource name and type. The table is its own name index.
CREATE TABLE audit_event_resources (
    account_id    TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    event_time    INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    PRIMARY KEY (account_id, resource_name, event_time, position)
) WITHOUT ROWID;
CREATE INDEX audit_resources_type ON audit_event_resources (account_id, resource_type, event_time, position);

-- Records written with the change they describe, waiting for their call's
-- outcome before they are chained; mac is the record's own MAC.
CREATE TABLE audit_pending (
    event_id   TEXT PRIMARY KEY,
    event_time INTEGER NOT NULL,
    body       TEXT NOT NULL,
    mac        BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_pending_created ON audit_pending (created_at);

-- The head of the chain: one row, updated under a row lock by whoever
-- appends. tag is a MAC over position and mac.
CREATE TABLE audit_chain (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    mac      BLOB NOT NULL,
    tag      BLOB NOT NULL
);
