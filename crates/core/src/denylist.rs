//! The in-memory deny-list: revoked sessions and users whose access tokens
//! must be refused before they expire. It is `warden-token`'s list, the one
//! `warden-verify` uses too, so Warden and every embedding service reject
//! exactly the same tokens. The use cases keep it in step with the store's
//! revocation table; the server also feeds it from the event bus.

pub use warden_token::revocation::DenyList;
