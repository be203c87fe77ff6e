//! The tables, as SQL: created on first connection (and by every node that starts:
//! every statement is idempotent), brought up to date in place.

pub(super) const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS latchkey_meta (
    name TEXT PRIMARY KEY,
    num BIGINT NOT NULL DEFAULT 0,
    bytes BYTEA
);
CREATE TABLE IF NOT EXISTS latchkey_users (
    id TEXT PRIMARY KEY,
    num BIGINT NOT NULL UNIQUE,
    email_key TEXT UNIQUE,
    name_key TEXT UNIQUE,
    skeleton TEXT UNIQUE,
    has_mfa BOOLEAN NOT NULL,
    record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS latchkey_families (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    record BYTEA NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS latchkey_families_user ON latchkey_families (user_id);
ALTER TABLE latchkey_families ADD COLUMN IF NOT EXISTS expires_hour BIGINT;
UPDATE latchkey_families SET expires_hour = expires_at - expires_at % 3600000
    WHERE expires_hour IS NULL;
CREATE INDEX IF NOT EXISTS latchkey_families_expires_hour
    ON latchkey_families (expires_hour);
DROP INDEX IF EXISTS latchkey_families_expiry;
CREATE TABLE IF NOT EXISTS latchkey_refresh (
    hash BYTEA PRIMARY KEY,
    family_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    record BYTEA NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS latchkey_refresh_family ON latchkey_refresh (family_id);
DROP INDEX IF EXISTS latchkey_refresh_issued;
ALTER TABLE latchkey_refresh ADD COLUMN IF NOT EXISTS spent_at BIGINT;
DROP INDEX IF EXISTS latchkey_refresh_spent;
CREATE INDEX IF NOT EXISTS latchkey_refresh_spent_at ON latchkey_refresh (spent_at)
    WHERE spent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS latchkey_keys (
    kid TEXT PRIMARY KEY,
    record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS latchkey_session_codes (
    hash BYTEA PRIMARY KEY,
    email_key TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS latchkey_session_codes_email ON latchkey_session_codes (email_key);
CREATE INDEX IF NOT EXISTS latchkey_session_codes_expiry ON latchkey_session_codes (expires_at);
CREATE TABLE IF NOT EXISTS latchkey_proofs (
    key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS latchkey_mfa_pending (
    hash BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS latchkey_grants (
    hash BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS latchkey_grants_expiry ON latchkey_grants (expires_at);
CREATE TABLE IF NOT EXISTS latchkey_passkeys (
    id BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS latchkey_passkeys_user ON latchkey_passkeys (user_id);
CREATE TABLE IF NOT EXISTS latchkey_rows (
    tbl TEXT NOT NULL,
    key BYTEA NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE IF NOT EXISTS latchkey_row_index (
    idx TEXT NOT NULL,
    entry BYTEA NOT NULL,
    key BYTEA NOT NULL,
    PRIMARY KEY (idx, entry, key)
);
CREATE TABLE IF NOT EXISTS latchkey_row_unique (
    idx TEXT NOT NULL,
    entry BYTEA NOT NULL,
    key BYTEA NOT NULL,
    PRIMARY KEY (idx, entry)
);
CREATE TABLE IF NOT EXISTS latchkey_row_due (
    tbl TEXT NOT NULL,
    at BIGINT NOT NULL,
    key BYTEA NOT NULL,
    PRIMARY KEY (tbl, at, key)
);
CREATE TABLE IF NOT EXISTS latchkey_counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS latchkey_attempts (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    source BYTEA NOT NULL,
    at BIGINT NOT NULL,
    failed BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS latchkey_attempts_pair ON latchkey_attempts (account, source);
CREATE INDEX IF NOT EXISTS latchkey_attempts_at ON latchkey_attempts (at);
CREATE TABLE IF NOT EXISTS latchkey_locks (
    account TEXT NOT NULL,
    source BYTEA NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (account, source)
);
CREATE TABLE IF NOT EXISTS latchkey_known (
    account TEXT NOT NULL,
    source BYTEA NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (account, source)
);
";
