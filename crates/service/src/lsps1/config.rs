//! Configuration of the LSPS1 service ([`Lsps1Config`]): what `lsps1.get_info` announces, how
//! orders are priced, and the order timers. Every default is a named `DEFAULT_*` const below,
//! used by [`Lsps1Config::default`].
//!
//! The fee of an order is `fee_base_sat + lsp_balance_sat × fee_ppm / 10⁶ + open_tx_vbytes × 4 ×
//! fee rate (sat/kWU) / 1000`, the last part following the chain's current fee rate; the
//! on-chain option adds `onchain_extra_fee_sat` (an extra UTXO and double-spend risk).
//!
//! | field | default |
//! |---|---|
//! | `min_client_balance_sat`, `max_client_balance_sat` | [`DEFAULT_MIN_CLIENT_BALANCE_SAT`], [`DEFAULT_MAX_CLIENT_BALANCE_SAT`] |
//! | `min_lsp_balance_sat`, `max_lsp_balance_sat` | [`DEFAULT_MIN_LSP_BALANCE_SAT`], [`DEFAULT_MAX_LSP_BALANCE_SAT`] |
//! | `min_channel_balance_sat`, `max_channel_balance_sat` | [`DEFAULT_MIN_CHANNEL_BALANCE_SAT`], [`DEFAULT_MAX_CHANNEL_BALANCE_SAT`] |
//! | `min_required_channel_confirmations` | [`DEFAULT_MIN_REQUIRED_CHANNEL_CONFIRMATIONS`] |
//! | `min_funding_confirms_within_blocks` | [`DEFAULT_MIN_FUNDING_CONFIRMS_WITHIN_BLOCKS`] |
//! | `supports_zero_channel_reserve` | [`DEFAULT_SUPPORTS_ZERO_CHANNEL_RESERVE`] |
//! | `max_channel_expiry_blocks` | [`DEFAULT_MAX_CHANNEL_EXPIRY_BLOCKS`] |
//! | `fee_base_sat`, `fee_ppm`, `open_tx_vbytes` | [`DEFAULT_FEE_BASE_SAT`], [`DEFAULT_FEE_PPM`], [`DEFAULT_OPEN_TX_VBYTES`] |
//! | `onchain_extra_fee_sat`, `accept_onchain` | [`DEFAULT_ONCHAIN_EXTRA_FEE_SAT`], [`DEFAULT_ACCEPT_ONCHAIN`] |
//! | `onchain_payment_confirmations`, `min_fee_for_0conf` | [`DEFAULT_ONCHAIN_PAYMENT_CONFIRMATIONS`], [`DEFAULT_MIN_FEE_FOR_0CONF`] |
//! | `payment_window_secs` | [`DEFAULT_PAYMENT_WINDOW_SECS`] |
//! | `invoice_cltv_delta`, `htlc_safety_blocks` | [`DEFAULT_INVOICE_CLTV_DELTA`], [`DEFAULT_HTLC_SAFETY_BLOCKS`] |
//! | `min_open_window_secs` | [`DEFAULT_MIN_OPEN_WINDOW_SECS`] |
//! | `open_retry_base_secs`, `open_retry_max_secs` | [`DEFAULT_OPEN_RETRY_BASE_SECS`], [`DEFAULT_OPEN_RETRY_MAX_SECS`] |
//! | `refund_retry_secs`, `refund_fee_rate`, `refund_bump_after_blocks` | [`DEFAULT_REFUND_RETRY_SECS`], [`DEFAULT_REFUND_FEE_RATE`], [`DEFAULT_REFUND_BUMP_AFTER_BLOCKS`] |
//! | `max_open_orders_per_client` | [`DEFAULT_MAX_OPEN_ORDERS_PER_CLIENT`] |
//! | `tokens` | [`DEFAULT_TOKENS`] |
//! | `close_expired_channels` | [`DEFAULT_CLOSE_EXPIRED_CHANNELS`] |
//! | `connect_private_addresses` | [`DEFAULT_CONNECT_PRIVATE_ADDRESSES`] |

