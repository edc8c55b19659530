-- EventBridge rules on each account's default bus, their targets, the
-- connections and API destinations webhooks are reached through, and the
-- deliveries of outbox events to targets.
CREATE TABLE event_rules (
    account_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    arn         TEXT NOT NULL UNIQUE,
    pattern     TEXT NOT NULL,
    state       TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX event_rules_enabled ON event_rules (state);
CREATE TABLE event_targets (
    account_id TEXT NOT NULL,
    rule_name  TEXT NOT NULL,
    target_id  TEXT NOT NULL,
    arn        TEXT NOT NULL,
    config     BYTEA NOT NULL,
    PRIMARY KEY (account_id, rule_name, target_id)
);
CREATE TABLE event_connections (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    arn        TEXT NOT NULL UNIQUE,
    auth_type  TEXT NOT NULL,
    auth       BYTEA NOT NULL,
    info       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE event_destinations (
    account_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    arn            TEXT NOT NULL UNIQUE,
    connection_arn TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    method         TEXT NOT NULL,
    rate_limit     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX event_destinations_connection ON event_destinations (connection_arn);
CREATE TABLE event_deliveries (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    rule_arn     TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    target_arn   TEXT NOT NULL,
    body         BYTEA NOT NULL,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,
    last_error   TEXT NOT NULL,
    last_status  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (event_id, rule_arn, target_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_at) WHERE status = 'PENDING';
CREATE INDEX event_deliveries_account ON event_deliveries (account_id, created_at);
