-- Who may use a CA besides its own account's identities (Private CA's
-- PutPolicy and CreatePermission).
CREATE TABLE ca_policies (
    ca_id      TEXT PRIMARY KEY REFERENCES certificate_authorities (id) ON DELETE CASCADE,
    policy     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The accounts a CA's policy names, so that each lists the CA with
-- ListCertificateAuthorities --resource-owner OTHER_ACCOUNTS.
CREATE TABLE ca_policy_grantees (
    account_id TEXT NOT NULL,
    ca_id      TEXT NOT NULL REFERENCES certificate_authorities (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, ca_id)
);
CREATE INDEX ca_policy_grantees_ca ON ca_policy_grantees (ca_id);
-- Permissions for service principals (acm.amazonaws.com).
CREATE TABLE ca_permissions (
    ca_id          TEXT NOT NULL REFERENCES certificate_authorities (id) ON DELETE CASCADE,
    principal      TEXT NOT NULL,
    source_account TEXT NOT NULL,
    actions        TEXT NOT NULL, -- comma-separated ActionType values
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (ca_id, principal)
);
