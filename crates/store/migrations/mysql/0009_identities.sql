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
ALTER TABLE user_account ADD COLUMN has_password BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE user_identity (
    identity_id  VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id      VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider     VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    issuer       VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email        VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    created_at   BIGINT       NOT NULL,
    last_used_at BIGINT       NOT NULL,
    PRIMARY KEY (identity_id),
    UNIQUE KEY user_identity_key (provider, issuer, subject),
    KEY user_identity_user_id_idx (user_id),
    CONSTRAINT user_identity_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE oauth_exchange_code (
    code_hash      VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id        VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider       VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    code_challenge VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at     BIGINT       NOT NULL,
    expires_at     BIGINT       NOT NULL,
    used_at        BIGINT       NULL,
    PRIMARY KEY (code_hash),
    KEY oauth_exchange_code_expires_at_idx (expires_at),
    CONSTRAINT oauth_exchange_code_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
