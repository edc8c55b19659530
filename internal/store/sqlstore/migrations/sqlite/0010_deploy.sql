-- Certificate deployment: one-time enrolment tokens, the agents they
-- enrolled, custom install profiles, deployments (which certificate goes
-- to which agents, and how) and their targets, one row per agent of a
-- deployment. JSON columns (tags, selector, spec, paths) are NULL when
-- unset.
CREATE TABLE deploy_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    hash        BLOB NOT NULL,
    tags        BLOB,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    used_at     INTEGER,
    used_by     TEXT NOT NULL
);
CREATE INDEX deploy_tokens_account ON deploy_tokens (account_id, created_at);
CREATE TABLE deploy_agents (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    tags           BLOB,
    token_id       TEXT NOT NULL,
    cert_serial    TEXT NOT NULL,
    prev_serial    TEXT NOT NULL,
    cert_not_after INTEGER,
    agent_version  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER,
    row_version    INTEGER NOT NULL
);
CREATE INDEX deploy_agents_account ON deploy_agents (account_id, id);
CREATE TABLE deploy_profiles (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    spec       BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    arn         TEXT NOT NULL,
    source_arn  TEXT NOT NULL,
    selector    BLOB,
    profile     TEXT NOT NULL,
    spec        BLOB,
    passphrase  TEXT NOT NULL,
    version     TEXT NOT NULL,
    serial      TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    row_version INTEGER NOT NULL,
    target_account TEXT NOT NULL DEFAULT '',
    last_error  TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, name)
);
CREATE INDEX deployments_source ON deployments (source_arn);
CREATE TABLE deploy_targets (
    deployment_id TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    version       TEXT NOT NULL,
    serial        TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    message       TEXT NOT NULL,
    lease_until   INTEGER,
    installed     TEXT NOT NULL,
    installed_at  INTEGER,
    paths         BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, agent_id)
);
CREATE INDEX deploy_targets_agent ON deploy_targets (agent_id, deployment_id);
