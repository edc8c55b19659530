-- Sigil schema, version 1 (PostgreSQL).
-- Times are BIGINT microseconds since the Unix epoch, UTC; NULL means unset.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    principal_arn TEXT NOT NULL,
    secret_sealed BYTEA NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE certificate_authorities (
    id                     TEXT PRIMARY KEY,
    arn                    TEXT NOT NULL UNIQUE,
    account_id             TEXT NOT NULL,
    type                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    status_before_deletion TEXT NOT NULL DEFAULT '',
    failure_reason         TEXT NOT NULL DEFAULT '',
    usage_mode             TEXT NOT NULL,
    key_storage            TEXT NOT NULL,
    config                 BYTEA NOT NULL,
    revocation_config      BYTEA,
    key_ref                BYTEA NOT NULL,
    csr                    BYTEA NOT NULL,
    certificate            BYTEA,
    chain                  BYTEA,
    serial                 TEXT NOT NULL DEFAULT '',
    not_before             BIGINT,
    not_after              BIGINT,
    created_at             BIGINT NOT NULL,
    last_state_change_at   BIGINT NOT NULL,
    restorable_until       BIGINT,
    version                BIGINT NOT NULL
);

CREATE INDEX certificate_authorities_account ON certificate_authorities (account_id, created_at, id);
CREATE INDEX certificate_authorities_purge ON certificate_authorities (status, restorable_until);

CREATE TABLE certificates (
    ca_id        TEXT NOT NULL REFERENCES certificate_authorities (id) ON DELETE CASCADE,
    serial       TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    der          BYTEA NOT NULL,
    not_before   BIGINT NOT NULL,
    not_after    BIGINT NOT NULL,
    issued_at    BIGINT NOT NULL,
    template_arn TEXT NOT NULL,
    PRIMARY KEY (ca_id, serial)
);

CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
);

CREATE TABLE idempotency (
    scope       TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    result      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, token)
);

CREATE INDEX idempotency_expiry ON idempotency (expires_at);
