//! Closed sets of names used across the platform: channels, customer status,
//! contact state. Each has one spelling, used in the API, the database and the UI.

/// The error for a name outside a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not one of: {}", allowed.join(", "))]
pub struct UnknownName {
    pub given: String,
    pub allowed: &'static [&'static str],
}

macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }

        /// Storage rows hold names as text.
        impl TryFrom<String> for $name {
            type Error = $crate::kinds::UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::kinds::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::kinds::UnknownName {
                        given: s.chars().take(64).collect(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use name_enum;

name_enum!(
    /// The medium of a contact.
    Channel { Voice => "voice", Email => "email", Chat => "chat", Sms => "sms" }
);

name_enum!(
    /// A customer's lifecycle status; changes are kept in a history.
    CustomerStatus { Prospect => "prospect", Customer => "customer", Former => "former" }
);

name_enum!(
    /// Whether a customer is a person or an organisation.
    CustomerKind { Person => "person", Organisation => "organisation" }
);

name_enum!(
    /// Who started a contact.
    Direction { Inbound => "inbound", Outbound => "outbound" }
);

name_enum!(
    /// Where a contact is in its life. The routing engine moves contacts
    /// between these; `ended` and `abandoned` are final.
    ContactState {
        Queued => "queued",
        Reserved => "reserved",
        Active => "active",
        WrapUp => "wrap_up",
        Ended => "ended",
        Abandoned => "abandoned",
    }
);

impl ContactState {
    /// A final state never changes again.
    pub const fn is_final(self) -> bool {
        matches!(self, ContactState::Ended | ContactState::Abandoned)
    }
}

name_enum!(
    /// How a queue picks among eligible agents (the routing engine gives
    /// each its meaning).
    Strategy {
        LongestIdle => "longest_idle",
        MostSkilled => "most_skilled",
        FewestContacts => "fewest_contacts",
        LeastTalkTime => "least_talk_time",
        RoundRobin => "round_robin",
        Linear => "linear",
        WeightedRandom => "weighted_random",
        RingAll => "ring_all",
        RingProgressive => "ring_progressive",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed_ones() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        let err = "fax".parse::<Channel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`fax` is not one of: voice, email, chat, sms"
        );
        assert!(ContactState::Abandoned.is_final());
        assert!(!ContactState::Queued.is_final());
    }
}