use lsps::lsps1::GetInfoResponse;
use lsps::schema::SatAmount;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::order::OrderPolicy;

/// Clients may order a channel without pushing any balance to their side.
pub const DEFAULT_MIN_CLIENT_BALANCE_SAT: u64 = 0;
/// At most 0.01 BTC pushed to the client's side (the client pays it with the order).
pub const DEFAULT_MAX_CLIENT_BALANCE_SAT: u64 = 1_000_000;
/// The smallest inbound liquidity sold.
pub const DEFAULT_MIN_LSP_BALANCE_SAT: u64 = 20_000;
/// At most 0.1 BTC of inbound liquidity per order.
pub const DEFAULT_MAX_LSP_BALANCE_SAT: u64 = 10_000_000;
/// The smallest channel, both balances together.
pub const DEFAULT_MIN_CHANNEL_BALANCE_SAT: u64 = 20_000;
/// The largest channel without wumbo (2²⁴ − 1 sat).
pub const DEFAULT_MAX_CHANNEL_BALANCE_SAT: u64 = 16_777_215;
/// The LSP may send `channel_ready` at once (0-conf), as wallets expect.
pub const DEFAULT_MIN_REQUIRED_CHANNEL_CONFIRMATIONS: u16 = 0;
/// The funding is meant to confirm within an hour of blocks.
pub const DEFAULT_MIN_FUNDING_CONFIRMS_WITHIN_BLOCKS: u16 = 6;
/// Channels keep their reserve unless an operator opts in.
pub const DEFAULT_SUPPORTS_ZERO_CHANNEL_RESERVE: bool = false;
/// The longest lease sold: about three months of blocks.
pub const DEFAULT_MAX_CHANNEL_EXPIRY_BLOCKS: u32 = 13_140;
/// Fixed part of the fee.
pub const DEFAULT_FEE_BASE_SAT: u64 = 1_000;
/// Proportional part of the fee: 0.5 % of `lsp_balance_sat`.
pub const DEFAULT_FEE_PPM: u32 = 5_000;
/// A funding transaction with a couple of inputs and a change output, in vbytes.
pub const DEFAULT_OPEN_TX_VBYTES: u64 = 250;
/// Extra fee of the on-chain option: the LSP spends one more UTXO and takes a double-spend risk.
pub const DEFAULT_ONCHAIN_EXTRA_FEE_SAT: u64 = 1_000;
/// The on-chain option is offered (to clients giving a refund address).
pub const DEFAULT_ACCEPT_ONCHAIN: bool = true;
/// An on-chain payment counts after one confirmation.
pub const DEFAULT_ONCHAIN_PAYMENT_CONFIRMATIONS: u16 = 1;
/// No `min_fee_for_0conf`: bLIP-51 allows it only with 0 confirmations.
pub const DEFAULT_MIN_FEE_FOR_0CONF: Option<u64> = None;
/// The payment options stay payable for an hour.
pub const DEFAULT_PAYMENT_WINDOW_SECS: u64 = 3_600;
/// A day of blocks: room to hold an HTLC through the payment window, the open and its retries.
pub const DEFAULT_INVOICE_CLTV_DELTA: u16 = 144;
/// A held HTLC is failed back two hours of blocks before its claim deadline.
pub const DEFAULT_HTLC_SAFETY_BLOCKS: u32 = 12;
/// After a payment, at least ten minutes to open before refunding.
pub const DEFAULT_MIN_OPEN_WINDOW_SECS: u64 = 600;
/// First delay between open attempts.
pub const DEFAULT_OPEN_RETRY_BASE_SECS: u64 = 10;
/// Longest delay between open attempts.
pub const DEFAULT_OPEN_RETRY_MAX_SECS: u64 = 300;
/// Delay before retrying a refund that could not be built (the wallet may be syncing).
pub const DEFAULT_REFUND_RETRY_SECS: u64 = 60;
/// Refunds pay the node's current fee estimate (0 means "use the estimate").
pub const DEFAULT_REFUND_FEE_RATE: u32 = 0;
/// A refund still unconfirmed after 36 blocks (about 6 hours, bLIP-51) is fee-bumped.
pub const DEFAULT_REFUND_BUMP_AFTER_BLOCKS: u32 = 36;
/// Unfinished orders one client may have at once.
pub const DEFAULT_MAX_OPEN_ORDERS_PER_CLIENT: u64 = 5;
/// No token is accepted: any non-empty token is refused with 102.
pub const DEFAULT_TOKENS: &[&str] = &[];
/// Leased channels stay open after their lease unless the operator opts in.
pub const DEFAULT_CLOSE_EXPIRED_CHANNELS: bool = false;
/// Client addresses that resolve to non-public IPs are not dialled (an SSRF guard).
pub const DEFAULT_CONNECT_PRIVATE_ADDRESSES: bool = false;

