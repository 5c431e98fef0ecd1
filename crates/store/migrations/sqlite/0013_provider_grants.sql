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
-- deletes them, so a late replay is still recognised as one.
--
-- oauth_consent: the scopes a person agreed to give a client (sorted,
-- space-separated), one row per user and client, replaced on each consent.
ALTER TABLE session ADD COLUMN client_id TEXT NULL;
ALTER TABLE session ADD COLUMN scope TEXT NULL;

CREATE INDEX session_client_id_idx ON session (client_id);

CREATE TABLE oauth_authorization_code (
    code_hash          TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL REFERENCES oauth_client (client_id) ON DELETE CASCADE,
    user_id            TEXT    NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    browser_session_id TEXT    NOT NULL,
    redirect_uri       TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    nonce              TEXT    NULL,
    code_challenge     TEXT    NULL,
    amr                TEXT    NOT NULL,
    auth_time          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER NULL,
    issued_session_id  TEXT    NULL
);

CREATE INDEX oauth_authorization_code_expires_at_idx ON oauth_authorization_code (expires_at);

CREATE TABLE oauth_consent (
    user_id    TEXT    NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oauth_client (client_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX oauth_consent_client_id_idx ON oauth_consent (client_id);
