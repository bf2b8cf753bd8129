//! Prepaid channel vouchers, claimed by LNURL-channel (LUD-02): [`Vouchers`], on the flow
//! kernel ([`Voucher`]). The operator issues a batch (each voucher a random 32-byte `k1`, shown
//! once, stored only as its SHA-256); a wallet that scans one calls back with its node id, and
//! the claim creates a prepaid LSPS1 order (`Payment::Voucher`) that opens the channel.

pub mod voucher;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::{sha256, Hash};
use inbound_store::{Kind, Search, Store};
use lsps::lnurl::{NodeUri, K1};
use lsps::lsps1::CreateOrderRequest;
use lsps::schema::{DateTime, NodeId};
use serde_json::json;
use thiserror::Error;
use tracing::{error, info};
use url::Url;

use crate::clock::Clock;
use crate::flow::{
    Applied, Flow, FlowDriver, FlowError, FlowRunner, GiveUp, Indexed, Outcome, RetryPolicy, TransitionError,
};
use crate::lsps1::{Lsps1Service, OrderStatus, PrepaidError};
use crate::server::BoxFuture;
pub use voucher::{ClaimRefusal, Voucher, VoucherEffect, VoucherInput, VoucherStatus, VoucherTerms};

/// The most vouchers one `issue` call creates.
pub const MAX_VOUCHERS_PER_BATCH: u32 = 1000;
/// The longest batch label, in bytes.
pub const MAX_BATCH_LABEL_BYTES: usize = 64;
/// The path prefix of the LNURL routes the HTTP front end serves.
pub const LNURL_PREFIX: &str = "/lnurlc";

/// Where wallets reach this LSP: the public base URL in the LNURLs (behind the TLS proxy) and
/// the node they connect to.
#[derive(Clone, Debug)]
pub struct LnurlConfig {
    /// `https://lsp.example` (a path prefix is kept: `https://example.com/lsp`).
    pub public_url: Url,
    /// `<node id>@<host>:<port>`.
    pub node_uri: NodeUri,
}

impl LnurlConfig {
    /// The URL an LNURL for `k1` encodes.
    pub fn voucher_url(&self, k1: &K1) -> Url {
        join(&self.public_url, &format!("{}/{k1}", LNURL_PREFIX.trim_start_matches('/')))
    }

    /// The callback URL of every channel request.
    pub fn callback_url(&self) -> Url {
        join(&self.public_url, &format!("{}/callback", LNURL_PREFIX.trim_start_matches('/')))
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    url.set_query(None);
    url
}

/// The longest a voucher may stay claimable.
pub const MAX_VOUCHER_VALIDITY: Duration = Duration::from_secs(366 * 24 * 3600);

impl Flow for Voucher {
    const KIND: Kind = Kind::Voucher;
    const NOUN: &'static str = "voucher";
    type Input = VoucherInput;
    type Effect = VoucherEffect;
    type Context<'a> = DateTime;

    fn id(&self) -> String {
        self.id.clone()
    }

    fn client(&self) -> Option<NodeId> {
        None
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _now: DateTime) -> Indexed {
        Indexed { state: self.state_name(), terminal: self.is_terminal(), scid: None, deadline: self.deadline() }
    }

    fn input_name(input: &VoucherInput) -> &'static str {
        voucher::input_name(input)
    }

    fn effect_name(effect: &VoucherEffect) -> &'static str {
        match effect {
            VoucherEffect::OpenOrder { .. } => "open_order",
        }
    }

    fn step(&self, input: &VoucherInput, now: DateTime) -> Result<(Self, Vec<VoucherEffect>), TransitionError> {
        Voucher::step(self, input, now)
    }

    fn give_up(effect: &VoucherEffect) -> GiveUp<VoucherInput> {
        match effect {
            // A claimed voucher is a channel owed: retried until the order exists.
            VoucherEffect::OpenOrder { .. } => GiveUp::Never,
        }
    }
}