/// The LSPS1 service's configuration. [`Lsps1Config::default`] is a sane small LSP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lsps1Config {
    /// Smallest `client_balance_sat` (get_info `min_initial_client_balance_sat`).
    pub min_client_balance_sat: u64,
    /// Largest `client_balance_sat`.
    pub max_client_balance_sat: u64,
    /// Smallest `lsp_balance_sat`.
    pub min_lsp_balance_sat: u64,
    /// Largest `lsp_balance_sat`.
    pub max_lsp_balance_sat: u64,
    /// Smallest channel.
    pub min_channel_balance_sat: u64,
    /// Largest channel (16 777 215 without wumbo).
    pub max_channel_balance_sat: u64,
    /// `min_required_channel_confirmations` (0: the LSP may send channel_ready at once).
    pub min_required_channel_confirmations: u16,
    /// `min_funding_confirms_within_blocks` (≥ 1).
    pub min_funding_confirms_within_blocks: u16,
    /// `supports_zero_channel_reserve`.
    pub supports_zero_channel_reserve: bool,
    /// `max_channel_expiry_blocks` (≥ 1): the longest lease sold.
    pub max_channel_expiry_blocks: u32,
    /// Fixed part of the fee.
    pub fee_base_sat: u64,
    /// Proportional part of the fee, in millionths of `lsp_balance_sat`.
    pub fee_ppm: u32,
    /// Estimated size of the funding transaction the fee pays for, in vbytes.
    pub open_tx_vbytes: u64,
    /// Extra fee of the on-chain option.
    pub onchain_extra_fee_sat: u64,
    /// Whether the on-chain option is offered (only to clients giving a refund address).
    pub accept_onchain: bool,
    /// `min_onchain_payment_confirmations`.
    pub onchain_payment_confirmations: u16,
    /// `min_fee_for_0conf` in sat/kWU, offered only with 0 confirmations.
    pub min_fee_for_0conf: Option<u64>,
    /// How long the payment options stay payable (the invoice expiry).
    pub payment_window_secs: u64,
    /// `min_final_cltv_expiry_delta` of the hold invoices: how long the LSP may hold the HTLC.
    pub invoice_cltv_delta: u16,
    /// A held HTLC is failed back this many blocks before its claim deadline.
    pub htlc_safety_blocks: u32,
    /// After the payment, at least this long is given to open before refunding.
    pub min_open_window_secs: u64,
    /// First delay between open attempts; doubles up to `open_retry_max_secs`.
    pub open_retry_base_secs: u64,
    /// Longest delay between open attempts.
    pub open_retry_max_secs: u64,
    /// Delay before retrying a refund that could not be built.
    pub refund_retry_secs: u64,
    /// Fee rate of refund transactions in sat/kWU (0: the node's current estimate).
    pub refund_fee_rate: u32,
    /// Fee-bump (RBF) a refund still unconfirmed after this many blocks (36 ≈ 6 h, bLIP-51).
    pub refund_bump_after_blocks: u32,
    /// Unfinished orders one client may have; more → code 1.
    pub max_open_orders_per_client: u64,
    /// Accepted tokens (coupons); any other non-empty token → 102.
    pub tokens: Vec<String>,
    /// Close leased channels cooperatively after their lease when no HTLC is in flight (never
    /// before). Off by default; applies to orders created while it is on.
    pub close_expired_channels: bool,
    /// Connect to client addresses (`x-inbound-node-address`) that resolve to loopback,
    /// private, link-local or other non-public IPs. Off by default (tests and private networks
    /// turn it on).
    pub connect_private_addresses: bool,
}

