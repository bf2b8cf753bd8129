//! [`ClientStanding`]: whether the operator banned a client, a flow on the kernel
//! (`Kind::ClientStanding`, id = the client's node id).
//!
//! ```text
//!          Ban { reason }                 Unban
//! (none) ──insert──▶ banned ──────────▶ in_good_standing (terminal)
//!                      ▲                        │
//!                      └────── Ban { reason } ──┘
//! ```
//!
//! Only an operator's action moves it (recorded with its note in the history); it has no
//! effects: the ban is enforced where requests arrive ([`crate::LspsServer`]'s gate).

use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use crate::flow::TransitionError;

/// The longest reason kept with a ban.
pub const MAX_BAN_REASON_BYTES: usize = 256;

/// One client's standing with the LSP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStanding {
    /// The client.
    pub client: NodeId,
    /// When the operator first acted on it.
    pub created_at: DateTime,
    /// The ban in force, if any.
    pub ban: Option<Ban>,
}

/// A ban in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// Why, in the operator's words.
    pub reason: String,
    /// Since when.
    pub since: DateTime,
}

/// What an operator can do to a client's standing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StandingInput {
    /// Refuse the client's requests from now on.
    Ban {
        /// Why.
        reason: String,
    },
    /// Serve the client again.
    Unban,
}

/// The standing has no effects; this type has no values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StandingEffect {}

impl ClientStanding {
    /// A new standing with the client banned.
    pub fn banned(client: NodeId, reason: String, now: DateTime) -> ClientStanding {
        ClientStanding { client, created_at: now, ban: Some(Ban { reason, since: now }) }
    }

    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        match self.ban {
            Some(_) => "banned",
            None => "in_good_standing",
        }
    }

    /// The next standing after `input` at `now`.
    ///
    /// # Errors
    /// Banning a banned client, or unbanning one that is not banned.
    pub fn next(&self, input: &StandingInput, now: DateTime) -> Result<ClientStanding, TransitionError> {
        let refused = TransitionError { state: self.state_name(), input: input_name(input) };
        let mut next = self.clone();
        match (&self.ban, input) {
            (None, StandingInput::Ban { reason }) => next.ban = Some(Ban { reason: reason.clone(), since: now }),
            (Some(_), StandingInput::Unban) => next.ban = None,
            (Some(_), StandingInput::Ban { .. }) | (None, StandingInput::Unban) => return Err(refused),
        }
        Ok(next)
    }
}

/// A short, stable name of an input.
pub fn input_name(input: &StandingInput) -> &'static str {
    match input {
        StandingInput::Ban { .. } => "operator_ban",
        StandingInput::Unban => "operator_unban",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeId {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).expect("key");
        NodeId(bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &secret))
    }

    #[test]
    fn a_ban_is_lifted_and_given_again_and_nothing_applies_twice() {
        let now = DateTime::from_unix_millis(1_700_000_000_000).expect("time");
        let later = DateTime::from_unix_millis(1_700_000_060_000).expect("time");
        let banned = ClientStanding::banned(node(), "fee drain".into(), now);
        assert_eq!(banned.state_name(), "banned");
        let again = banned.next(&StandingInput::Ban { reason: "other".into() }, later);
        assert_eq!(again, Err(TransitionError { state: "banned", input: "operator_ban" }));
        let lifted = banned.next(&StandingInput::Unban, later).expect("unban");
        assert_eq!((lifted.state_name(), lifted.created_at), ("in_good_standing", now));
        assert!(lifted.next(&StandingInput::Unban, later).is_err());
        let rebanned = lifted.next(&StandingInput::Ban { reason: "again".into() }, later).expect("ban");
        assert_eq!(rebanned.ban, Some(Ban { reason: "again".into(), since: later }));
    }
}
