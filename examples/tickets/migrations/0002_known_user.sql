-- Users as this service knows them, replicated from Warden's user.created
-- events (and forgotten on user.deleted): enough to show who owns a ticket
-- without asking Warden.
CREATE TABLE known_user (
    user_id TEXT PRIMARY KEY,
    email   TEXT NOT NULL
);
