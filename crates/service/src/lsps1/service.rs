//! [`Lsps1Service`]: the LSP's LSPS1 handler (`lsps1.get_info`, `lsps1.create_order`,
//! `lsps1.get_order`) and the owner of the orders. The event side is in `runner.rs`, the node
//! adapter in `lightning.rs`.
//!
//! `create_order` persists the order (with its hold invoice's preimage and its deposit
//! address) *before* the answer leaves, so every invoice and address a client has seen has an
//! order behind it. The store's SCID column holds the first 8 bytes of the order's payment
//! hash, so `PaymentClaimable` finds its order in one indexed lookup.
//!
//! The answers are built here: [`to_wire`] as bLIP-51 says, then shaped for the clients the
//! LSP serves ([`Compat::lsps1_order`]); [`Compat`] also decides whether the on-chain option is
//! offered at all.

use std::sync::{Arc, RwLock};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;
use inbound_store::{Store, StoreError};
use lsps::jsonrpc::RpcError;
use lsps::lsps1::{
    order_total_sat, validate_create_order, Bolt11Payment, ChannelInfo, CreateOrderRequest, GetInfoRequest,
    GetInfoResponse, GetOrderRequest, Lsps1Error, OnchainPayment, Order, PaymentInfo,
};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{FeeRate, NodeId, SatAmount};
use tracing::{error, info, warn};

use super::config::{Lsps1Config, Lsps1ConfigError};
use super::ops::OrderLightning;
use super::order::{HoldInvoice, OnchainTerms, OrderBook, OrderEffect, OrderStatus, Payment};
use super::runner::RunnerState;
use crate::address_book::PeerAddressBook;
use crate::clock::Clock;
use crate::compat::Compat;
use crate::flow::{FlowError, FlowRunner, RetryPolicy};
use crate::ids::PaymentHashRef;
use crate::server::{BoxFuture, ProtocolHandler};

/// How many times `create_order` draws a preimage whose hash prefix is unused.
const HASH_ATTEMPTS: usize = 4;

/// The LSPS1 service. Create it with [`Lsps1Service::new`], register it with the
/// [`LspsServer`](crate::LspsServer), put an [`Lsps1EventHandler`](super::Lsps1EventHandler) in
/// front of the node's event handler, and [`attach`](Lsps1Service::attach) the node.
pub struct Lsps1Service {
    pub(super) config: Lsps1Config,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    lightning: RwLock<Option<Arc<dyn OrderLightning>>>,
    pub(super) runner: RunnerState,
    /// The flow kernel's runner for the orders.
    pub(super) flows: FlowRunner<OrderBook>,
    client_addresses: Arc<PeerAddressBook>,
    /// Which clients the answers are shaped for (`[lsps] compat`).
    compat: Compat,
}

