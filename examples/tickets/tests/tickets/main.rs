//! The tickets service's own tests: the store on SQLite and PostgreSQL, and
//! the HTTP API on a real socket with a verifier over a fixed key set (the
//! end-to-end tests with a real Warden and real brokers are in
//! crates/server/tests/api/tickets.rs).

mod api;
mod store;
