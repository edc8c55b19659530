-- Identities and policies: IAM users and roles (principals), customer
-- managed policies and their attachments, and STS role sessions.

CREATE TABLE iam_principals (
    arn                  TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    kind                 TEXT NOT NULL,          -- user or role
    name                 TEXT NOT NULL,
    path                 TEXT NOT NULL,
    unique_id            TEXT NOT NULL UNIQUE,   -- AIDA... or AROA...
    trust_policy         TEXT NOT NULL DEFAULT '',
    max_session_seconds  BIGINT NOT NULL DEFAULT 3600,
    description          TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_principals_name ON iam_principals (account_id, kind, name);

CREATE TABLE iam_policies (
    arn         TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    path        TEXT NOT NULL,
    policy_id   TEXT NOT NULL UNIQUE,
    document    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX iam_policies_name ON iam_policies (account_id, name);

-- policy_arn may name an AWS managed policy (arn:aws:iam::aws:policy/...),
-- which lives in code, so there is no foreign key on it.
CREATE TABLE iam_attachments (
    principal_arn TEXT NOT NULL REFERENCES iam_principals (arn),
    policy_arn    TEXT NOT NULL,
    PRIMARY KEY (principal_arn, policy_arn)
);
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn);

-- Temporary credentials from sts:AssumeRole. The secret is sealed by the
-- master key; only a hash of the session token is kept.
CREATE TABLE iam_sessions (
    access_key_id  TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    role_arn       TEXT NOT NULL,
    session_name   TEXT NOT NULL,
    source_arn     TEXT NOT NULL,
    secret_sealed  BYTEA NOT NULL,
    token_hash     BYTEA NOT NULL,
    tags           TEXT NOT NULL DEFAULT '{}',
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX iam_sessions_expiry ON iam_sessions (expires_at);

CREATE INDEX access_keys_principal ON access_keys (principal_arn);

-- Administrators created before identities existed become users with the
-- AWS managed AdministratorAccess policy.
INSERT INTO iam_principals (arn, account_id, kind, name, path, unique_id, created_at)
    SELECT principal_arn, MIN(account_id), 'user', 'admin', '/', 'AIDA' || UPPER(SUBSTR(MIN(id), 5, 16)), MIN(created_at)
    FROM access_keys WHERE principal_arn LIKE 'arn:aws:iam::%:user/admin' GROUP BY principal_arn;
INSERT INTO iam_attachments (principal_arn, policy_arn)
    SELECT arn, 'arn:aws:iam::aws:policy/AdministratorAccess' FROM iam_principals;
