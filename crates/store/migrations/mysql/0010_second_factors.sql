-- Second factors (front-door contract, section 5).
--
-- session.amr / auth_time: how the session's holder authenticated (RFC 8176
-- values, comma-separated) and when, so a refreshed token carries the same
-- `amr`, `acr` and `auth_time` as the first. Sessions from before this
-- migration all began with a password (or a provider, which they cannot
-- tell apart any more: `pwd` is the conservative reading) at creation.
--
-- user_totp: one TOTP secret per account, AES-256-GCM-sealed under the
-- key-encryption key (bound to the user id), pending until a first code
-- confirms it. last_step is the last time step a code was accepted for: a
-- code is good once.
--
-- user_recovery_code: ten single-use codes per account, stored as the
-- SHA-256 of codes with 80 bits of entropy, so a leak of the table does not
-- reveal them.
--
-- mfa_challenge: the `wmf_` tokens of sign-ins waiting for their second
-- factor, stored hashed; five wrong codes or one use void one.
ALTER TABLE session ADD COLUMN amr VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pwd';
ALTER TABLE session ADD COLUMN auth_time BIGINT NULL;

CREATE TABLE user_totp (
    user_id           VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret_nonce      VARBINARY(32) NOT NULL,
    secret_ciphertext BLOB          NOT NULL,
    created_at        BIGINT        NOT NULL,
    confirmed_at      BIGINT        NULL,
    last_step         BIGINT        NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT user_totp_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE user_recovery_code (
    user_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    code_hash  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at BIGINT      NOT NULL,
    used_at    BIGINT      NULL,
    PRIMARY KEY (user_id, code_hash),
    CONSTRAINT user_recovery_code_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE mfa_challenge (
    token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    amr        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    failures   INT          NOT NULL DEFAULT 0,
    used_at    BIGINT       NULL,
    PRIMARY KEY (token_hash),
    KEY mfa_challenge_expires_at_idx (expires_at),
    CONSTRAINT mfa_challenge_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
