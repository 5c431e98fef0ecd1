-- OAuth 2.0 / OpenID Connect clients of Warden as a provider (front-door
-- contract, section 7).
--
-- oauth_client: one row per registered client. client_id is public (22
-- random base62 characters when generated). The lists (redirect_uris,
-- post_logout_redirect_uris, grant_types, scopes) are JSON arrays of
-- strings, like user_account.roles: a redirect URI may hold a comma.
-- secret_hash is the hex SHA-256 of the confidential client's `wcs_`
-- secret (256 random bits: a fast hash suffices); public clients have
-- none, which the CHECK holds.
CREATE TABLE oauth_client (
    client_id                 TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    kind                      TEXT    NOT NULL CHECK (kind IN ('public', 'confidential')),
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    grant_types               TEXT    NOT NULL,
    scopes                    TEXT    NOT NULL,
    first_party               INTEGER NOT NULL,
    id_token_alg              TEXT    NOT NULL,
    secret_hash               TEXT    NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    secret_rotated_at         INTEGER NULL,
    CHECK ((kind = 'public' AND secret_hash IS NULL)
        OR (kind = 'confidential' AND secret_hash IS NOT NULL))
);
