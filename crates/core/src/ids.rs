//! Identifiers: UUIDv7 newtypes, so a session id can never be passed where a
//! user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing UUID (from the store).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A user's identifier; the `sub` claim.
    UserId
);
uuid_id!(
    /// A queued mail message's identifier.
    MailId
);
uuid_id!(
    /// A session's identifier; the `sid` claim.
    SessionId
);
uuid_id!(
    /// An audit entry's identifier; time-ordered, so it doubles as the paging cursor.
    AuditId
);
uuid_id!(
    /// An outbox event's identifier; the CloudEvents `id`.
    EventId
);
uuid_id!(
    /// A linked identity's identifier (social sign-in).
    IdentityId
);
uuid_id!(
    /// A passkey's identifier (not the authenticator's credential id).
    PasskeyId
);