impl Default for Lsps1Config {
    fn default() -> Self {
        Lsps1Config {
            min_client_balance_sat: DEFAULT_MIN_CLIENT_BALANCE_SAT,
            max_client_balance_sat: DEFAULT_MAX_CLIENT_BALANCE_SAT,
            min_lsp_balance_sat: DEFAULT_MIN_LSP_BALANCE_SAT,
            max_lsp_balance_sat: DEFAULT_MAX_LSP_BALANCE_SAT,
            min_channel_balance_sat: DEFAULT_MIN_CHANNEL_BALANCE_SAT,
            max_channel_balance_sat: DEFAULT_MAX_CHANNEL_BALANCE_SAT,
            min_required_channel_confirmations: DEFAULT_MIN_REQUIRED_CHANNEL_CONFIRMATIONS,
            min_funding_confirms_within_blocks: DEFAULT_MIN_FUNDING_CONFIRMS_WITHIN_BLOCKS,
            supports_zero_channel_reserve: DEFAULT_SUPPORTS_ZERO_CHANNEL_RESERVE,
            max_channel_expiry_blocks: DEFAULT_MAX_CHANNEL_EXPIRY_BLOCKS,
            fee_base_sat: DEFAULT_FEE_BASE_SAT,
            fee_ppm: DEFAULT_FEE_PPM,
            open_tx_vbytes: DEFAULT_OPEN_TX_VBYTES,
            onchain_extra_fee_sat: DEFAULT_ONCHAIN_EXTRA_FEE_SAT,
            accept_onchain: DEFAULT_ACCEPT_ONCHAIN,
            onchain_payment_confirmations: DEFAULT_ONCHAIN_PAYMENT_CONFIRMATIONS,
            min_fee_for_0conf: DEFAULT_MIN_FEE_FOR_0CONF,
            payment_window_secs: DEFAULT_PAYMENT_WINDOW_SECS,
            invoice_cltv_delta: DEFAULT_INVOICE_CLTV_DELTA,
            htlc_safety_blocks: DEFAULT_HTLC_SAFETY_BLOCKS,
            min_open_window_secs: DEFAULT_MIN_OPEN_WINDOW_SECS,
            open_retry_base_secs: DEFAULT_OPEN_RETRY_BASE_SECS,
            open_retry_max_secs: DEFAULT_OPEN_RETRY_MAX_SECS,
            refund_retry_secs: DEFAULT_REFUND_RETRY_SECS,
            refund_fee_rate: DEFAULT_REFUND_FEE_RATE,
            refund_bump_after_blocks: DEFAULT_REFUND_BUMP_AFTER_BLOCKS,
            max_open_orders_per_client: DEFAULT_MAX_OPEN_ORDERS_PER_CLIENT,
            tokens: DEFAULT_TOKENS.iter().map(|token| (*token).to_owned()).collect(),
            close_expired_channels: DEFAULT_CLOSE_EXPIRED_CHANNELS,
            connect_private_addresses: DEFAULT_CONNECT_PRIVATE_ADDRESSES,
        }
    }
}

