-- Warden schema for MySQL 8 / MariaDB 10.6+ (InnoDB, utf8mb4).
-- MySQL DDL is not transactional: this file is plain CREATE TABLE / CREATE
-- INDEX statements (and one seed row) so a failed run is easy to clean up.
--
-- Ids are canonical (lower-case, hyphenated) UUID strings: UUIDv7 strings sort
-- by creation time, which keyset paging relies on. Ids, token hashes and kids
-- are case-sensitive: they use `ascii_bin` (kids are base64url, `abc` and
-- `ABC` are different keys). Timestamps are BIGINT Unix milliseconds so
-- ordering and comparisons are exact. E-mails are stored lower-cased.
-- `until` is a reserved word in MySQL, hence `valid_until`.

CREATE TABLE user_account (
    user_id       VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email         VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    username      TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    password_hash TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    roles         TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    status        VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at    BIGINT       NOT NULL,
    PRIMARY KEY (user_id),
    UNIQUE KEY user_account_email_key (email),
    CONSTRAINT user_account_status_check CHECK (status IN ('active', 'banned'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE session (
    session_id   VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at   BIGINT      NOT NULL,
    last_used_at BIGINT      NOT NULL,
    expires_at   BIGINT      NOT NULL,
    revoked_at   BIGINT      NULL,
    user_agent   TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ip           TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (session_id),
    KEY session_user_id_idx (user_id),
    CONSTRAINT session_user_id_fk FOREIGN KEY (user_id)
        REFERENCES user_account (user_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_token (
    token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    session_id VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at BIGINT       NOT NULL,
    used_at    BIGINT       NULL,
    PRIMARY KEY (token_hash),
    KEY refresh_token_session_id_idx (session_id),
    CONSTRAINT refresh_token_session_id_fk FOREIGN KEY (session_id)
        REFERENCES session (session_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE login_throttle (
    throttle_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    failures     BIGINT       NOT NULL DEFAULT 0,
    locked_until BIGINT       NULL,
    PRIMARY KEY (throttle_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE signing_key (
    kid                    VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    algorithm              VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    private_key_nonce      VARBINARY(32) NOT NULL,
    private_key_ciphertext BLOB          NOT NULL,
    created_at             BIGINT        NOT NULL,
    retired_at             BIGINT        NULL,
    PRIMARY KEY (kid)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE revocation (
    revocation_id BIGINT      NOT NULL AUTO_INCREMENT,
    kind          VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject_id    VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    not_before    BIGINT      NULL,
    valid_until   BIGINT      NOT NULL,
    PRIMARY KEY (revocation_id),
    KEY revocation_valid_until_idx (valid_until),
    KEY revocation_subject_idx (subject_id, kind),
    CONSTRAINT revocation_kind_check CHECK (kind IN ('session', 'user'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE audit_entry (
    audit_id   VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    at         BIGINT      NOT NULL,
    actor      VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    action     TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    target     VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ip         TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    user_agent TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    outcome    TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    detail     TEXT        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (audit_id),
    KEY audit_entry_actor_idx (actor, audit_id),
    KEY audit_entry_target_idx (target, audit_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE outbox (
    outbox_seq   BIGINT       NOT NULL AUTO_INCREMENT,
    event_id     VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    data         LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    at           BIGINT       NOT NULL,
    published_at BIGINT       NULL,
    PRIMARY KEY (outbox_seq),
    UNIQUE KEY outbox_event_id_key (event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row that every transaction writing outbox events locks (FOR UPDATE)
-- just before inserting them: AUTO_INCREMENT values are handed out at insert
-- time, not at commit, so without it a reader could see sequence 11 before
-- the transaction holding 10 commits and skip 10 for good. With it, sequence
-- order is commit order.
CREATE TABLE outbox_lock (
    outbox_lock_id TINYINT NOT NULL,
    PRIMARY KEY (outbox_lock_id)
) ENGINE = InnoDB;

INSERT INTO outbox_lock (outbox_lock_id) VALUES (1);
