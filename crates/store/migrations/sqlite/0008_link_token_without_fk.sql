-- link_token.user_id loses its foreign key, so that `POST /v1/password/forgot`
-- for an unknown address can store a placeholder link row exactly as it
-- stores a real one for a known address: the same rows and index entries on
-- both paths, so the answer's timing does not tell a stranger whether an
-- address has an account (front-door contract, section 3; decision 0021).
-- A placeholder names a fresh user id no account has: it is never mailed,
-- never usable (following a link needs its account) and is pruned when it
-- expires, like any link. Links of a deleted account are deleted by
-- delete_user, in its transaction, instead of by ON DELETE CASCADE.
--
-- SQLite cannot drop a constraint: the table is rebuilt.
CREATE TABLE link_token_new (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL
        CHECK (purpose IN ('verify_email', 'password_reset', 'email_change')),
    user_id    TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL
);

INSERT INTO link_token_new (token_hash, purpose, user_id, email, created_at, expires_at, used_at)
    SELECT token_hash, purpose, user_id, email, created_at, expires_at, used_at FROM link_token;

DROP TABLE link_token;

ALTER TABLE link_token_new RENAME TO link_token;

CREATE INDEX link_token_user_id_idx ON link_token (user_id, purpose);
CREATE INDEX link_token_expires_at_idx ON link_token (expires_at);
