-- OAuth 2.0 / OpenID Connect clients of Warden as a provider (front-door
-- contract, section 7).
--
-- oauth_client: one row per registered client. client_id is public (22
-- random base62 characters when generated, at most 64 of A-Z a-z 0-9 . _ -)
-- and case-sensitive, hence ascii_bin. The lists (redirect_uris,
-- post_logout_redirect_uris, grant_types, scopes) are JSON arrays of
-- strings, like user_account.roles: a redirect URI may hold a comma. At
-- most 20 URIs of at most 2000 ASCII characters, which JSON does not
-- escape, fit a TEXT. secret_hash is the hex SHA-256 of the confidential
-- client's `wcs_` secret (256 random bits: a fast hash suffices); public
-- clients have none, which the CHECK holds.
CREATE TABLE oauth_client (
    client_id                 VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name                      VARCHAR(255) NOT NULL,
    kind                      VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    redirect_uris             TEXT         NOT NULL,
    post_logout_redirect_uris TEXT         NOT NULL,
    grant_types               VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scopes                    TEXT         NOT NULL,
    first_party               BOOLEAN      NOT NULL,
    id_token_alg              VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret_hash               CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at                BIGINT       NOT NULL,
    updated_at                BIGINT       NOT NULL,
    secret_rotated_at         BIGINT       NULL,
    PRIMARY KEY (client_id),
    CONSTRAINT oauth_client_kind_check CHECK (kind IN ('public', 'confidential')),
    CONSTRAINT oauth_client_secret_check CHECK (
        (kind = 'public' AND secret_hash IS NULL)
        OR (kind = 'confidential' AND secret_hash IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