impl Lsps1Service {
    /// A service with this configuration (validated), store and clock, answering as the bLIPs
    /// say ([`Compat::Spec`]).
    pub fn new(
        config: Lsps1Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Lsps1Service>, Lsps1ConfigError> {
        Lsps1Service::with_compat(config, store, clock, Compat::Spec)
    }

    /// [`Lsps1Service::new`] with answers shaped for `compat`'s clients.
    pub fn with_compat(
        config: Lsps1Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        compat: Compat,
    ) -> Result<Arc<Lsps1Service>, Lsps1ConfigError> {
        config.validate()?;
        Ok(Arc::new(Lsps1Service {
            config,
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            lightning: RwLock::new(None),
            runner: RunnerState::default(),
            flows: FlowRunner::new(store, clock, RetryPolicy::default()),
            client_addresses: Arc::new(PeerAddressBook::new()),
            compat,
        }))
    }

    /// Where clients said their nodes listen (HTTP's `x-inbound-node-address`): give it to
    /// the HTTP endpoint (`inbound_http::HttpState::with_address_book`). A new order keeps its
    /// client's address, and the service connects there to open the channel if the client is
    /// not connected.
    pub fn client_addresses(&self) -> &Arc<PeerAddressBook> {
        &self.client_addresses
    }

    /// Sets the node. Call it once the node is built, then [`Lsps1Service::resume`] after it
    /// started. Until then requests are answered with -32603.
    pub fn attach(&self, lightning: Arc<dyn OrderLightning>) {
        *self.lightning.write().unwrap_or_else(|p| p.into_inner()) = Some(lightning);
    }

    /// This service as the [`ProtocolHandler`] to register with the
    /// [`LspsServer`](crate::LspsServer).
    pub fn protocol_handler(self: &Arc<Self>) -> Arc<dyn ProtocolHandler> {
        Arc::new(Arc::clone(self))
    }

    /// The configuration.
    pub fn config(&self) -> &Lsps1Config {
        &self.config
    }

    /// Which clients the answers are shaped for.
    pub fn compat(&self) -> Compat {
        self.compat
    }

    pub(super) fn lightning(&self) -> Option<Arc<dyn OrderLightning>> {
        self.lightning.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Answers `lsps1.get_info`.
    pub fn get_info(&self, _request: GetInfoRequest) -> GetInfoResponse {
        self.config.info()
    }

    /// Answers `lsps1.create_order` for `client`: bLIP-51's checks (-32602, 100), the token
    /// (102), the per-client cap (1); then prices the options, creates the hold invoice and
    /// the deposit address, and persists the order before answering.
    pub async fn create_order(&self, client: PublicKey, request: CreateOrderRequest) -> Result<Order, RpcError> {
        let lightning = self.ready()?;
        validate_create_order(&request, &self.config.info(), lightning.network())?;
        if let Some(token) = request.token.as_deref().filter(|token| !token.is_empty()) {
            if !self.config.tokens.iter().any(|known| known == token) {
                return Err(Lsps1Error::UnrecognizedOrStaleToken.into());
            }
        }
        let node_id = NodeId(client);
        let now = self.clock.now();
        let expires_at = now.checked_add_secs(self.config.payment_window_secs).ok_or_else(RpcError::internal_error)?;
        let lsp_sat = request.lsp_balance_sat.get();
        let client_sat = request.client_balance_sat.get();
        let price = self.price(&request, lightning.fee_rate_sat_per_kwu())?;
        let (fee_sat, total_sat) = (price.fee_sat, price.order_total_sat);
        let total_msat = total_sat.checked_mul(1000).ok_or_else(overflow)?;
        let onchain = match (&request.refund_onchain_address, price.onchain) {
            (Some(refund), Some(OnchainQuote { fee_sat, order_total_sat: total_sat })) => {
                let address = lightning.new_address().map_err(|e| {
                    error!(error = %e, "cannot reveal a deposit address");
                    RpcError::internal_error()
                })?;
                Some(OnchainTerms {
                    address,
                    fee_sat,
                    total_sat,
                    min_confirmations: self.config.onchain_payment_confirmations,
                    min_fee_for_0conf: self.config.min_fee_for_0conf,
                    refund_address: Some(refund.as_str().to_owned()),
                })
            }
            _ => None,
        };
        let window = u32::try_from(self.config.payment_window_secs).unwrap_or(u32::MAX);
        for _ in 0..HASH_ATTEMPTS {
            let preimage = lightning.random_bytes();
            let hash = sha256::Hash::hash(&preimage).to_byte_array();
            let invoice = lightning
                .create_hold_invoice(hash, total_msat, window, self.config.invoice_cltv_delta)
                .map_err(|e| {
                    error!(error = %e, "cannot create a hold invoice");
                    RpcError::internal_error()
                })?;
            let order = OrderBook {
                order_id: uuid_v4(lightning.random_bytes()),
                client: node_id,
                request: request.clone(),
                created_at: now,
                expires_at,
                user_channel_id: u128::from_be_bytes(lightning.random_bytes()[..16].try_into().unwrap_or([1; 16])),
                bolt11: Some(HoldInvoice {
                    invoice,
                    payment_hash: PaymentHashRef(hash),
                    preimage: PaymentHashRef(preimage),
                    fee_sat,
                    total_sat,
                }),
                onchain: onchain.clone(),
                status: OrderStatus::AwaitingPayment { onchain_seen_sat: 0 },
                close_after_lease: self.config.close_expired_channels,
                lease_closed: false,
                client_address: self.client_addresses.get(&client),
            };
            // The per-client cap is checked in the insert's transaction, so concurrent orders of
            // one client cannot pass it together.
            let cap = Some(self.config.max_open_orders_per_client);
            match self.flows.insert(&self.driver(lightning.as_ref()), &order, "create_order", cap, Vec::new()).await {
                Ok(()) => {
                    info!(order = %order.order_id, %client, lsp_sat, client_sat, fee_sat, "LSPS1 order created");
                    return Ok(self.answer(&order));
                }
                Err(FlowError::Store(StoreError::DuplicateScid { .. })) => continue,
                Err(FlowError::Store(StoreError::CapReached { cap, .. })) => {
                    let message = format!("at most {cap} open orders per client");
                    return Err(Lsps1Error::ClientRejected { message }.into());
                }
                Err(FlowError::Store(e)) => return Err(internal(e)),
                Err(e) => {
                    error!(error = %e, "cannot encode a new LSPS1 order");
                    return Err(RpcError::internal_error());
                }
            }
        }
        error!("no unused payment-hash prefix after {HASH_ATTEMPTS} attempts");
        Err(RpcError::internal_error())
    }

    /// Creates a prepaid order (a voucher's channel: `Payment::Voucher`) for `client` and starts
    /// opening its channel. Idempotent by `order_id`: an order that exists already is left as
    /// it is. The request is checked against this LSP's terms as a client's would be.
    ///
    /// # Errors
    /// The request is outside the terms, no node is attached, or the store failed.
    pub(crate) async fn open_prepaid(
        &self,
        order_id: &str,
        client: NodeId,
        request: CreateOrderRequest,
        voucher: &str,
    ) -> Result<(), PrepaidError> {
        self.check_prepaid(&request)?;
        let lightning = self.lightning().ok_or(PrepaidError::NoNode)?;
        if self.order(order_id).await?.is_some() {
            return Ok(());
        }
        let now = self.clock.now();
        let deadline = now.checked_add_secs(self.config.policy().min_open_window_secs).unwrap_or(now);
        let order = OrderBook {
            order_id: order_id.to_owned(),
            client,
            request,
            created_at: now,
            expires_at: now,
            user_channel_id: u128::from_be_bytes(lightning.random_bytes()[..16].try_into().unwrap_or([1; 16])),
            bolt11: None,
            onchain: None,
            status: OrderStatus::Opening {
                payment: Payment::Voucher { voucher: voucher.to_owned() },
                attempts: 1,
                retry_at: None,
                deadline,
            },
            close_after_lease: self.config.close_expired_channels,
            lease_closed: false,
            client_address: self.client_addresses.get(&client.0),
        };
        let driver = self.driver(lightning.as_ref());
        match self.flows.insert(&driver, &order, "voucher_claim", None, vec![OrderEffect::OpenChannel]).await {
            Ok(()) | Err(FlowError::Store(StoreError::DuplicateId { .. })) => {}
            Err(error) => return Err(error.into()),
        }
        info!(order = %order_id, %client, lsp_sat = order.request.lsp_balance_sat.get(), "prepaid LSPS1 order created from a voucher");
        self.flows.run(&driver, [], true).await?;
        Ok(())
    }

    /// Whether a prepaid order for `request` is within this LSP's terms now.
    ///
    /// # Errors
    /// [`PrepaidError::Terms`] naming the field, or [`PrepaidError::NoNode`].
    pub(crate) fn check_prepaid(&self, request: &CreateOrderRequest) -> Result<(), PrepaidError> {
        let lightning = self.lightning().ok_or(PrepaidError::NoNode)?;
        validate_create_order(request, &self.config.info(), lightning.network()).map_err(|error| {
            let property = error.data.as_ref().and_then(|data| data.get("property")).and_then(|p| p.as_str());
            PrepaidError::Terms(
                property.map_or(error.message.clone(), |property| format!("{property} is outside the LSP's terms")),
            )
        })
    }

    /// A fresh order id (a UUIDv4 from the node's entropy), or `None` before a node is attached.
    pub(crate) fn new_order_id(&self) -> Option<String> {
        self.lightning().map(|lightning| uuid_v4(lightning.random_bytes()))
    }

    /// 32 bytes from the node's entropy, or `None` before a node is attached.
    pub(crate) fn random_bytes(&self) -> Option<[u8; 32]> {
        self.lightning().map(|lightning| lightning.random_bytes())
    }

    /// What an order of `request`'s sizes costs now, checked as `create_order` checks it (the
    /// web widget's live price; the same formula, never a copy).
    ///
    /// # Errors
    /// bLIP-51's -32602 / 100 with the property that is out of range.
    pub fn quote(&self, request: &CreateOrderRequest) -> Result<Quote, RpcError> {
        let lightning = self.ready()?;
        validate_create_order(request, &self.config.info(), lightning.network())?;
        self.price(request, lightning.fee_rate_sat_per_kwu())
    }

    /// The confirmations of the funding transaction of `client`'s completed order `order_id`
    /// (`None`: no such order of this client, not completed, or not known to the wallet).
    /// `lsps1.get_order` does not carry them; the web widget shows them.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn funding_confirmations(&self, client: PublicKey, order_id: &str) -> Result<Option<u32>, StoreError> {
        let Some(order) = self.order(order_id).await?.filter(|order| order.client.0 == client) else { return Ok(None) };
        let OrderStatus::Completed { channel, .. } = &order.status else { return Ok(None) };
        let txid = channel.funding_outpoint.split(':').next().unwrap_or_default();
        Ok(self.lightning().and_then(|lightning| lightning.tx_confirmations(txid)))
    }

    /// The fees and totals of each option for `request` at `fee_rate`.
    fn price(&self, request: &CreateOrderRequest, fee_rate: u32) -> Result<Quote, RpcError> {
        let lsp_sat = request.lsp_balance_sat.get();
        let fee_sat = self.config.fee_sat(lsp_sat, fee_rate).ok_or_else(overflow)?;
        let order_total = order_total_sat(SatAmount(fee_sat), request.client_balance_sat).ok_or_else(overflow)?.get();
        let offers_onchain = self.config.accept_onchain
            && self
                .compat
                .lsps1_offers_onchain(self.config.onchain_payment_confirmations, self.config.min_fee_for_0conf);
        let onchain = match offers_onchain {
            true => {
                let fee_sat = self.config.onchain_fee_sat(lsp_sat, fee_rate).ok_or_else(overflow)?;
                let order_total_sat = fee_sat.checked_add(request.client_balance_sat.get()).ok_or_else(overflow)?;
                Some(OnchainQuote { fee_sat, order_total_sat })
            }
            false => None,
        };
        Ok(Quote { fee_sat, order_total_sat: order_total, onchain })
    }

    /// Answers `lsps1.get_order`: only the caller's own orders; any other id is 101.
    pub async fn get_order(&self, client: PublicKey, request: GetOrderRequest) -> Result<Order, RpcError> {
        let order = self.order(&request.order_id).await.map_err(internal)?;
        match order {
            Some(order) if order.client.0 == client => Ok(self.answer(&order)),
            _ => Err(Lsps1Error::NotFound.into()),
        }
    }

    /// The stored order with this id, if any.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderBook>, StoreError> {
        if order_id.len() > lsps::lsps1::MAX_ORDER_ID_LEN {
            return Ok(None);
        }
        match self.flows.get(order_id).await {
            Ok(order) => Ok(order),
            Err(FlowError::Store(error)) => Err(error),
            Err(error @ FlowError::Codec { .. }) => {
                warn!(%error, "unreadable LSPS1 order");
                Ok(None)
            }
        }
    }

