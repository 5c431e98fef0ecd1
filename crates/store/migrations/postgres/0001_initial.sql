-- Warden schema for PostgreSQL. Same tables, columns and meaning as the
-- SQLite schema.
-- Ids are canonical (lower-case, hyphenated) UUID strings: UUIDv7 strings sort
-- by creation time, which keyset paging relies on. Id columns use the "C"
-- collation so comparison and ordering are bytewise (exactly the order of the
-- UUIDs) whatever the database's default collation is. Timestamps are BIGINT
-- Unix milliseconds so ordering and comparisons are exact. JSON (roles, event
-- data) is stored as text exactly as serialised.

CREATE TABLE user_account (
    user_id       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    email         TEXT             NOT NULL UNIQUE,
    username      TEXT             NULL,
    password_hash TEXT             NOT NULL,
    roles         TEXT             NOT NULL DEFAULT '[]',
    status        TEXT             NOT NULL CHECK (status IN ('active', 'banned')),
    created_at    BIGINT           NOT NULL
);

CREATE TABLE session (
    session_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    created_at   BIGINT           NOT NULL,
    last_used_at BIGINT           NOT NULL,
    expires_at   BIGINT           NOT NULL,
    revoked_at   BIGINT           NULL,
    user_agent   TEXT             NULL,
    ip           TEXT             NULL
);

CREATE INDEX session_user_id_idx ON session (user_id);

CREATE TABLE refresh_token (
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES session (session_id) ON DELETE CASCADE,
    created_at BIGINT           NOT NULL,
    used_at    BIGINT           NULL
);

CREATE INDEX refresh_token_session_id_idx ON refresh_token (session_id);

CREATE TABLE login_throttle (
    throttle_key TEXT   NOT NULL PRIMARY KEY,
    failures     BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until BIGINT NULL
);

CREATE TABLE signing_key (
    kid                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm              TEXT             NOT NULL,
    private_key_nonce      BYTEA            NOT NULL,
    private_key_ciphertext BYTEA            NOT NULL,
    created_at             BIGINT           NOT NULL,
    retired_at             BIGINT           NULL
);

CREATE TABLE revocation (
    revocation_id BIGSERIAL        PRIMARY KEY,
    kind          TEXT             NOT NULL CHECK (kind IN ('session', 'user')),
    subject_id    TEXT COLLATE "C" NOT NULL,
    not_before    BIGINT           NULL,
    until         BIGINT           NOT NULL
);

CREATE INDEX revocation_until_idx ON revocation (until);

CREATE TABLE audit_entry (
    audit_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at         BIGINT           NOT NULL,
    actor      TEXT COLLATE "C" NULL,
    action     TEXT             NOT NULL,
    target     TEXT COLLATE "C" NULL,
    ip         TEXT             NULL,
    user_agent TEXT             NULL,
    outcome    TEXT             NOT NULL,
    detail     TEXT             NULL
);

CREATE INDEX audit_entry_actor_idx ON audit_entry (actor, audit_id);
CREATE INDEX audit_entry_target_idx ON audit_entry (target, audit_id);

-- Sequence numbers follow commit order: writers serialise the append on a
-- transaction-level advisory lock (see the adapter), so a reader paging with
-- `outbox_seq > last_seen` never skips an event committed late.
CREATE TABLE outbox (
    outbox_seq   BIGSERIAL        PRIMARY KEY,
    event_id     TEXT COLLATE "C" NOT NULL UNIQUE,
    name         TEXT             NOT NULL,
    data         TEXT             NOT NULL,
    at           BIGINT           NOT NULL,
    published_at BIGINT           NULL
);
