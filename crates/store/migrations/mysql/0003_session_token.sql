-- Session-token mode (tokens.access = "session"): opaque `wst_` access
-- tokens, kept only as SHA-256 hashes and checked on every use. They die
-- with their session (ON DELETE CASCADE) and are pruned after expires_at.

CREATE TABLE session_token (
    token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    session_id VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    PRIMARY KEY (token_hash),
    KEY session_token_session_id_idx (session_id),
    KEY session_token_expires_at_idx (expires_at),
    CONSTRAINT session_token_session_id_fk FOREIGN KEY (session_id)
        REFERENCES session (session_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