    /// The order as this LSP sends it: bLIP-51's shape, then [`Compat::lsps1_order`].
    fn answer(&self, order: &OrderBook) -> Order {
        self.compat.lsps1_order(to_wire(order), &order.request)
    }

    fn ready(&self) -> Result<Arc<dyn OrderLightning>, RpcError> {
        self.lightning().ok_or_else(|| {
            warn!("LSPS1 request before a node was attached");
            RpcError::internal_error()
        })
    }
}

/// The price of an order now ([`Lsps1Service::quote`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Quote {
    /// The Lightning option's fee.
    pub fee_sat: u64,
    /// What its invoice asks: fee + `client_balance_sat`.
    pub order_total_sat: u64,
    /// The on-chain option, when offered (to orders with a refund address).
    pub onchain: Option<OnchainQuote>,
}

/// The on-chain option's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OnchainQuote {
    /// Its fee.
    pub fee_sat: u64,
    /// What must be paid: fee + `client_balance_sat`.
    pub order_total_sat: u64,
}

/// Why a prepaid order was not created.
#[derive(Debug, thiserror::Error)]
pub enum PrepaidError {
    /// No node is attached yet.
    #[error("the LSP's node is not running")]
    NoNode,
    /// The channel is outside this LSP's terms (`lsps1.get_info`).
    #[error("outside the LSP's terms: {0}")]
    Terms(String),
    /// The store failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<StoreError> for PrepaidError {
    fn from(error: StoreError) -> PrepaidError {
        PrepaidError::Flow(FlowError::Store(error))
    }
}

