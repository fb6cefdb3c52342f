//! Typed identifiers. Every id is a UUIDv7 made by a shell; the type says
//! which table it points into so that a `QueueId` can never be passed where a
//! `SkillId` is wanted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        /// Hashed as one 128-bit number (a `Uuid` hashes as a byte
        /// string, which fast hashers take a slower path for).
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                state.write_u128(self.0.as_u128());
            }
        }

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self { Self(uuid) }
            pub const fn as_uuid(&self) -> Uuid { self.0 }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { self.0.fmt(f) }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Uuid::parse_str(s).map(Self) }
        }

        /// Storage rows hold ids as text.
        impl TryFrom<String> for $name {
            type Error = uuid::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }
    )*};
}

id_type!(
    /// One organisation's contact centre.
    TenantId,
    /// A person who logs in.
    UserId,
    /// A user who handles contacts.
    AgentId,
    /// A skill agents hold with a proficiency.
    SkillId,
    /// Where contacts wait.
    QueueId,
    /// A person or organisation the centre deals with.
    CustomerId,
    /// One interaction on one channel.
    ContactId,
    /// A bearer token for integrations.
    ApiTokenId,
    /// A row of the audit log.
    AuditId,
    /// A named set of business hours and holidays queues follow.
    BusinessHoursId,
    /// An outbound webhook subscription.
    WebhookId,
);