/// A batch to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRequest {
    /// How many vouchers (1 to [`MAX_VOUCHERS_PER_BATCH`]).
    pub count: u32,
    /// The channel each buys.
    pub terms: VoucherTerms,
    /// How long each stays claimable.
    pub valid_for: Duration,
    /// The operator's label (at most [`MAX_BATCH_LABEL_BYTES`]).
    pub batch: String,
}

/// A voucher just issued, with its secret (shown only now).
#[derive(Clone, Debug)]
pub struct IssuedVoucher {
    /// The bearer secret for the QR code.
    pub k1: K1,
    /// The stored voucher.
    pub voucher: Voucher,
}

/// Why vouchers were not issued or a voucher not claimed.
#[derive(Debug, Error)]
pub enum VoucherError {
    /// A request field is out of range.
    #[error("{0}")]
    Invalid(String),
    /// No voucher has this `k1` (never issued, or guessed).
    #[error("unknown voucher")]
    Unknown,
    /// The claim is refused.
    #[error("{}", .0.reason())]
    Refused(ClaimRefusal),
    /// The channel is no longer within the LSP's terms.
    #[error("this voucher's channel is not offered now: {0}")]
    Terms(String),
    /// The LSP's node is not running.
    #[error("the LSP's node is not running")]
    NoNode,
    /// The store failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<PrepaidError> for VoucherError {
    fn from(error: PrepaidError) -> VoucherError {
        match error {
            PrepaidError::NoNode => VoucherError::NoNode,
            PrepaidError::Terms(why) => VoucherError::Terms(why),
            PrepaidError::Flow(error) => VoucherError::Flow(error),
        }
    }
}

/// The vouchers, over the LSPS1 service that delivers their channels.
pub struct Vouchers {
    flows: FlowRunner<Voucher>,
    lsps1: Arc<Lsps1Service>,
    clock: Arc<dyn Clock>,
}

struct Driver<'a> {
    vouchers: &'a Vouchers,
}

