//! [`Lsps2Service`]: the LSP's LSPS2 handler (`lsps2.get_info`, `lsps2.buy`) and the owner of
//! the JIT sessions. The event side (intercepted HTLCs, channel events, timers, effects) is in
//! `runner.rs`; the node adapter in `lightning.rs`.
//!
//! `buy` persists the new session (its SCID and client indexed, its deadline set) *before* the
//! answer leaves, so an SCID the client has seen always has a session behind it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use bitcoin::secp256k1::PublicKey;
use inbound_store::{Kind, Store, StoreError};
use lsps::jsonrpc::RpcError;
use lsps::lsps2::{
    check_raw_menu, validate_buy, BuyMode, BuyPolicy, BuyRequest, BuyResponse, GetInfoRequest, GetInfoResponse,
    Lsps2Error, RawOpeningFeeParams,
};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{NodeId, Scid};
use tracing::{error, info, warn};

use super::config::{Lsps2Config, Lsps2ConfigError, TrustMode};
use super::keys::PromiseKeyring;
use super::ops::JitLightning;
use super::runner::RunnerState;
use super::session::{JitSession, JitState, PurchaseMode};
use crate::clock::Clock;
use crate::flow::{FlowError, FlowRunner, RetryPolicy};
use crate::notify::ClientNotifier;
use crate::server::{BoxFuture, ProtocolHandler};

/// How many times `buy` draws an intercept SCID before giving up (collisions are rare: the
/// namespace is random).
const SCID_ATTEMPTS: usize = 16;

/// Decides whether a client is refused with code 1 before anything else (operator policy).
pub type ClientRejectionHook = Arc<dyn Fn(&PublicKey) -> bool + Send + Sync>;

/// The LSPS2 service. Create it with [`Lsps2Service::new`], register it with the
/// [`LspsServer`](crate::LspsServer), make it the node's event handler (see `lightning.rs`),
/// and [`attach`](Lsps2Service::attach) the node once it is built.
pub struct Lsps2Service {
    pub(super) config: Lsps2Config,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) lightning: RwLock<Option<Arc<dyn JitLightning>>>,
    keyring: RwLock<Option<PromiseKeyring>>,
    rejection_hook: RwLock<Option<ClientRejectionHook>>,
    /// Who wakes offline clients (the LSPS5 service, when enabled).
    notifier: RwLock<Option<Arc<dyn ClientNotifier>>>,
    pub(super) runner: RunnerState,
    /// The flow kernel's runner for the sessions.
    pub(super) flows: FlowRunner<JitSession>,
    /// Bounded: client → unpaid channels seen since start (the store has the durable record).
    pub(super) unpaid: Mutex<HashMap<PublicKey, u64>>,
}

/// Most clients kept in the in-memory unpaid-channel map.
pub(super) const MAX_TRACKED_UNPAID_CLIENTS: usize = 10_000;

