-- Sigil schema, version 1 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL means unset.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    principal_arn TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
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
    config                 BLOB NOT NULL,
    revocation_config      BLOB,
    key_ref                BLOB NOT NULL,
    csr                    BLOB NOT NULL,
    certificate            BLOB,
    chain                  BLOB,
    serial                 TEXT NOT NULL DEFAULT '',
    not_before             INTEGER,
    not_after              INTEGER,
    created_at             INTEGER NOT NULL,
    last_state_change_at   INTEGER NOT NULL,
    restorable_until       INTEGER,
    version                INTEGER NOT NULL
);

CREATE INDEX certificate_authorities_account ON certificate_authorities (account_id, created_at, id);
CREATE INDEX certificate_authorities_purge ON certificate_authorities (status, restorable_until);

CREATE TABLE certificates (
    ca_id        TEXT NOT NULL REFERENCES certificate_authorities (id) ON DELETE CASCADE,
    serial       TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    der          BLOB NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,
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
    fingerprint BLOB NOT NULL,
    result      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, token)
);

CREATE INDEX idempotency_expiry ON idempotency (expires_at);
