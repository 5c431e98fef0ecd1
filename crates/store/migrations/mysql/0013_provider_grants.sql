-- Grants of Warden as an OpenID provider (front-door contract, section 7).
--
-- session.client_id / scope: the OAuth client a session was opened for by
-- the authorization-code grant, and the scopes granted to it; NULL for
-- Warden's own sign-ins. No foreign key to oauth_client: a deleted
-- client's sessions stay until they are revoked, which needs their
-- client_id (hence the index).
--
-- oauth_authorization_code: the `woc_` codes of the authorization
-- endpoint, stored only as the SHA-256 hash, alive for a minute and
-- single use. used_at and issued_session_id are set together by the one
-- exchange that wins; a replay finds the session it opened, to revoke it
-- (RFC 6749 section 4.1.2). issued_session_id is written before that
-- session exists, hence no foreign key. amr / auth_time say how the user
-- authenticated, as in session. Used codes stay until housekeeping
-- deletes them, so a late replay is still recognised as one. The
-- redirect_uri is kept exactly as the request sent it (TEXT, like
-- oauth_client's lists); the nonce is the client's, of any length.
--
-- oauth_consent: the scopes a person agreed to give a client (sorted,
-- space-separated), one row per user and client, replaced on each consent.
ALTER TABLE session ADD COLUMN client_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;
ALTER TABLE session ADD COLUMN scope TEXT NULL;

CREATE INDEX session_client_id_idx ON session (client_id);

CREATE TABLE oauth_authorization_code (
    code_hash          VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_id          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id            VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    browser_session_id VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    redirect_uri       TEXT         NOT NULL,
    scope              TEXT         NOT NULL,
    nonce              TEXT         NULL,
    code_challenge     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
    amr                VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    auth_time          BIGINT       NOT NULL,
    created_at         BIGINT       NOT NULL,
    expires_at         BIGINT       NOT NULL,
    used_at            BIGINT       NULL,
    issued_session_id  VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (code_hash),
    KEY oauth_authorization_code_expires_at_idx (expires_at),
    CONSTRAINT oauth_authorization_code_client_id_fk FOREIGN KEY (client_id)
        REFERENCES oauth_client (client_id) ON DELETE CASCADE,
    CONSTRAINT oauth_authorization_code_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE oauth_consent (
    user_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope      TEXT        NOT NULL,
    granted_at BIGINT      NOT NULL,
    PRIMARY KEY (user_id, client_id),
    KEY oauth_consent_client_id_idx (client_id),
    CONSTRAINT oauth_consent_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE,
    CONSTRAINT oauth_consent_client_id_fk FOREIGN KEY (client_id)
        REFERENCES oauth_client (client_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
