-- Passkeys (front-door contract, section 5).
--
-- user_passkey: one row per WebAuthn credential. credential_id is the
-- authenticator's id (base64url), unique across accounts: a discoverable
-- sign-in finds the account by it. credential is webauthn-rs's Passkey
-- (public key, counter, backup flags) as JSON: no secret, the private key
-- never leaves the authenticator.
--
-- webauthn_challenge: the server-side half of a ceremony in flight
-- (registration, password-less sign-in, second step), taken once.
CREATE TABLE user_passkey (
    passkey_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    credential_id TEXT COLLATE "C" NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    credential    TEXT    NOT NULL,
    synced        BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT  NULL
);

CREATE INDEX user_passkey_user_id_idx ON user_passkey (user_id);

CREATE TABLE webauthn_challenge (
    challenge_key TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id       TEXT COLLATE "C" NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    state         TEXT   NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE INDEX webauthn_challenge_expires_at_idx ON webauthn_challenge (expires_at);
