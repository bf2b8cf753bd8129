//! The values the store keeps: aggregates ([`Record`]), their audit trail ([`HistoryEntry`])
//! and their outbox ([`Effect`]).
//!
//! The store does not know what a flow's state means. A flow serialises its state machine to
//! JSON ([`Record::body`]) and copies out only the few fields that the store must be able to
//! query by: the short state name, whether the flow is finished, the client, the intercept
//! SCID and the next deadline.

use std::fmt;

use crate::error::StoreError;

/// Which flow an aggregate belongs to. Stored as text (see [`Kind::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An LSPS2 just-in-time channel session (bLIP-52).
    Lsps2Session,
    /// An LSPS1 channel order (bLIP-51).
    Lsps1Order,
    /// An LSPS5 webhook registration (bLIP-55): one client's webhooks.
    Lsps5Webhook,
    /// One LSPS5 notification POSTed (or to be POSTed) to one webhook.
    Lsps5Delivery,
    /// One client's hold SCID (notify-and-wait over an existing channel, an Inbound
    /// extension): the id is the client's node id, the SCID column the hold SCID. Never
    /// terminal.
    HoldScid,
    /// One HTLC to a hold SCID, held while its client is offline.
    HeldHtlc,
    /// One client's standing with the operator (banned or not): the id is its node id.
    ClientStanding,
    /// A prepaid channel voucher (LNURL-channel): the id is the SHA-256 of its `k1`.
    Voucher,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 8] = [
        Kind::Lsps2Session,
        Kind::Lsps1Order,
        Kind::Lsps5Webhook,
        Kind::Lsps5Delivery,
        Kind::HoldScid,
        Kind::HeldHtlc,
        Kind::ClientStanding,
        Kind::Voucher,
    ];

    /// The text stored in the `kind` columns. These strings are part of the schema: never
    /// change one without a migration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Lsps2Session => "lsps2_session",
            Kind::Lsps1Order => "lsps1_order",
            Kind::Lsps5Webhook => "lsps5_webhook",
            Kind::Lsps5Delivery => "lsps5_delivery",
            Kind::HoldScid => "hold_scid",
            Kind::HeldHtlc => "held_htlc",
            Kind::ClientStanding => "client_standing",
            Kind::Voucher => "voucher",
        }
    }

    /// The kind stored as `text`, or `None` for text that names no kind.
    pub fn from_stored(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new aggregate, as handed to [`Store::insert`](crate::Store::insert).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// The flow this aggregate belongs to.
    pub kind: Kind,
    /// The flow's own id (an order id, a session id, a webhook id), unique per kind.
    pub id: String,
    /// The short name of the first state, e.g. `"awaiting_payment"`.
    pub state: String,
    /// Whether the aggregate is already finished (rare at creation, but allowed).
    pub terminal: bool,
    /// The client's node id, for per-client listings and caps. Fixed for the aggregate's life.
    pub client_node_id: Option<String>,
    /// The intercept SCID of an LSPS2 session; unique per kind while the row exists.
    pub scid: Option<u64>,
    /// When the flow must next be woken (an expiry), in Unix milliseconds.
    pub deadline_unix_ms: Option<u64>,
    /// The flow's serialised state machine.
    pub body: serde_json::Value,
    /// The caller's clock at creation, in Unix milliseconds. The store reads no clock.
    pub created_at_unix_ms: u64,
}

/// The new values of an aggregate's mutable fields, as handed to
/// [`Store::update`](crate::Store::update). Every field replaces the stored one; the client
/// node id and the creation time never change.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    /// The short name of the new state (it may equal the old one).
    pub state: String,
    /// Whether the aggregate is finished after this change.
    pub terminal: bool,
    /// The intercept SCID after this change.
    pub scid: Option<u64>,
    /// The next deadline after this change, in Unix milliseconds.
    pub deadline_unix_ms: Option<u64>,
    /// The serialised state machine after this change.
    pub body: serde_json::Value,
    /// The caller's clock at the change, in Unix milliseconds.
    pub at_unix_ms: u64,
}

/// A stored aggregate at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The flow this aggregate belongs to.
    pub kind: Kind,
    /// The flow's own id, unique per kind.
    pub id: String,
    /// Starts at 1 and grows by one with every update; the optimistic-concurrency token.
    pub version: i64,
    /// The short name of the current state.
    pub state: String,
    /// Whether the aggregate is finished; finished aggregates are not resumed on restart.
    pub terminal: bool,
    /// The client's node id, if the flow has one.
    pub client_node_id: Option<String>,
    /// The intercept SCID, if any.
    pub scid: Option<u64>,
    /// The next deadline in Unix milliseconds, if any.
    pub deadline_unix_ms: Option<u64>,
    /// The serialised state machine.
    pub body: serde_json::Value,
    /// When the aggregate was inserted, in Unix milliseconds.
    pub created_at_unix_ms: u64,
    /// When the aggregate was last changed, in Unix milliseconds.
    pub updated_at_unix_ms: u64,
}

