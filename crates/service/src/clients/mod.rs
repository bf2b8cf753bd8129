//! Clients the operator banned: [`ClientBans`], on the flow kernel ([`ClientStanding`]), and
//! the gate through which [`LspsServer`](crate::LspsServer) refuses their requests with LSPS
//! code 1 ("Client rejected", which LSPS0 lets an LSP use to refuse a node without
//! disconnecting it). `lsps0.list_protocols` is still answered; flows the client already has
//! (a paid order, a JIT session) run to their end.

pub mod standing;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, Store};
use lsps::schema::{DateTime, NodeId};
use serde_json::json;
use thiserror::Error;

use crate::clock::Clock;
use crate::flow::{
    Applied, Flow, FlowDriver, FlowError, FlowRunner, GiveUp, Indexed, Outcome, RetryPolicy, TransitionError,
};
use crate::server::{BoxFuture, ClientGate};
pub use standing::{Ban, ClientStanding, StandingEffect, StandingInput, MAX_BAN_REASON_BYTES};

impl Flow for ClientStanding {
    const KIND: Kind = Kind::ClientStanding;
    const NOUN: &'static str = "client standing";
    type Input = StandingInput;
    type Effect = StandingEffect;
    type Context<'a> = DateTime;

    fn id(&self) -> String {
        self.client.to_string()
    }

    fn client(&self) -> Option<NodeId> {
        Some(self.client)
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _now: DateTime) -> Indexed {
        Indexed { state: self.state_name(), terminal: self.ban.is_none(), scid: None, deadline: None }
    }

    fn input_name(input: &StandingInput) -> &'static str {
        standing::input_name(input)
    }

    fn effect_name(effect: &StandingEffect) -> &'static str {
        match *effect {}
    }

    fn step(&self, input: &StandingInput, now: DateTime) -> Result<(Self, Vec<StandingEffect>), TransitionError> {
        Ok((self.next(input, now)?, Vec::new()))
    }

    fn give_up(effect: &StandingEffect) -> GiveUp<StandingInput> {
        match *effect {}
    }
}

/// Why a ban could not be recorded.
#[derive(Debug, Error)]
pub enum BanError {
    /// The reason is longer than [`MAX_BAN_REASON_BYTES`].
    #[error("the reason is longer than {MAX_BAN_REASON_BYTES} bytes")]
    ReasonTooLong,
    /// The store failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// The banned clients: durable, and mirrored in memory for the request path.
pub struct ClientBans {
    flows: FlowRunner<ClientStanding>,
    clock: Arc<dyn Clock>,
    banned: RwLock<HashSet<PublicKey>>,
}

struct Driver<'a> {
    bans: &'a ClientBans,
}

impl FlowDriver<ClientStanding> for Driver<'_> {
    fn context(&self, _flow: &ClientStanding, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(
        &'a self,
        _flow: &'a ClientStanding,
        effect: &'a StandingEffect,
    ) -> BoxFuture<'a, Outcome<StandingInput>> {
        match *effect {}
    }

    fn committed(&self, _before: Option<&ClientStanding>, after: &ClientStanding) {
        let mut banned = self.bans.banned.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &after.ban {
            Some(ban) => {
                tracing::warn!(client = %after.client, reason = %ban.reason, "client banned by the operator");
                banned.insert(after.client.0);
            }
            None => {
                tracing::info!(client = %after.client, "client unbanned by the operator");
                banned.remove(&after.client.0);
            }
        }
    }
}

impl ClientBans {
    /// The bans kept in `store`; call [`resume`](Self::resume) before serving.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<ClientBans> {
        Arc::new(ClientBans {
            flows: FlowRunner::new(store, Arc::clone(&clock), RetryPolicy::default()),
            clock,
            banned: RwLock::new(HashSet::new()),
        })
    }

    /// Loads the bans in force; returns how many.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn resume(&self) -> Result<usize, FlowError> {
        let active = self.flows.active().await?;
        let mut banned = self.banned.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        banned.clear();
        banned.extend(active.iter().filter(|standing| standing.ban.is_some()).map(|standing| standing.client.0));
        Ok(banned.len())
    }

    /// Bans `client` for `reason` (an operator's action, recorded in the history).
    ///
    /// # Errors
    /// A reason over [`MAX_BAN_REASON_BYTES`], or the store failed.
    pub async fn ban(&self, client: PublicKey, reason: String) -> Result<Applied, BanError> {
        if reason.len() > MAX_BAN_REASON_BYTES {
            return Err(BanError::ReasonTooLong);
        }
        let driver = Driver { bans: self };
        let id = NodeId(client).to_string();
        let note = json!({ "actor": "operator", "reason": reason });
        let input = StandingInput::Ban { reason: reason.clone() };
        match self.flows.apply_noted(&driver, &id, input, note).await? {
            Applied::NotFound => {
                let standing = ClientStanding::banned(NodeId(client), reason, self.clock.now());
                match self.flows.insert(&driver, &standing, "operator_ban", None, Vec::new()).await {
                    Ok(()) => Ok(Applied::Done),
                    // Banned by someone else a moment ago.
                    Err(FlowError::Store(inbound_store::StoreError::DuplicateId { .. })) => {
                        Ok(Applied::Refused(TransitionError { state: "banned", input: "operator_ban" }))
                    }
                    Err(error) => Err(error.into()),
                }
            }
            applied => Ok(applied),
        }
    }

    /// Lifts the ban on `client`.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn unban(&self, client: PublicKey) -> Result<Applied, FlowError> {
        let driver = Driver { bans: self };
        let id = NodeId(client).to_string();
        self.flows.apply_noted(&driver, &id, StandingInput::Unban, json!({ "actor": "operator" })).await
    }

    /// Whether `client` is banned now.
    pub fn is_banned(&self, client: &PublicKey) -> bool {
        self.banned.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(client)
    }

    /// The bans in force, oldest first.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn list(&self) -> Result<Vec<ClientStanding>, FlowError> {
        Ok(self.flows.active().await?.into_iter().filter(|standing| standing.ban.is_some()).collect())
    }
}

impl ClientGate for ClientBans {
    fn refuses(&self, peer: &PublicKey) -> bool {
        self.is_banned(peer)
    }
}

#[cfg(test)]
mod tests;
