-- Revocation: certificate revocation state, CRLs (complete or partitioned),
-- delegated OCSP responders, audit reports.

ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;
ALTER TABLE certificates ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT '';
-- The CRL partition the certificate's CRL distribution point names (0: the
-- CA's complete CRL).
ALTER TABLE certificates ADD COLUMN crl_partition INTEGER NOT NULL DEFAULT 0;

-- Building a CRL reads only the revoked certificates of one partition, from
-- this index alone (it covers every column the CRL needs).
CREATE INDEX certificates_revoked ON certificates (ca_id, crl_partition, serial, not_after, revoked_at, revocation_reason)
    WHERE revoked_at IS NOT NULL;

-- The CRLs of each (CA, partition), in two tables. crls schedules: pending
-- counts revocations not yet in the published CRL; the CRL job regenerates
-- rows that have some, or whose CRL is halfway to its nextUpdate. crl_files
-- holds the published CRL. They are apart because a revocation updates its
-- crls row, and rewriting a row that held the DER (megabytes for a large
-- CRL) would make every revocation cost as much as the CRL is large.
CREATE TABLE crls (
    ca_id       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    refresh_at  INTEGER NOT NULL,
    pending     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ca_id, partition)
);
CREATE INDEX crls_due ON crls (refresh_at);

CREATE TABLE crl_files (
    ca_id       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    number      INTEGER NOT NULL,
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL,
    der         BLOB NOT NULL,
    PRIMARY KEY (ca_id, partition)
);

-- Per-CA counters handed out in blocks: certificate sequence numbers (which
-- decide CRL partitions) and CRL numbers.
CREATE TABLE ca_sequences (
    ca_id       TEXT NOT NULL,
    name        TEXT NOT NULL,
    next        INTEGER NOT NULL,
    PRIMARY KEY (ca_id, name)
);

-- Delegated OCSP responders: a key and a certificate with the OCSPSigning
-- extended key usage, issued by the CA.
CREATE TABLE ocsp_responders (
    ca_id       TEXT PRIMARY KEY,
    key_ref     BLOB NOT NULL,
    certificate BLOB NOT NULL,
    not_after   INTEGER NOT NULL
);

CREATE TABLE audit_reports (
    id          TEXT PRIMARY KEY,
    ca_id       TEXT NOT NULL,
    status      TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    format      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_reports_ca ON audit_reports (ca_id, status);
