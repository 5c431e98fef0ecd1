-- The outbox relay: unpublished events are found through an index on
-- (published_at, outbox_seq) (MySQL has no partial indexes), published ones
-- are pruned by age, and one lease row says which instance publishes (only
-- its holder drains the outbox, so events go out in order).
CREATE INDEX outbox_unpublished_idx ON outbox (published_at, outbox_seq);
CREATE INDEX outbox_at_idx ON outbox (at);

CREATE TABLE relay_lease (
    lease_name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    holder     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at BIGINT      NOT NULL,
    PRIMARY KEY (lease_name)
) ENGINE = InnoDB;

INSERT INTO relay_lease (lease_name, holder, expires_at) VALUES ('outbox', '', 0);
