-- The outbox relay: unpublished events are found through a partial index,
-- published ones are pruned by age, and one lease row says which instance
-- publishes (only its holder drains the outbox, so events go out in order).
CREATE INDEX outbox_unpublished_idx ON outbox (outbox_seq) WHERE published_at IS NULL;
CREATE INDEX outbox_at_idx ON outbox (at);

CREATE TABLE relay_lease (
    lease_name TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

INSERT INTO relay_lease (lease_name, holder, expires_at) VALUES ('outbox', '', 0);
