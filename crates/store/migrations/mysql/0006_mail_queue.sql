-- The mail queue (front-door contract, section 2): mail is written here in
-- the same transaction as the change that causes it and delivered later by
-- the one mail worker holding the `mail` lease. Template values (which may
-- hold a secret link) are AES-256-GCM sealed under the key-encryption key
-- and set to NULL once the message is sent or given up. `user_id` has no
-- foreign key: deleting an account must not take its notice with it.
-- MySQL has no partial indexes: the due index leads with the two columns
-- that are NULL while a message waits.
CREATE TABLE mail_queue (
    mail_id           VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind              VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    recipient         VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_id           VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    values_nonce      VARBINARY(12) NULL,
    values_ciphertext BLOB          NULL,
    created_at        BIGINT       NOT NULL,
    attempts          BIGINT       NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT       NOT NULL,
    sent_at           BIGINT       NULL,
    failed_at         BIGINT       NULL,
    last_error        TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (mail_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE INDEX mail_queue_due_idx ON mail_queue (sent_at, failed_at, next_attempt_at, created_at);
CREATE INDEX mail_queue_created_at_idx ON mail_queue (created_at);

-- The mail worker's lease: a second row of the relay's lease table.
INSERT INTO relay_lease (lease_name, holder, expires_at) VALUES ('mail', '', 0);
