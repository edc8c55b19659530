-- Certificate Manager (ACM): certificates with their sealed private keys,
-- the names each certificate covers, per-account settings, and the
-- transactional outbox of domain events.

CREATE TABLE acm_certificates (
    id                  TEXT PRIMARY KEY,
    arn                 TEXT NOT NULL UNIQUE,
    account_id          TEXT NOT NULL,
    type                TEXT NOT NULL,
    status              TEXT NOT NULL,
    domain_name         TEXT NOT NULL,
    names               TEXT NOT NULL,
    key_algorithm       TEXT NOT NULL,
    signature_algorithm TEXT NOT NULL DEFAULT '',
    serial              TEXT NOT NULL DEFAULT '',
    subject             TEXT NOT NULL DEFAULT '',
    issuer              TEXT NOT NULL DEFAULT '',
    common_name         TEXT NOT NULL DEFAULT '',
    key_usages          BIGINT NOT NULL DEFAULT 0,
    ext_key_usages      BIGINT NOT NULL DEFAULT 0,
    not_before          BIGINT,
    not_after           BIGINT,
    created_at          BIGINT NOT NULL,
    issued_at           BIGINT,
    imported_at         BIGINT,
    revoked_at          BIGINT,
    revocation_reason   TEXT NOT NULL DEFAULT '',
    ca_arn              TEXT NOT NULL DEFAULT '',
    pca_certificate_arn TEXT NOT NULL DEFAULT '',
    export_option       TEXT NOT NULL DEFAULT 'DISABLED',
    exported            BIGINT NOT NULL DEFAULT 0,
    in_use_by           TEXT NOT NULL DEFAULT '[]',
    renewal_status      TEXT NOT NULL DEFAULT '',
    renewal_reason      TEXT NOT NULL DEFAULT '',
    renewal_updated_at  BIGINT,
    failure_reason      TEXT NOT NULL DEFAULT '',
    certificate         BYTEA,
    chain               BYTEA,
    private_key         BYTEA,
    renew_at            BIGINT,
    expiry_event_at     BIGINT,
    version             BIGINT NOT NULL
);
-- Listing pages by creation time or expiry with keyset pagination.
CREATE INDEX acm_certificates_created ON acm_certificates (account_id, created_at, id);
CREATE INDEX acm_certificates_not_after ON acm_certificates (account_id, COALESCE(not_after, 0), id);
-- The scheduler's due dates: managed renewal, the next approaching-expiry
-- event, and expiry itself. Partial, so they hold only rows with work due.
CREATE INDEX acm_certificates_renew ON acm_certificates (renew_at) WHERE renew_at IS NOT NULL;
CREATE INDEX acm_certificates_expiry_event ON acm_certificates (expiry_event_at) WHERE expiry_event_at IS NOT NULL;
CREATE INDEX acm_certificates_expire ON acm_certificates (not_after) WHERE status = 'ISSUED';

-- Every DNS name, IP address, e-mail or URI a certificate covers, for
-- searching by name.
CREATE TABLE acm_certificate_names (
    cert_id TEXT NOT NULL REFERENCES acm_certificates (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (cert_id, kind, name)
);
CREATE INDEX acm_certificate_names_name ON acm_certificate_names (name);

-- Per-account service settings (for example ACM's DaysBeforeExpiry).
CREATE TABLE account_settings (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- The transactional outbox: events written in the transaction of the change
-- they describe; delivery marks them.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    source       TEXT NOT NULL,
    detail_type  TEXT NOT NULL,
    time         BIGINT NOT NULL,
    body         BYTEA NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX events_time ON events (time, id);
CREATE INDEX events_undelivered ON events (time, id) WHERE delivered_at IS NULL;
