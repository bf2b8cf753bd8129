//! Configuration of the LSPS1 service ([`Lsps1Config`]): what `lsps1.get_info` announces, how
//! orders are priced, and the order timers.
//!
//! The fee of an order is `fee_base_sat + lsp_balance_sat × fee_ppm / 10⁶ + open_tx_vbytes × 4 ×
//! fee rate (sat/kWU) / 1000`, the last part following the chain's current fee rate; the
//! on-chain option adds `onchain_extra_fee_sat` (an extra UTXO and double-spend risk).

use lsps::lsps1::GetInfoResponse;
use lsps::schema::SatAmount;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::order::OrderPolicy;

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
            min_client_balance_sat: 0,
            max_client_balance_sat: 1_000_000,
            min_lsp_balance_sat: 20_000,
            max_lsp_balance_sat: 10_000_000,
            min_channel_balance_sat: 20_000,
            max_channel_balance_sat: 16_777_215,
            min_required_channel_confirmations: 0,
            min_funding_confirms_within_blocks: 6,
            supports_zero_channel_reserve: false,
            max_channel_expiry_blocks: 13_140,
            fee_base_sat: 1_000,
            fee_ppm: 5_000,
            open_tx_vbytes: 250,
            onchain_extra_fee_sat: 1_000,
            accept_onchain: true,
            onchain_payment_confirmations: 1,
            min_fee_for_0conf: None,
            payment_window_secs: 3_600,
            invoice_cltv_delta: 144,
            htlc_safety_blocks: 12,
            min_open_window_secs: 600,
            open_retry_base_secs: 10,
            open_retry_max_secs: 300,
            refund_retry_secs: 60,
            refund_fee_rate: 0,
            refund_bump_after_blocks: 36,
            max_open_orders_per_client: 5,
            tokens: Vec::new(),
            close_expired_channels: false,
            connect_private_addresses: false,
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
