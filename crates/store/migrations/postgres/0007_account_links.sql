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
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    purpose    TEXT             NOT NULL
        CHECK (purpose IN ('verify_email', 'password_reset', 'email_change')),
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE,
    email      TEXT             NOT NULL,
    created_at BIGINT           NOT NULL,
    expires_at BIGINT           NOT NULL,
    used_at    BIGINT           NULL
);

CREATE INDEX link_token_user_id_idx ON link_token (user_id, purpose);
CREATE INDEX link_token_expires_at_idx ON link_token (expires_at);

CREATE TABLE send_throttle (
    throttle_key TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    last_at      BIGINT           NOT NULL,
    window_start BIGINT           NOT NULL,
    window_count BIGINT           NOT NULL
);

CREATE INDEX send_throttle_last_at_idx ON send_throttle (last_at);