/// The store's SCID key of a payment hash: its first 8 bytes.
pub(super) fn hash_key(hash: &[u8; 32]) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(prefix)
}

/// The wire `Order` of a stored order, as bLIP-51 says (`"token": ""` when the client sent
/// none, `HOLD` while the HTLC is held). The service sends it through [`Compat::lsps1_order`].
pub fn to_wire(order: &OrderBook) -> Order {
    let request = &order.request;
    let bolt11 = order.bolt11.as_ref().map(|b| Bolt11Payment {
        state: order.bolt11_state(),
        expires_at: order.expires_at,
        fee_total_sat: SatAmount(b.fee_sat),
        order_total_sat: SatAmount(b.total_sat),
        invoice: b.invoice.clone(),
    });
    let onchain = order.onchain.as_ref().and_then(|terms| {
        Some(OnchainPayment {
            state: order.onchain_state(),
            expires_at: order.expires_at,
            fee_total_sat: SatAmount(terms.fee_sat),
            order_total_sat: SatAmount(terms.total_sat),
            address: terms.address.parse().ok()?,
            min_onchain_payment_confirmations: terms.min_confirmations,
            min_fee_for_0conf: terms.min_fee_for_0conf.map(FeeRate),
            refund_onchain_address: terms.refund_address.as_deref().and_then(|a| a.parse().ok()),
        })
    });
    let channel = match &order.status {
        OrderStatus::Completed { channel, .. } => channel.funding_outpoint.parse().ok().map(|funding_outpoint| {
            ChannelInfo { funded_at: channel.funded_at, funding_outpoint, expires_at: channel.expires_at }
        }),
        _ => None,
    };
    let payment = PaymentInfo { bolt11, bolt12: None, onchain };
    Order::mirroring(request, order.order_id.clone(), order.created_at, order.order_state(), payment, channel)
}

/// A UUIDv4 from 16 of these random bytes.
fn uuid_v4(random: [u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&random[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn overflow() -> RpcError {
    RpcError::invalid_param("lsp_balance_sat", "the order total overflows")
}

fn internal(error: StoreError) -> RpcError {
    error!(%error, "LSPS1 store failure");
    RpcError::internal_error()
}

impl ProtocolHandler for Arc<Lsps1Service> {
    fn protocol(&self) -> Protocol {
        Protocol::Lsps1
    }

    fn handle(&self, peer: PublicKey, request: Request) -> BoxFuture<'static, Result<Response, RpcError>> {
        let service = Arc::clone(self);
        Box::pin(async move {
            match request {
                Request::Lsps1GetInfo(params) => Ok(Response::Lsps1GetInfo(service.get_info(params))),
                Request::Lsps1CreateOrder(params) => {
                    service.create_order(peer, params).await.map(Response::Lsps1CreateOrder)
                }
                Request::Lsps1GetOrder(params) => service.get_order(peer, params).await.map(Response::Lsps1GetOrder),
                other => {
                    error!(method = other.method().name(), "LSPS1 handler got another protocol's request");
                    Err(RpcError::internal_error())
                }
            }
        })
    }
}
