//! LSPS1 wire types (bLIP-51): `get_info`, `create_order`, `get_order` and the order,
//! payment and channel objects.

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::schema::{DateTime, FeeRate, OnchainAddress, Outpoint, SatAmount};

/// Longest `order_id` the spec allows.
pub const MAX_ORDER_ID_LEN: usize = 64;

/// Longest BOLT11 invoice or BOLT12 offer in a payment option.
pub const MAX_INVOICE_LEN: usize = 2048;

/// `lsps1.get_info` params: none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInfoRequest {}

impl Params for GetInfoRequest {
    const FIELDS: &'static [&'static str] = &[];
}

/// `lsps1.get_info` result: what the LSP sells (bLIP-51 §"lsps1.get_info").
///
/// Every min/max pair must satisfy min ≤ max ([`GetInfoResponse::validate`]). The LSP should
/// change these at most once a day.
///
/// Decoding also accepts the pre-2024-06 `{"options": {...}}` wrapper (see the `legacy`
/// module); encoding is always flat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "super::legacy::GetInfoWire")]
pub struct GetInfoResponse {
    /// The fewest confirmations the LSP waits for before `channel_ready` (0 = 0-conf).
    pub min_required_channel_confirmations: u16,
    /// The fastest confirmation target the LSP offers for the funding transaction (≥ 1).
    pub min_funding_confirms_within_blocks: u16,
    /// Whether the LSP supports zero channel reserve.
    pub supports_zero_channel_reserve: bool,
    /// The longest lease, in blocks (≥ 1).
    pub max_channel_expiry_blocks: u32,
    /// Smallest balance the client may have at open.
    pub min_initial_client_balance_sat: SatAmount,
    /// Largest balance the client may have at open.
    pub max_initial_client_balance_sat: SatAmount,
    /// Smallest balance the LSP will provide at open.
    pub min_initial_lsp_balance_sat: SatAmount,
    /// Largest balance the LSP will provide at open.
    pub max_initial_lsp_balance_sat: SatAmount,
    /// Smallest channel the LSP sells.
    pub min_channel_balance_sat: SatAmount,
    /// Largest channel the LSP sells.
    pub max_channel_balance_sat: SatAmount,
}

/// `lsps1.create_order` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderRequest {
    /// The LSP's side of the channel (≥ 1).
    pub lsp_balance_sat: SatAmount,
    /// The client's side, paid to the LSP and pushed back in the channel.
    pub client_balance_sat: SatAmount,
    /// Confirmations before `channel_ready`.
    pub required_channel_confirmations: u16,
    /// Block target for the funding transaction.
    pub funding_confirms_within_blocks: u16,
    /// The lease length in blocks.
    pub channel_expiry_blocks: u32,
    /// An optional coupon or API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Where a failed order is refunded. Without it the LSP must not offer on-chain payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_onchain_address: Option<OnchainAddress>,
    /// Whether the channel is announced.
    pub announce_channel: bool,
}

impl GetInfoResponse {
    /// An order of these sizes on the easiest terms this LSP sells: its minimum confirmations
    /// before `channel_ready` and its fastest funding target (at least 1 block), no token, no
    /// refund address. The sizes and lease are the caller's to keep within the limits.
    pub fn order_request(
        &self,
        lsp_balance_sat: u64,
        client_balance_sat: u64,
        channel_expiry_blocks: u32,
        announce_channel: bool,
    ) -> CreateOrderRequest {
        CreateOrderRequest {
            lsp_balance_sat: SatAmount(lsp_balance_sat),
            client_balance_sat: SatAmount(client_balance_sat),
            required_channel_confirmations: self.min_required_channel_confirmations,
            funding_confirms_within_blocks: self.min_funding_confirms_within_blocks.max(1),
            channel_expiry_blocks,
            token: None,
            refund_onchain_address: None,
            announce_channel,
        }
    }
}

impl Params for CreateOrderRequest {
    const FIELDS: &'static [&'static str] = &[
        "lsp_balance_sat",
        "client_balance_sat",
        "required_channel_confirmations",
        "funding_confirms_within_blocks",
        "channel_expiry_blocks",
        "token",
        "refund_onchain_address",
        "announce_channel",
    ];
}

/// `lsps1.get_order` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderRequest {
    /// The order to look up.
    pub order_id: String,
}

impl Params for GetOrderRequest {
    const FIELDS: &'static [&'static str] = &["order_id"];
}

/// The order's overall state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// Created; not yet delivered.
    Created,
    /// The funding transaction was published.
    Completed,
    /// The order failed; paid amounts are refunded.
    Failed,
}

/// The state of one payment option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    /// Waiting for the client to pay.
    ExpectPayment,
    /// Lightning only: the HTLC arrived and is held; the preimage is not released.
    Hold,
    /// Paid: the preimage was released, or the on-chain payment is confirmed.
    Paid,
    /// Refunded: the HTLC was failed back, or the on-chain refund was sent.
    /// Servers from mid-2024 send `CANCELLED` for this; it is read as `REFUNDED`.
    #[serde(alias = "CANCELLED")]
    Refunded,
}

