-- The refresh grace window (sessions.refresh_reuse_grace_secs, decision
-- 0018): a rotated token remembers the successor it was exchanged for
-- (successor_hash) and whether it was retried once within the window
-- (retried_at, epoch milliseconds). A used token whose successor_hash is
-- NULL was voided by a retry (or rotated before this migration): presenting
-- it again is reuse.
ALTER TABLE refresh_token
    ADD COLUMN successor_hash TEXT COLLATE "C" NULL,
    ADD COLUMN retried_at BIGINT NULL;
