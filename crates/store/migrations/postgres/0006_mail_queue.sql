-- The mail queue (front-door contract, section 2): mail is written here in
-- the same transaction as the change that causes it and delivered later by
-- the one mail worker holding the `mail` lease. Template values (which may
-- hold a secret link) are AES-256-GCM sealed under the key-encryption key
-- and set to NULL once the message is sent or given up. `user_id` has no
-- foreign key: deleting an account must not take its notice with it.
CREATE TABLE mail_queue (
    mail_id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind              TEXT COLLATE "C" NOT NULL,
    recipient         TEXT             NOT NULL,
    user_id           TEXT COLLATE "C" NULL,
    values_nonce      BYTEA            NULL,
    values_ciphertext BYTEA            NULL,
    created_at        BIGINT           NOT NULL,
    attempts          BIGINT           NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT           NOT NULL,
    sent_at           BIGINT           NULL,
    failed_at         BIGINT           NULL,
    last_error        TEXT             NULL
);

CREATE INDEX mail_queue_due_idx ON mail_queue (next_attempt_at, created_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_queue_created_at_idx ON mail_queue (created_at);

-- The mail worker's lease: a second row of the relay's lease table.
INSERT INTO relay_lease (lease_name, holder, expires_at) VALUES ('mail', '', 0);