impl Lsps2Service {
    /// A service with this configuration, store and clock (validated; see
    /// [`Lsps2Config::validate`]).
    pub fn new(
        config: Lsps2Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Lsps2Service>, Lsps2ConfigError> {
        config.validate()?;
        Ok(Arc::new(Lsps2Service {
            config,
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            lightning: RwLock::new(None),
            keyring: RwLock::new(None),
            rejection_hook: RwLock::new(None),
            notifier: RwLock::new(None),
            runner: RunnerState::default(),
            flows: FlowRunner::new(Arc::clone(&store), Arc::clone(&clock), RetryPolicy::default()),
            unpaid: Mutex::new(HashMap::new()),
        }))
    }

    /// Sets the Lightning node (normally an `Arc<inbound_node::Node>`) and derives the promise
    /// keys from it. Call it once the node is built and again after it is rebuilt, then call
    /// [`Lsps2Service::resume`]. Until then requests are answered with -32603.
    pub fn attach(&self, lightning: Arc<dyn JitLightning>) {
        let keyring = PromiseKeyring::new(&lightning.promise_secret(), &self.config);
        *self.keyring.write().unwrap_or_else(|p| p.into_inner()) = Some(keyring);
        *self.lightning.write().unwrap_or_else(|p| p.into_inner()) = Some(lightning);
    }

    /// Installs the operator's client rejection hook: clients it returns `true` for get
    /// code 1 from `lsps2.buy`.
    pub fn set_rejection_hook(&self, hook: ClientRejectionHook) {
        *self.rejection_hook.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Sets who wakes an offline client when a payment waits for it (`NotifyClient`):
    /// [`LspBuilder`](crate::LspBuilder) hands it the LSPS5 service when LSPS5 is enabled.
    /// Without one, a waiting payment is only logged.
    pub fn set_notifier(&self, notifier: Arc<dyn ClientNotifier>) {
        *self.notifier.write().unwrap_or_else(|p| p.into_inner()) = Some(notifier);
    }

    pub(super) fn notifier(&self) -> Option<Arc<dyn ClientNotifier>> {
        self.notifier.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// This service as the [`ProtocolHandler`] to register with the
    /// [`LspsServer`](crate::LspsServer).
    pub fn protocol_handler(self: &Arc<Self>) -> Arc<dyn ProtocolHandler> {
        Arc::new(Arc::clone(self))
    }

    /// The configuration.
    pub fn config(&self) -> &Lsps2Config {
        &self.config
    }

    pub(super) fn lightning(&self) -> Option<Arc<dyn JitLightning>> {
        self.lightning.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keyring(&self) -> Option<PromiseKeyring> {
        self.keyring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Answers `lsps2.get_info` for `client`: the token's tiers with the chain-fee floor
    /// applied, limited to what the wallet can fund now net of pending sessions, sealed for
    /// `client` and valid for `valid_for_secs`.
    pub async fn get_info(&self, client: PublicKey, request: GetInfoRequest) -> Result<GetInfoResponse, RpcError> {
        let tiers = self.config.tiers_for(request.token.as_deref()).ok_or(Lsps2Error::UnrecognizedOrStaleToken)?;
        let (lightning, keyring) = self.ready()?;
        let now = self.clock.now();
        let valid_until = now.checked_add_secs(self.config.valid_for_secs).ok_or_else(RpcError::internal_error)?;
        let available_sat = self.available_sat(lightning.as_ref()).await.map_err(internal)?;
        let max_forward_msat = self.config.sizing.max_forward_msat(available_sat);
        let floor = self.config.chain_fee_floor_msat(lightning.fee_rate_sat_per_kwu());
        let mut menu: Vec<RawOpeningFeeParams> = Vec::new();
        for tier in tiers {
            let mut entry = self.config.raw_entry(tier, valid_until);
            entry.min_fee_msat.0 = entry.min_fee_msat.0.max(floor);
            // The largest payment whose forward (payment − its fee) the wallet can fund now.
            let fundable = max_forward_msat.saturating_add(entry.min_fee_msat.0);
            entry.max_payment_size_msat.0 = entry.max_payment_size_msat.0.min(fundable);
            if entry.min_payment_size_msat > entry.max_payment_size_msat
                || entry.min_fee_msat >= entry.max_payment_size_msat
            {
                continue;
            }
            menu.push(entry);
            if check_raw_menu(&menu).is_err() {
                // The fee floor made this tier no dearer than the one before: drop it.
                menu.pop();
            }
        }
        let node_id = NodeId(client);
        let sealed = menu.into_iter().map(|entry| entry.seal(keyring.current(), &node_id)).collect();
        Ok(GetInfoResponse { opening_fee_params_menu: sealed })
    }

    /// Answers `lsps2.buy` for `client`: bLIP-52's checks, the rejection hook, the per-client
    /// caps and the wallet's liquidity; then a new session with a fresh intercept SCID,
    /// persisted before the answer.
    pub async fn buy(&self, client: PublicKey, request: BuyRequest) -> Result<BuyResponse, RpcError> {
        let (lightning, keyring) = self.ready()?;
        let now = self.clock.now();
        let node_id = NodeId(client);
        let validated = validate_buy(&request, &node_id, &keyring.accepted(now), now, &BuyPolicy::default())?;
        let hook = self.rejection_hook.read().unwrap_or_else(|p| p.into_inner()).clone();
        if hook.is_some_and(|hook| hook(&client)) {
            return Err(rejected("client rejected by the operator"));
        }
        let unpaid = self.unpaid_channels_of(&client).await.map_err(internal)?;
        if unpaid >= self.config.max_unpaid_channels_per_client {
            return Err(rejected("too many unpaid JIT channels"));
        }
        let mode = match validated.mode {
            BuyMode::MppFixed { payment_size_msat, opening_fee_msat } => {
                let forward = payment_size_msat.get().saturating_sub(opening_fee_msat.get());
                let available = self.available_sat(lightning.as_ref()).await.map_err(internal)?;
                if forward > self.config.sizing.max_forward_msat(available) {
                    return Err(Lsps2Error::PaymentSizeTooLarge.into());
                }
                PurchaseMode::Fixed { payment_size_msat: payment_size_msat.get() }
            }
            BuyMode::NoMppVariable => PurchaseMode::Variable,
        };
        let client_trusts_lsp = match self.config.trust {
            TrustMode::Never => false,
            TrustMode::Always => true,
            TrustMode::Adaptive => unpaid > 0,
        };
        let user_channel_id = lightning.random_u128();
        let driver = self.driver(lightning.as_ref());
        for _ in 0..SCID_ATTEMPTS {
            let scid = lightning.new_intercept_scid();
            let session = JitSession::new(
                node_id,
                Scid(scid),
                user_channel_id,
                validated.opening_fee_params.clone(),
                mode,
                client_trusts_lsp,
                now,
            );
            // The per-client cap is checked in the insert's transaction, so concurrent buys of
            // one client cannot pass it together.
            let cap = Some(self.config.max_open_buys_per_client);
            match self.flows.insert(&driver, &session, "buy", cap, Vec::new()).await {
                Ok(()) => {
                    info!(%client, scid = %Scid(scid), ?mode, client_trusts_lsp, "LSPS2 session bought");
                    return Ok(BuyResponse {
                        jit_channel_scid: Scid(scid),
                        lsp_cltv_expiry_delta: self.config.lsp_cltv_expiry_delta,
                        client_trusts_lsp,
                    });
                }
                Err(FlowError::Store(StoreError::DuplicateScid { .. })) => continue,
                Err(FlowError::Store(StoreError::CapReached { .. })) => {
                    return Err(rejected("too many open JIT channel purchases"));
                }
                Err(FlowError::Store(e)) => return Err(internal(e)),
                Err(e) => {
                    error!(error = %e, "cannot encode a new LSPS2 session");
                    return Err(RpcError::internal_error());
                }
            }
        }
        error!("no unused intercept SCID after {SCID_ATTEMPTS} attempts");
        Err(RpcError::internal_error())
    }

    fn ready(&self) -> Result<(Arc<dyn JitLightning>, PromiseKeyring), RpcError> {
        match (self.lightning(), self.keyring()) {
            (Some(lightning), Some(keyring)) => Ok((lightning, keyring)),
            _ => {
                warn!("LSPS2 request before a node was attached");
                Err(RpcError::internal_error())
            }
        }
    }

    /// The wallet's spendable balance minus the channels pending sessions will open.
    async fn available_sat(&self, lightning: &dyn JitLightning) -> Result<u64, StoreError> {
        let mut reserved: u64 = 0;
        for record in self.store.list_active(Kind::Lsps2Session).await?.items {
            let Ok(session) = serde_json::from_value::<JitSession>(record.body) else { continue };
            if !matches!(
                session.state,
                JitState::AwaitingPayment { .. } | JitState::AwaitingClient { .. } | JitState::OpeningChannel { .. }
            ) {
                continue;
            }
            let size = match session.mode {
                PurchaseMode::Fixed { payment_size_msat } => payment_size_msat,
                // A variable invoice may bring any size up to the entry's maximum; reserve
                // the minimum so that one variable buy cannot block the menu.
                PurchaseMode::Variable => session.opening_fee_params.min_payment_size_msat.get(),
            };
            reserved = reserved.saturating_add(self.config.sizing.channel_sat(size).unwrap_or(0));
        }
        Ok(lightning.spendable_sat().saturating_sub(reserved))
    }

    /// Unpaid channels on record for `client`: the store's recent sessions (durable) or the
    /// in-memory count, whichever is higher.
    pub(super) async fn unpaid_channels_of(&self, client: &PublicKey) -> Result<u64, StoreError> {
        let records = self.store.list_by_client(Kind::Lsps2Session, &NodeId(*client).to_string(), 100).await?;
        let durable = records
            .items
            .into_iter()
            .filter_map(|record| serde_json::from_value::<JitSession>(record.body).ok())
            .filter(|session| session.was_left_unpaid())
            .count() as u64;
        let remembered = self.unpaid.lock().unwrap_or_else(|p| p.into_inner()).get(client).copied().unwrap_or(0);
        Ok(durable.max(remembered))
    }
}

impl JitSession {
    /// Whether the client left this session's channel unpaid (abuse accounting).
    pub fn was_left_unpaid(&self) -> bool {
        use super::session::FailReason;
        matches!(
            self.state,
            JitState::ChannelUnpaid { .. }
                | JitState::Failed { reason: FailReason::ClientNeverClaimed | FailReason::ChannelNeverPaid }
        )
    }
}

/// The store id of a session: its `user_channel_id` in hex, so channel events find it directly.
pub fn session_id(user_channel_id: u128) -> String {
    format!("{user_channel_id:032x}")
}

fn rejected(message: &str) -> RpcError {
    Lsps2Error::ClientRejected { message: message.to_owned() }.to_rpc_error()
}

fn internal(error: StoreError) -> RpcError {
    error!(%error, "LSPS2 store failure");
    RpcError::internal_error()
}

impl ProtocolHandler for Arc<Lsps2Service> {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps2
    }

    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        let service = Arc::clone(self);
        Box::pin(async move {
            match request {
                Request::Lsps2GetInfo(params) => service.get_info(peer, params).await.map(Response::Lsps2GetInfo),
                Request::Lsps2Buy(params) => service.buy(peer, params).await.map(Response::Lsps2Buy),
                other => {
                    error!(method = other.method().name(), "LSPS2 handler got another protocol's request");
                    Err(RpcError::internal_error())
                }
            }
        })
    }
}
