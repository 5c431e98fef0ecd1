-- link_token.user_id loses its foreign key, so that `POST /v1/password/forgot`
-- for an unknown address can store a placeholder link row exactly as it
-- stores a real one for a known address: the same rows and index entries on
-- both paths, so the answer's timing does not tell a stranger whether an
-- address has an account (front-door contract, section 3; decision 0021).
-- A placeholder names a fresh user id no account has: it is never mailed,
-- never usable (following a link needs its account) and is pruned when it
-- expires, like any link. Links of a deleted account are deleted by
-- delete_user, in its transaction, instead of by ON DELETE CASCADE.
ALTER TABLE link_token DROP CONSTRAINT link_token_user_id_fkey;
