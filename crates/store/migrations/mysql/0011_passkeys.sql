-- Passkeys (front-door contract, section 5).
--
-- user_passkey: one row per WebAuthn credential. credential_id is the
-- authenticator's id (base64url, at most 1023 bytes encoded), unique across
-- accounts: a discoverable sign-in finds the account by it. credential is
-- webauthn-rs's Passkey (public key, counter, backup flags) as JSON: no
-- secret, the private key never leaves the authenticator.
--
-- webauthn_challenge: the server-side half of a ceremony in flight
-- (registration, password-less sign-in, second step), taken once.
CREATE TABLE user_passkey (
    passkey_id    VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       VARCHAR(36)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    credential_id VARCHAR(1366) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name          VARCHAR(255)  NOT NULL,
    credential    TEXT          NOT NULL,
    synced        BOOLEAN       NOT NULL,
    created_at    BIGINT        NOT NULL,
    last_used_at  BIGINT        NULL,
    PRIMARY KEY (passkey_id),
    UNIQUE KEY user_passkey_credential_id (credential_id),
    KEY user_passkey_user_id_idx (user_id),
    CONSTRAINT user_passkey_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE webauthn_challenge (
    challenge_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    state         MEDIUMTEXT   NOT NULL,
    expires_at    BIGINT       NOT NULL,
    PRIMARY KEY (challenge_key),
    KEY webauthn_challenge_expires_at_idx (expires_at),
    CONSTRAINT webauthn_challenge_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
