-- Portable SQL: the same migration runs on SQLite and PostgreSQL. Ids are
-- UUID text and times Unix milliseconds, so both backends store and sort
-- them alike (UUIDv7 text sorts by creation time).
CREATE TABLE ticket (
    ticket_id  TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'closed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A user's listing, newest first; and deleting a user's tickets.
CREATE INDEX ticket_owner_idx ON ticket (owner_id, ticket_id);