/// One transition in an aggregate's audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The aggregate's kind.
    pub kind: Kind,
    /// The aggregate's id.
    pub id: String,
    /// Equal to the aggregate version this transition produced, so it starts at 1.
    pub seq: i64,
    /// The state before the transition; `None` for the insert.
    pub from_state: Option<String>,
    /// The state after the transition.
    pub to_state: String,
    /// When the transition was written, in Unix milliseconds.
    pub at_unix_ms: u64,
    /// What the caller chose to record about why (the input, an error, an operator's note).
    pub detail: serde_json::Value,
}

/// One pending side effect in the outbox.
///
/// Effects are written in the same transaction as the state change that caused them, and are
/// run only after it commits. The runner calls
/// [`Store::complete_effect`](crate::Store::complete_effect) when an effect has finished;
/// after a restart [`Store::pending_effects`](crate::Store::pending_effects) hands back every
/// effect that was not completed, so effects must be idempotent (keyed by aggregate id).
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// The outbox's own id: unique, never reused, increasing in insertion order.
    pub effect_id: i64,
    /// The kind of the aggregate that enqueued the effect.
    pub kind: Kind,
    /// The id of the aggregate that enqueued the effect.
    pub aggregate_id: String,
    /// The aggregate version whose transition enqueued the effect.
    pub aggregate_version: i64,
    /// The effect itself, as the flow serialised it.
    pub body: serde_json::Value,
    /// When the effect was enqueued, in Unix milliseconds.
    pub created_at_unix_ms: u64,
    /// How many times running it failed so far ([`Store::retry_effect`](crate::Store::retry_effect)).
    pub attempts: u32,
    /// Not to be run before this time (Unix milliseconds); `None`: at once.
    pub next_attempt_unix_ms: Option<u64>,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
}

/// The rows of a listing, with the rows that could not be read kept apart.
///
/// A corrupt row must not stop the LSP from resuming every other flow, so listings return
/// the good rows together with an error for each bad one. Use [`Listing::strict`] where any
/// bad row should fail the whole call.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// The rows that decoded, in the order the query promises.
    pub items: Vec<T>,
    /// One error per row that did not decode, naming its table, column and id.
    pub corrupt: Vec<crate::CorruptRow>,
}

impl<T> Listing<T> {
    /// The rows, or the first corrupt row as an error.
    pub fn strict(self) -> Result<Vec<T>, StoreError> {
        match self.corrupt.into_iter().next() {
            Some(corrupt) => Err(StoreError::Corrupt(corrupt)),
            None => Ok(self.items),
        }
    }
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing { items: Vec::new(), corrupt: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_text_round_trips_and_is_stable() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_stored(kind.as_str()), Some(kind));
        }
        // These strings are in every database; changing one needs a migration.
        assert_eq!(Kind::Lsps2Session.as_str(), "lsps2_session");
        assert_eq!(Kind::Lsps1Order.as_str(), "lsps1_order");
        assert_eq!(Kind::Lsps5Webhook.as_str(), "lsps5_webhook");
        assert_eq!(Kind::Lsps5Delivery.as_str(), "lsps5_delivery");
        assert_eq!(Kind::HoldScid.as_str(), "hold_scid");
        assert_eq!(Kind::HeldHtlc.as_str(), "held_htlc");
        assert_eq!(Kind::ClientStanding.as_str(), "client_standing");
        assert_eq!(Kind::from_stored("LSPS1_ORDER"), None);
        assert_eq!(Kind::from_stored(""), None);
    }

    #[test]
    fn strict_listing_fails_on_the_first_corrupt_row() {
        let good: Listing<u8> = Listing { items: vec![1, 2], corrupt: vec![] };
        assert_eq!(good.strict().ok(), Some(vec![1, 2]));
        let corrupt = crate::CorruptRow {
            table: "aggregates",
            column: "body",
            row: "lsps1_order/a".into(),
            reason: "not JSON".into(),
        };
        let bad: Listing<u8> = Listing { items: vec![1], corrupt: vec![corrupt.clone()] };
        assert!(matches!(bad.strict(), Err(StoreError::Corrupt(found)) if found == corrupt));
    }
}
