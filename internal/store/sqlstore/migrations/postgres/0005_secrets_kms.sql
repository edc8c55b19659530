-- KMS keys (their sealed key material, one row per rotation), aliases,
-- Secrets Manager secrets with their encrypted versions and staging labels,
-- and the rotation functions (webhooks) registered for them.

CREATE TABLE kms_keys (
    id                   TEXT PRIMARY KEY,
    arn                  TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    key_manager          TEXT NOT NULL,
    key_usage            TEXT NOT NULL,
    key_spec             TEXT NOT NULL,
    origin               TEXT NOT NULL,
    state                TEXT NOT NULL,
    policy               TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    deletion_at          BIGINT,
    rotation_enabled     BIGINT NOT NULL DEFAULT 0,
    rotation_period_days BIGINT NOT NULL DEFAULT 365,
    next_rotation_at     BIGINT,
    last_rotated_at      BIGINT,
    current_material     BIGINT NOT NULL,
    version              BIGINT NOT NULL
);
CREATE INDEX kms_keys_account ON kms_keys (account_id, id);
CREATE INDEX kms_keys_deletion ON kms_keys (deletion_at) WHERE deletion_at IS NOT NULL;
CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_at) WHERE next_rotation_at IS NOT NULL;

-- Key material never leaves the server: each generation is sealed by the
-- master key and kept for decryption after the key rotates.
CREATE TABLE kms_key_materials (
    key_id     TEXT NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,
    number     BIGINT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, number)
);

CREATE TABLE kms_aliases (
    account_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX kms_aliases_target ON kms_aliases (target_key_id);

CREATE TABLE secrets (
    id                  TEXT PRIMARY KEY,
    arn                 TEXT NOT NULL UNIQUE,
    account_id          TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    kms_key_id          TEXT NOT NULL DEFAULT '',
    rotation_enabled    BIGINT NOT NULL DEFAULT 0,
    rotation_lambda_arn TEXT NOT NULL DEFAULT '',
    rotation_rules      TEXT NOT NULL DEFAULT '',
    rotation            TEXT NOT NULL DEFAULT '',
    rotation_due_at     BIGINT,
    next_rotation_at    BIGINT,
    last_rotated_at     BIGINT,
    last_changed_at     BIGINT,
    last_accessed_at    BIGINT,
    deleted_at          BIGINT,
    purge_at            BIGINT,
    created_at          BIGINT NOT NULL,
    resource_policy     TEXT NOT NULL DEFAULT '',
    version             BIGINT NOT NULL,
    UNIQUE (account_id, name)
);
-- Listings page by (sort column, id); the scheduler finds due rotations and
-- purges from partial indexes.
CREATE INDEX secrets_created ON secrets (account_id, created_at, id);
CREATE INDEX secrets_changed ON secrets (account_id, COALESCE(last_changed_at, 0), id);
CREATE INDEX secrets_rotation_due ON secrets (rotation_due_at) WHERE rotation_due_at IS NOT NULL;
CREATE INDEX secrets_purge ON secrets (purge_at) WHERE purge_at IS NOT NULL;

-- A version's value is encrypted with a data key; data_key is that key
-- encrypted by the secret's KMS key (NULL: a version created by a rotation
-- that has no value yet).
CREATE TABLE secret_versions (
    secret_id        TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version_id       TEXT NOT NULL,
    kms_key_arn      TEXT NOT NULL DEFAULT '',
    data_key         BYTEA,
    ciphertext       BYTEA,
    is_binary        BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    last_accessed_at BIGINT,
    PRIMARY KEY (secret_id, version_id)
);
CREATE INDEX secret_versions_created ON secret_versions (secret_id, created_at);

-- A staging label is on at most one version of a secret.
CREATE TABLE secret_stages (
    secret_id  TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    stage      TEXT NOT NULL,
    version_id TEXT NOT NULL,
    PRIMARY KEY (secret_id, stage)
);
CREATE INDEX secret_stages_version ON secret_stages (secret_id, version_id);

-- Rotation functions: HTTPS webhooks called for each rotation step.
CREATE TABLE rotation_functions (
    account_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    arn           TEXT NOT NULL UNIQUE,
    url           TEXT NOT NULL,
    ca_bundle     BYTEA,
    secret_sealed BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
