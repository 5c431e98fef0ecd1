-- Warden schema for SQLite.
-- Ids are canonical (lower-case, hyphenated) UUID strings: UUIDv7 strings sort
-- by creation time, which keyset paging relies on. Timestamps are INTEGER Unix
-- milliseconds so ordering and comparisons are exact.

CREATE TABLE user_account (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    username      TEXT    NULL,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL DEFAULT '[]',
    status        TEXT    NOT NULL CHECK (status IN ('active', 'banned')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE session (
    session_id   TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER NULL,
    user_agent   TEXT    NULL,
    ip           TEXT    NULL
);

CREATE INDEX session_user_id_idx ON session (user_id);

CREATE TABLE refresh_token (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES session (session_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER NULL
);

CREATE INDEX refresh_token_session_id_idx ON refresh_token (session_id);

CREATE TABLE login_throttle (
    throttle_key TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NULL
);

CREATE TABLE signing_key (
    kid                    TEXT    NOT NULL PRIMARY KEY,
    algorithm              TEXT    NOT NULL,
    private_key_nonce      BLOB    NOT NULL,
    private_key_ciphertext BLOB    NOT NULL,
    created_at             INTEGER NOT NULL,
    retired_at             INTEGER NULL
);

CREATE TABLE revocation (
    revocation_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('session', 'user')),
    subject_id    TEXT    NOT NULL,
    not_before    INTEGER NULL,
    until         INTEGER NOT NULL
);

CREATE INDEX revocation_until_idx ON revocation (until);

CREATE TABLE audit_entry (
    audit_id   TEXT    NOT NULL PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NULL,
    ip         TEXT    NULL,
    user_agent TEXT    NULL,
    outcome    TEXT    NOT NULL,
    detail     TEXT    NULL
);

CREATE INDEX audit_entry_actor_idx ON audit_entry (actor, audit_id);
CREATE INDEX audit_entry_target_idx ON audit_entry (target, audit_id);

CREATE TABLE outbox (
    outbox_seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    published_at INTEGER NULL
);