/// Why an [`Lsps1Config`] is refused; each names the key at fault.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Lsps1ConfigError {
    /// A min/max pair is reversed.
    #[error("{min} ({min_value}) is above {max} ({max_value})")]
    Reversed {
        /// The min key.
        min: &'static str,
        /// Its value.
        min_value: u64,
        /// The max key.
        max: &'static str,
        /// Its value.
        max_value: u64,
    },
    /// A value outside its range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> Lsps1ConfigError {
    Lsps1ConfigError::Invalid { key, reason: reason.into() }
}

impl Lsps1Config {
    /// Checks the configuration; the error names the key.
    pub fn validate(&self) -> Result<(), Lsps1ConfigError> {
        for (min, min_value, max, max_value) in [
            (
                "min_client_balance_sat",
                self.min_client_balance_sat,
                "max_client_balance_sat",
                self.max_client_balance_sat,
            ),
            ("min_lsp_balance_sat", self.min_lsp_balance_sat, "max_lsp_balance_sat", self.max_lsp_balance_sat),
            (
                "min_channel_balance_sat",
                self.min_channel_balance_sat,
                "max_channel_balance_sat",
                self.max_channel_balance_sat,
            ),
            ("open_retry_base_secs", self.open_retry_base_secs, "open_retry_max_secs", self.open_retry_max_secs),
        ] {
            if min_value > max_value {
                return Err(Lsps1ConfigError::Reversed { min, min_value, max, max_value });
            }
        }
        if self.max_lsp_balance_sat == 0 {
            return Err(invalid("max_lsp_balance_sat", "must be at least 1"));
        }
        if self.min_funding_confirms_within_blocks == 0 {
            return Err(invalid("min_funding_confirms_within_blocks", "must be at least 1"));
        }
        if self.max_channel_expiry_blocks == 0 {
            return Err(invalid("max_channel_expiry_blocks", "must be at least 1"));
        }
        if self.fee_ppm > 1_000_000 {
            return Err(invalid("fee_ppm", "must be at most 1000000 (100 %)"));
        }
        if self.payment_window_secs < 60 {
            return Err(invalid("payment_window_secs", "must be at least 60"));
        }
        if self.refund_bump_after_blocks == 0 {
            return Err(invalid("refund_bump_after_blocks", "must be at least 1"));
        }
        if self.open_retry_base_secs == 0 {
            return Err(invalid("open_retry_base_secs", "must be at least 1"));
        }
        if self.min_fee_for_0conf.is_some() && self.onchain_payment_confirmations > 0 {
            return Err(invalid("min_fee_for_0conf", "bLIP-51 allows it only with onchain_payment_confirmations = 0"));
        }
        if self.onchain_payment_confirmations > 6 {
            return Err(invalid("onchain_payment_confirmations", "bLIP-51 counts a payment after 6 at the latest"));
        }
        // An HTLC arriving as the window opens may be held until the window ends plus the
        // open window (and a last retry): leave twice that, at 10 minutes a block, inside the
        // CLTV the invoice asks for, after the safety margin.
        let holdable_blocks = u64::from(self.invoice_cltv_delta).saturating_sub(u64::from(self.htlc_safety_blocks));
        let needed_secs = self
            .payment_window_secs
            .saturating_add(self.min_open_window_secs)
            .saturating_add(self.open_retry_max_secs)
            .saturating_mul(2);
        if self.htlc_safety_blocks < 3 {
            return Err(invalid("htlc_safety_blocks", "must be at least 3"));
        }
        if holdable_blocks.saturating_mul(600) < needed_secs {
            return Err(invalid(
                "invoice_cltv_delta",
                format!(
                    "{} blocks minus htlc_safety_blocks ({}) cannot hold an HTLC for twice payment_window_secs + min_open_window_secs + open_retry_max_secs ({needed_secs} s)",
                    self.invoice_cltv_delta, self.htlc_safety_blocks
                ),
            ));
        }
        if self.info().validate().is_err() {
            return Err(invalid("lsps1", "the announced get_info terms are inconsistent"));
        }
        Ok(())
    }

