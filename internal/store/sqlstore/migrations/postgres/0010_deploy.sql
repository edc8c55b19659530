-- Certificate deployment: one-time enrolment tokens, the agents they
-- enrolled, custom install profiles, deployments (which certificate goes
-- to which agents, and how) and their targets, one row per agent of a
-- deployment. JSON columns (tags, selector, spec, paths) are NULL when
-- unset.
CREATE TABLE deploy_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    tags        BYTEA,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    used_at     BIGINT,
    used_by     TEXT NOT NULL
);
CREATE INDEX deploy_tokens_account ON deploy_tokens (account_id, created_at);
CREATE TABLE deploy_agents (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    tags           BYTEA,
    token_id       TEXT NOT NULL,
    cert_serial    TEXT NOT NULL,
    prev_serial    TEXT NOT NULL,
    cert_not_after BIGINT,
    agent_version  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT,
    row_version    BIGINT NOT NULL
);
CREATE INDEX deploy_agents_account ON deploy_agents (account_id, id);
CREATE TABLE deploy_profiles (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    spec       BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    arn         TEXT NOT NULL,
    source_arn  TEXT NOT NULL,
    selector    BYTEA,
    profile     TEXT NOT NULL,
    spec        BYTEA,
    passphrase  TEXT NOT NULL,
    version     TEXT NOT NULL,
    serial      TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    row_version BIGINT NOT NULL,
    target_account TEXT NOT NULL DEFAULT '',
    last_error  TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, name)
);
CREATE INDEX deployments_source ON deployments (source_arn);
CREATE TABLE deploy_targets (
    deployment_id TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    version       TEXT NOT NULL,
    serial        TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    message       TEXT NOT NULL,
    lease_until   BIGINT,
    installed     TEXT NOT NULL,
    installed_at  BIGINT,
    paths         BYTEA,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, agent_id)
);
CREATE INDEX deploy_targets_agent ON deploy_targets (agent_id, deployment_id);
