-- Session-token mode (tokens.access = "session"): opaque `wst_` access
-- tokens, kept only as SHA-256 hashes and checked on every use. They die
-- with their session (ON DELETE CASCADE) and are pruned after expires_at.

CREATE TABLE session_token (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES session (session_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX session_token_session_id_idx ON session_token (session_id);
CREATE INDEX session_token_expires_at_idx ON session_token (expires_at);
