-- The account over e-mail (front-door contract, section 3).
--
-- email_verified: whether the person proved they read the address (a
-- verification, reset or e-mail change link was followed). Accounts that
-- exist before this migration never did: false.
--
-- link_token: mailed link tokens (`wml_`), stored only as the SHA-256 hash
-- of the token. `email` is the address the link was mailed to (the new
-- address for an e-mail change). Single use: `used_at` is set by a
-- conditional update when the link is followed or voided.
--
-- send_throttle: how often links were mailed per key (a hash of the address
-- or of the account and purpose), so the limits hold across instances and
-- apply whether or not an address has an account.
ALTER TABLE user_account ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE link_token (
    token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    purpose    VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email      VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    used_at    BIGINT       NULL,
    PRIMARY KEY (token_hash),
    KEY link_token_user_id_idx (user_id, purpose),
    KEY link_token_expires_at_idx (expires_at),
    CONSTRAINT link_token_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE,
    CONSTRAINT link_token_purpose_check
        CHECK (purpose IN ('verify_email', 'password_reset', 'email_change'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE send_throttle (
    throttle_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    last_at      BIGINT      NOT NULL,
    window_start BIGINT      NOT NULL,
    window_count BIGINT      NOT NULL,
    PRIMARY KEY (throttle_key),
    KEY send_throttle_last_at_idx (last_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