/// `payment.bolt11`: pay by a BOLT11 hold invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bolt11Payment {
    /// The option's state.
    pub state: PaymentState,
    /// When the option stops being payable.
    pub expires_at: DateTime,
    /// The LSP's fee.
    pub fee_total_sat: SatAmount,
    /// `fee_total_sat + client_balance_sat`.
    pub order_total_sat: SatAmount,
    /// A hold invoice for exactly `order_total_sat`, at most 2048 characters.
    pub invoice: String,
}

/// `payment.bolt12`: pay by a BOLT12 offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bolt12Payment {
    /// The option's state.
    pub state: PaymentState,
    /// When the option stops being payable.
    pub expires_at: DateTime,
    /// The LSP's fee.
    pub fee_total_sat: SatAmount,
    /// `fee_total_sat + client_balance_sat`.
    pub order_total_sat: SatAmount,
    /// An offer for `order_total_sat`, at most 2048 characters.
    pub offer: String,
}

/// `payment.onchain`: pay to an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnchainPayment {
    /// The option's state (never `HOLD`).
    pub state: PaymentState,
    /// When the option stops being payable.
    pub expires_at: DateTime,
    /// The LSP's fee for this option.
    pub fee_total_sat: SatAmount,
    /// `fee_total_sat + client_balance_sat`; the client pays exactly this.
    pub order_total_sat: SatAmount,
    /// The LSP's deposit address.
    pub address: OnchainAddress,
    /// Confirmations before the payment counts.
    pub min_onchain_payment_confirmations: u16,
    /// Fee rate a 0-conf payment must exceed; absent when confirmations are required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fee_for_0conf: Option<FeeRate>,
    /// Mirror of the request's refund address (missing on servers older than Sep 2024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_onchain_address: Option<OnchainAddress>,
}

/// The `payment` object: one entry per payment option the LSP offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    /// Lightning, BOLT11 hold invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bolt11: Option<Bolt11Payment>,
    /// Lightning, BOLT12 offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bolt12: Option<Bolt12Payment>,
    /// On-chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onchain: Option<OnchainPayment>,
}

/// The `channel` object, present once the funding transaction is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// When the funding transaction was published.
    pub funded_at: DateTime,
    /// The funding output.
    pub funding_outpoint: Outpoint,
    /// The earliest time the LSP may close the channel.
    pub expires_at: DateTime,
}

/// An order: the result of `lsps1.create_order` and `lsps1.get_order`.
///
/// Decoding also accepts the pre-2024-06 shape with one flat `payment` object and an
/// order-level `expires_at`, converted into [`PaymentInfo`] (see the `legacy` module);
/// encoding is always the current shape. Clients check a received order with
/// [`check_order`](super::check_order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "super::legacy::OrderWire")]
pub struct Order {
    /// Unique id, at most 64 characters (a UUIDv4 at Inbound).
    pub order_id: String,
    /// Mirrored from the request.
    pub lsp_balance_sat: SatAmount,
    /// Mirrored from the request.
    pub client_balance_sat: SatAmount,
    /// Mirrored from the request.
    pub required_channel_confirmations: u16,
    /// Mirrored from the request.
    pub funding_confirms_within_blocks: u16,
    /// Mirrored from the request.
    pub channel_expiry_blocks: u32,
    /// Mirrored from the request. bLIP-51 asks for `""` when the client sent none; LDK's
    /// lightning-liquidity expects the mirror to be absent (or `null`) then, so `None` is sent
    /// as no member at all. Clients read absent, `null` and `""` alike as "no token".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the order was created.
    pub created_at: DateTime,
    /// Mirrored from the request.
    pub announce_channel: bool,
    /// The overall state.
    pub order_state: OrderState,
    /// The payment options.
    pub payment: PaymentInfo,
    /// The channel, once published.
    pub channel: Option<ChannelInfo>,
}

impl Order {
    /// An order for `request` that mirrors it as bLIP-51 asks: the balances, confirmations,
    /// funding target, lease and `announce_channel` as sent, and the token as sent or `""`.
    pub fn mirroring(
        request: &CreateOrderRequest,
        order_id: String,
        created_at: DateTime,
        order_state: OrderState,
        payment: PaymentInfo,
        channel: Option<ChannelInfo>,
    ) -> Order {
        Order {
            order_id,
            lsp_balance_sat: request.lsp_balance_sat,
            client_balance_sat: request.client_balance_sat,
            required_channel_confirmations: request.required_channel_confirmations,
            funding_confirms_within_blocks: request.funding_confirms_within_blocks,
            channel_expiry_blocks: request.channel_expiry_blocks,
            token: Some(request.token.clone().unwrap_or_default()),
            created_at,
            announce_channel: request.announce_channel,
            order_state,
            payment,
            channel,
        }
    }
}
