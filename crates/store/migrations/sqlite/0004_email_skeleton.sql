-- The UTS #39 confusable skeleton of each address (SHA-256, hex), unique so
-- that two accounts cannot have addresses that render alike
-- (docs/decisions/0015-email-identity.md). Nullable: the skeleton needs Rust
-- code, so the server fills it in for existing rows when it starts
-- (Store::backfill_email_skeletons). SQLite and PostgreSQL unique indexes
-- allow many NULLs, MySQL's too.
ALTER TABLE user_account ADD COLUMN email_skeleton TEXT NULL;

CREATE UNIQUE INDEX user_account_email_skeleton_key ON user_account (email_skeleton);