impl FlowDriver<Voucher> for Driver<'_> {
    fn context(&self, _flow: &Voucher, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(&'a self, voucher: &'a Voucher, effect: &'a VoucherEffect) -> BoxFuture<'a, Outcome<VoucherInput>> {
        Box::pin(async move {
            let VoucherEffect::OpenOrder { order_id, client, private } = effect;
            let request = order_request(&voucher.terms, *private, &self.vouchers.lsps1);
            match self.vouchers.lsps1.open_prepaid(order_id, *client, request, &voucher.id).await {
                Ok(()) => Outcome::Done,
                Err(error) => {
                    error!(voucher = %voucher.id, order = %order_id, %error, "cannot create a voucher's order; retrying");
                    Outcome::Retry(error.to_string())
                }
            }
        })
    }

    fn committed(&self, before: Option<&Voucher>, after: &Voucher) {
        if before.map(Voucher::state_name) != Some(after.state_name()) {
            info!(voucher = %after.id, batch = %after.batch, state = after.state_name(), "voucher");
        }
    }
}

/// The prepaid order a voucher's claim creates: the voucher's channel, no client balance, the
/// LSP's own minimum confirmations, announced unless the wallet asked for a private channel.
fn order_request(terms: &VoucherTerms, private: bool, lsps1: &Lsps1Service) -> CreateOrderRequest {
    let info = lsps1.get_info(lsps::lsps1::GetInfoRequest::default());
    info.order_request(terms.lsp_balance_sat, 0, terms.channel_expiry_blocks, !private)
}

/// The store id of the voucher with this `k1`: hex SHA-256.
pub fn voucher_id(k1: &K1) -> String {
    sha256::Hash::hash(&k1.0).to_string()
}

impl Vouchers {
    /// The vouchers kept in `store`, delivered by `lsps1`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, lsps1: Arc<Lsps1Service>) -> Arc<Vouchers> {
        Arc::new(Vouchers { flows: FlowRunner::new(store, Arc::clone(&clock), RetryPolicy::default()), lsps1, clock })
    }

    fn driver(&self) -> Driver<'_> {
        Driver { vouchers: self }
    }

    /// Issues a batch: each voucher's terms checked against `lsps1.get_info` now.
    ///
    /// # Errors
    /// Out-of-range fields, terms the LSP does not sell, no node, or the store failed (the
    /// vouchers of the batch stored before the failure are revoked: their secrets are lost with
    /// the answer).
    pub async fn issue(&self, request: IssueRequest) -> Result<Vec<IssuedVoucher>, VoucherError> {
        if request.count == 0 || request.count > MAX_VOUCHERS_PER_BATCH {
            return Err(VoucherError::Invalid(format!("count must be 1 to {MAX_VOUCHERS_PER_BATCH}")));
        }
        if request.batch.len() > MAX_BATCH_LABEL_BYTES || request.batch.chars().any(char::is_control) {
            return Err(VoucherError::Invalid(format!(
                "the batch label must be at most {MAX_BATCH_LABEL_BYTES} bytes without control characters"
            )));
        }
        if request.valid_for.is_zero() || request.valid_for > MAX_VOUCHER_VALIDITY {
            return Err(VoucherError::Invalid("validity must be more than 0 and at most 366 days".into()));
        }
        self.lsps1.check_prepaid(&order_request(&request.terms, true, &self.lsps1))?;
        let now = self.clock.now();
        let expires_at = now
            .checked_add_secs(request.valid_for.as_secs())
            .ok_or_else(|| VoucherError::Invalid("validity overflows".into()))?;
        let mut issued: Vec<IssuedVoucher> = Vec::with_capacity(request.count as usize);
        for _ in 0..request.count {
            let k1 = K1(self.lsps1.random_bytes().ok_or(VoucherError::NoNode)?);
            let voucher = Voucher {
                id: voucher_id(&k1),
                batch: request.batch.clone(),
                terms: request.terms,
                created_at: now,
                expires_at,
                status: VoucherStatus::Issued,
                claims: 0,
            };
            if let Err(error) = self.flows.insert(&self.driver(), &voucher, "operator_issue", None, Vec::new()).await {
                // Their secrets would be lost with the failed answer: withdraw what was stored.
                for earlier in &issued {
                    let note =
                        json!({ "actor": "inbound", "reason": "the batch failed before its secrets were shown" });
                    if let Err(revoke) = self.revoke(&earlier.voucher.id, note).await {
                        error!(voucher = %earlier.voucher.id, %revoke, "cannot withdraw a voucher of a failed batch");
                    }
                }
                return Err(error.into());
            }
            issued.push(IssuedVoucher { k1, voucher });
        }
        info!(batch = %request.batch, count = request.count, lsp_sat = request.terms.lsp_balance_sat, "vouchers issued");
        Ok(issued)
    }

    /// The voucher with this `k1` if it can be claimed now (the LNURL's first GET).
    ///
    /// # Errors
    /// Unknown, revoked, expired, or claimed by another node.
    pub async fn claimable(&self, k1: &K1) -> Result<Voucher, VoucherError> {
        let voucher = self.flows.get(&voucher_id(k1)).await?.ok_or(VoucherError::Unknown)?;
        let failed = self.prior_order_failed(&voucher).await?;
        match voucher.closed(failed, self.clock.now()) {
            Some(refusal) => Err(VoucherError::Refused(refusal)),
            None => Ok(voucher),
        }
    }

    /// A wallet's callback: claims the voucher with this `k1` for `client` and starts the order.
    /// The same node calling again gets `Ok` without a second order.
    ///
    /// # Errors
    /// Unknown, refused (with the reason for the wallet), terms no longer sold, or the store.
    pub async fn claim(&self, k1: &K1, client: NodeId, private: bool) -> Result<Voucher, VoucherError> {
        let id = voucher_id(k1);
        let voucher = self.flows.get(&id).await?.ok_or(VoucherError::Unknown)?;
        let prior_order_failed = self.prior_order_failed(&voucher).await?;
        if let Some(refusal) = voucher.refusal(&client, prior_order_failed, self.clock.now()) {
            return Err(VoucherError::Refused(refusal));
        }
        self.lsps1.check_prepaid(&order_request(&voucher.terms, private, &self.lsps1))?;
        let order_id = self.lsps1.new_order_id().ok_or(VoucherError::NoNode)?;
        let input = VoucherInput::Claim { client, private, order_id, prior_order_failed };
        let note = json!({ "actor": "lnurl", "client": client.to_string() });
        match self.flows.apply_noted(&self.driver(), &id, input, note).await? {
            Applied::Done | Applied::Unchanged => {}
            // Claimed by someone else between the read and the step.
            Applied::Refused(_) => return Err(VoucherError::Refused(ClaimRefusal::AlreadyClaimed)),
            Applied::NotFound => return Err(VoucherError::Unknown),
        }
        self.flows.get(&id).await?.ok_or(VoucherError::Unknown)
    }

    /// Whether the order of the voucher's last claim failed (it may be claimed again).
    async fn prior_order_failed(&self, voucher: &Voucher) -> Result<bool, VoucherError> {
        let VoucherStatus::Claimed { order_id, .. } = &voucher.status else { return Ok(false) };
        let order = self.lsps1.order(order_id).await.map_err(|e| VoucherError::Flow(FlowError::Store(e)))?;
        Ok(matches!(order.map(|order| order.status), Some(OrderStatus::Failed { .. })))
    }

    /// Withdraws an issued voucher (an operator's action, recorded with `note`).
    ///
    /// # Errors
    /// If the store fails.
    pub async fn revoke(&self, id: &str, note: serde_json::Value) -> Result<Applied, FlowError> {
        self.flows.apply_noted(&self.driver(), id, VoucherInput::Revoke, note).await
    }

    /// The voucher with this id.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn get(&self, id: &str) -> Result<Option<Voucher>, FlowError> {
        self.flows.get(id).await
    }

    /// Vouchers, newest first, optionally only those in one state (`issued`, `claimed`,
    /// `revoked`, `expired`); unreadable rows are skipped.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn list(&self, state: Option<String>, limit: u32, offset: u32) -> Result<Vec<Voucher>, FlowError> {
        let search = Search { state, offset, ..Search::new(Kind::Voucher, limit) };
        let listing = self.flows.store().search(&search).await?;
        Ok(listing.items.iter().filter_map(|record| FlowRunner::<Voucher>::decode(record).ok()).collect())
    }

    /// After a (re)start: runs the effects left in the outbox (a claim whose order was not yet
    /// created). Returns how many vouchers are claimable.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn resume(&self) -> Result<usize, FlowError> {
        self.flows.run(&self.driver(), [], true).await?;
        Ok(self.flows.active().await?.len())
    }

    /// Expires the vouchers whose time is up and retries due effects.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn tick(&self) -> Result<(), FlowError> {
        let now = self.clock.now();
        let due = self.flows.store().list_due(Kind::Voucher, now.unix_millis()).await?;
        let inputs = due.items.into_iter().map(|record| (record.id, VoucherInput::Expire));
        self.flows.run(&self.driver(), inputs, true).await
    }

    /// Ticks every `period` until aborted.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let vouchers = Arc::clone(self);
        crate::ticker::spawn_ticker(period, "voucher", move || {
            let vouchers = Arc::clone(&vouchers);
            async move { vouchers.tick().await }
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod url_tests {
    use super::*;

    fn config(base: &str) -> LnurlConfig {
        let node = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606";
        let node_uri = format!("{node}@lsp.example:9735").parse().expect("uri");
        LnurlConfig { public_url: Url::parse(base).expect("url"), node_uri }
    }

    #[test]
    fn urls_keep_the_public_prefix() {
        let k1 = K1([0xab; 32]);
        let plain = config("https://lsp.example");
        assert_eq!(plain.voucher_url(&k1).as_str(), format!("https://lsp.example/lnurlc/{k1}"));
        assert_eq!(plain.callback_url().as_str(), "https://lsp.example/lnurlc/callback");
        let prefixed = config("https://example.com/lsp/");
        assert_eq!(prefixed.voucher_url(&k1).as_str(), format!("https://example.com/lsp/lnurlc/{k1}"));
        assert_eq!(prefixed.callback_url().as_str(), "https://example.com/lsp/lnurlc/callback");
    }
}
