-- Social sign-in (front-door contract, section 4).
--
-- has_password: accounts made by social sign-in have no password
-- (`has_password: false`); their password_hash is the empty string, which
-- no password verifies against. Accounts that exist before this migration
-- all signed up with one.
--
-- user_identity: an account's identities at OAuth2/OIDC providers, keyed by
-- (provider id, issuer, subject), never by e-mail. `email` is the address
-- the provider last asserted, for display only.
--
-- oauth_exchange_code: the `wxc_` codes a social sign-in hands an SPA or a
-- mobile app (instead of cookies), stored only as the SHA-256 hash, single
-- use, bound to the app's PKCE challenge, alive for a minute.
ALTER TABLE user_account ADD COLUMN has_password INTEGER NOT NULL DEFAULT 1;

CREATE TABLE user_identity (
    identity_id  TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    provider     TEXT    NOT NULL,
    issuer       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    email        TEXT    NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    UNIQUE (provider, issuer, subject)
);

CREATE INDEX user_identity_user_id_idx ON user_identity (user_id);

CREATE TABLE oauth_exchange_code (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    provider       TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER NULL
);

CREATE INDEX oauth_exchange_code_expires_at_idx ON oauth_exchange_code (expires_at);