    /// The `lsps1.get_info` answer.
    pub fn info(&self) -> GetInfoResponse {
        GetInfoResponse {
            min_required_channel_confirmations: self.min_required_channel_confirmations,
            min_funding_confirms_within_blocks: self.min_funding_confirms_within_blocks,
            supports_zero_channel_reserve: self.supports_zero_channel_reserve,
            max_channel_expiry_blocks: self.max_channel_expiry_blocks,
            min_initial_client_balance_sat: SatAmount(self.min_client_balance_sat),
            max_initial_client_balance_sat: SatAmount(self.max_client_balance_sat),
            min_initial_lsp_balance_sat: SatAmount(self.min_lsp_balance_sat),
            max_initial_lsp_balance_sat: SatAmount(self.max_lsp_balance_sat),
            min_channel_balance_sat: SatAmount(self.min_channel_balance_sat),
            max_channel_balance_sat: SatAmount(self.max_channel_balance_sat),
        }
    }

    /// The Lightning option's fee for `lsp_balance_sat` at `fee_rate_sat_per_kwu`, or `None` on
    /// overflow.
    pub fn fee_sat(&self, lsp_balance_sat: u64, fee_rate_sat_per_kwu: u32) -> Option<u64> {
        let proportional =
            u64::try_from(u128::from(lsp_balance_sat).checked_mul(u128::from(self.fee_ppm))?.checked_div(1_000_000)?)
                .ok()?;
        let chain =
            self.open_tx_vbytes.checked_mul(4)?.checked_mul(u64::from(fee_rate_sat_per_kwu))?.checked_div(1000)?;
        self.fee_base_sat.checked_add(proportional)?.checked_add(chain)
    }

    /// The on-chain option's fee, or `None` on overflow.
    pub fn onchain_fee_sat(&self, lsp_balance_sat: u64, fee_rate_sat_per_kwu: u32) -> Option<u64> {
        self.fee_sat(lsp_balance_sat, fee_rate_sat_per_kwu)?.checked_add(self.onchain_extra_fee_sat)
    }

    /// The timers the order state machine uses.
    pub fn policy(&self) -> OrderPolicy {
        OrderPolicy {
            htlc_safety_blocks: self.htlc_safety_blocks,
            open_retry_base_secs: self.open_retry_base_secs,
            open_retry_max_secs: self.open_retry_max_secs,
            min_open_window_secs: self.min_open_window_secs,
            refund_retry_secs: self.refund_retry_secs,
            block_secs: 600,
            refund_bump_after_blocks: self.refund_bump_after_blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Lsps1Config::default().validate().expect("defaults");
    }

    #[test]
    fn errors_name_the_key() {
        let config = Lsps1Config { min_lsp_balance_sat: 5, max_lsp_balance_sat: 4, ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("min_lsp_balance_sat"));
        let config = Lsps1Config { min_fee_for_0conf: Some(253), ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("min_fee_for_0conf"));
        let config = Lsps1Config { invoice_cltv_delta: 14, ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("invoice_cltv_delta"));
        let config = Lsps1Config { fee_ppm: 2_000_000, ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("fee_ppm"));
    }

    #[test]
    fn fee_follows_the_chain_and_never_overflows() {
        let config = Lsps1Config::default();
        // 1000 + 1_000_000 × 0.5 % + 250 vB × 4 × 253 / 1000
        assert_eq!(config.fee_sat(1_000_000, 253), Some(1_000 + 5_000 + 253));
        assert!(config.fee_sat(1_000_000, 2_530).unwrap() > config.fee_sat(1_000_000, 253).unwrap());
        assert_eq!(config.onchain_fee_sat(1_000_000, 253), Some(1_000 + 5_000 + 253 + 1_000));
        let huge = Lsps1Config { fee_base_sat: u64::MAX, ..Default::default() };
        assert_eq!(huge.fee_sat(1, 253), None);
        let full = Lsps1Config { fee_ppm: 1_000_000, ..Default::default() };
        assert_eq!(full.fee_sat(u64::MAX, 0), None);
    }
}
