-- The UTS #39 confusable skeleton of each address (SHA-256, hex), unique so
-- that two accounts cannot have addresses that render alike
-- (docs/decisions/0015-email-identity.md). Nullable: the skeleton needs Rust
-- code, so the server fills it in for existing rows when it starts
-- (Store::backfill_email_skeletons). A unique index allows many NULLs.
ALTER TABLE user_account
    ADD COLUMN email_skeleton VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD UNIQUE KEY user_account_email_skeleton_key (email_skeleton);
