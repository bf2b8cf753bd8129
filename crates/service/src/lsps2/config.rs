//! Configuration of the LSPS2 service ([`Lsps2Config`]) and its defaults.
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `public_menu` | [`default_tiers`] | fee tiers offered to `lsps2.get_info` without a token |
//! | `token_menus` | none | token → tiers; an unknown token is answered with 200 |
//! | `valid_for_secs` | [`DEFAULT_VALID_FOR_SECS`] | `valid_until = now + this` (bLIP-52: ≥ 10 min) |
//! | `min_lifetime_blocks` | [`DEFAULT_MIN_LIFETIME_BLOCKS`] | `min_lifetime` of every entry |
//! | `max_client_to_self_delay_blocks` | [`DEFAULT_MAX_CLIENT_TO_SELF_DELAY_BLOCKS`] | cap on the client's `to_self_delay` |
//! | `lsp_cltv_expiry_delta` | [`DEFAULT_LSP_CLTV_EXPIRY_DELTA`] | route-hint CLTV delta returned by `buy` |
//! | `trust` | [`TrustMode::Adaptive`] | when `client_trusts_lsp` is `true` |
//! | `sizing` | [`ChannelSizing::default`] | JIT channel size from the forwarded amount |
//! | `min_fee_open_weight_wu`, `min_fee_multiplier` | [`DEFAULT_MIN_FEE_OPEN_WEIGHT_WU`], [`DEFAULT_MIN_FEE_MULTIPLIER`] | the fee floor that follows the chain fee rate |
//! | `max_open_buys_per_client` | [`DEFAULT_MAX_OPEN_BUYS_PER_CLIENT`] | unfinished purchases per client; more → code 1 |
//! | `max_unpaid_channels_per_client` | [`DEFAULT_MAX_UNPAID_CHANNELS_PER_CLIENT`] | unpaid channels after which a client is rejected (code 1) |
//! | `policy` | [`SessionPolicy::default`] | the session timers |
//! | `promise_key_id`, `previous_promise_key` | 1, none | promise key rotation ([`crate::lsps2::keys`]) |
//!
//! # Trust default
//!
//! bLIP-52 says the LSP *should* default to LSP-trusts-client. Inbound defaults to
//! [`TrustMode::Adaptive`]: every client starts with `client_trusts_lsp: false` (the spec's
//! default, so wallets that refuse `true` work), and only a client that already left the LSP
//! with an unpaid channel is told `true` on its next purchase, so that a repeat costs the LSP
//! nothing on chain (digest §4.12, "\[ours\] track per-client failures").

use std::collections::BTreeMap;

use lsps::lsps2::{check_raw_menu, MenuError, RawOpeningFeeParams};
use lsps::schema::{DateTime, MsatAmount, Ppm};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::session::SessionPolicy;

/// Offers are valid for 20 minutes: twice bLIP-52's recommended minimum, enough for a payer.
pub const DEFAULT_VALID_FOR_SECS: u64 = 1200;
/// bLIP-52 recommends at least 10 minutes of validity.
pub const MIN_VALID_FOR_SECS: u64 = 600;
/// About a month of blocks, lightning-liquidity's example value.
pub const DEFAULT_MIN_LIFETIME_BLOCKS: u32 = 4320;
/// Two weeks of blocks, LDK's default `their_to_self_delay` limit.
pub const DEFAULT_MAX_CLIENT_TO_SELF_DELAY_BLOCKS: u32 = 2016;
/// LDK's default `cltv_expiry_delta` is 72; a day of blocks leaves the LSP time to open.
pub const DEFAULT_LSP_CLTV_EXPIRY_DELTA: u32 = 144;
/// Over-provision the channel by 2 % over the forwarded amount (the client's 1 % reserve and
/// room for a next payment).
pub const DEFAULT_OVERPROVISIONING_PPM: u32 = 20_000;
/// Added to every channel for the LSP's reserve floor (1000 sat) and commitment fees.
pub const DEFAULT_HEADROOM_SAT: u64 = 10_000;
/// The smallest JIT channel opened.
pub const DEFAULT_MIN_CHANNEL_SAT: u64 = 100_000;
/// The largest JIT channel opened (the non-wumbo limit).
pub const DEFAULT_MAX_CHANNEL_SAT: u64 = 16_777_215;
/// A funding transaction with a couple of inputs and a change output, plus a share of the
/// eventual close, in weight units.
pub const DEFAULT_MIN_FEE_OPEN_WEIGHT_WU: u64 = 1_000;
/// The fee floor is twice the on-chain cost of the open at the current rate.
pub const DEFAULT_MIN_FEE_MULTIPLIER: u64 = 2;
/// Unfinished purchases one client may hold at once.
pub const DEFAULT_MAX_OPEN_BUYS_PER_CLIENT: u64 = 5;
/// Unpaid channels after which a client is rejected with code 1.
pub const DEFAULT_MAX_UNPAID_CHANNELS_PER_CLIENT: u64 = 3;

/// The fee tiers offered by default: small, medium and large payments, each strictly more
/// expensive than the one before (bLIP-52 menu ordering).
pub fn default_tiers() -> Vec<FeeTier> {
    vec![
        FeeTier {
            min_fee_msat: 2_000_000,
            proportional: 4_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 100_000_000,
        },
        FeeTier {
            min_fee_msat: 5_000_000,
            proportional: 5_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 1_000_000_000,
        },
        FeeTier {
            min_fee_msat: 10_000_000,
            proportional: 8_000,
            min_payment_size_msat: 1_000_000,
            max_payment_size_msat: 10_000_000_000,
        },
    ]
}

/// One menu entry before `valid_until`, the timers and the promise are added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTier {
    /// Fee floor (raised to the chain-fee floor when that is higher).
    pub min_fee_msat: u64,
    /// Fee per million msat of payment size.
    pub proportional: u32,
    /// Smallest payment, inclusive.
    pub min_payment_size_msat: u64,
    /// Largest payment, inclusive (lowered to what the wallet can fund now).
    pub max_payment_size_msat: u64,
}

/// When `lsps2.buy` answers `client_trusts_lsp: true` (bLIP-52 §"Trust models").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustMode {
    /// Always LSP-trusts-client: broadcast at once.
    Never,
    /// Always client-trusts-LSP: hold the funding until the fee is collected.
    Always,
    /// LSP-trusts-client, except for clients with an unpaid channel on record.
    Adaptive,
}

/// How big the JIT channel is for a forwarded amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSizing {
    /// Extra capacity over the forwarded amount, per million.
    pub overprovisioning_ppm: u32,
    /// Fixed extra capacity for reserve and fees.
    pub headroom_sat: u64,
    /// Smallest channel.
    pub min_channel_sat: u64,
    /// Largest channel; larger payments are refused (203 / not offered).
    pub max_channel_sat: u64,
}

impl Default for ChannelSizing {
    fn default() -> Self {
        ChannelSizing {
            overprovisioning_ppm: DEFAULT_OVERPROVISIONING_PPM,
            headroom_sat: DEFAULT_HEADROOM_SAT,
            min_channel_sat: DEFAULT_MIN_CHANNEL_SAT,
            max_channel_sat: DEFAULT_MAX_CHANNEL_SAT,
        }
    }
}

impl ChannelSizing {
    /// The channel opened to forward `forward_msat`: `ceil(forward) × (1 + ppm) + headroom`,
    /// at least `min_channel_sat`. `None` above `max_channel_sat` or on overflow.
    pub fn channel_sat(&self, forward_msat: u64) -> Option<u64> {
        let forward_sat = forward_msat.div_ceil(1000);
        let extra = forward_sat.checked_mul(u64::from(self.overprovisioning_ppm))?.div_ceil(1_000_000);
        let size = forward_sat.checked_add(extra)?.checked_add(self.headroom_sat)?.max(self.min_channel_sat);
        (size <= self.max_channel_sat).then_some(size)
    }

    /// The largest forward whose channel fits in `available_sat` (and `max_channel_sat`).
    pub fn max_forward_msat(&self, available_sat: u64) -> u64 {
        let budget = available_sat.min(self.max_channel_sat).saturating_sub(self.headroom_sat);
        let forward_sat = u128::from(budget) * 1_000_000 / (1_000_000 + u128::from(self.overprovisioning_ppm)).max(1);
        let mut forward_msat = u64::try_from(forward_sat).unwrap_or(u64::MAX).saturating_mul(1000);
        // Rounding may overshoot by a satoshi; step down until the channel fits.
        while forward_msat > 0 && self.channel_sat(forward_msat).is_none_or(|size| size > available_sat) {
            forward_msat = forward_msat.saturating_sub(1000);
        }
        forward_msat
    }
}

/// The whole LSPS2 service configuration. See the module documentation for defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lsps2Config {
    /// Tiers offered without a token.
    pub public_menu: Vec<FeeTier>,
    /// Tiers offered for a token; a token not listed is answered with 200.
    pub token_menus: BTreeMap<String, Vec<FeeTier>>,
    /// Seconds from `get_info` to `valid_until`.
    pub valid_for_secs: u64,
    /// `min_lifetime` of every entry, blocks.
    pub min_lifetime_blocks: u32,
    /// `max_client_to_self_delay` of every entry, blocks; also the channel's limit.
    pub max_client_to_self_delay_blocks: u32,
    /// Route-hint CLTV delta (≤ 65535).
    pub lsp_cltv_expiry_delta: u32,
    /// When clients must trust the LSP.
    pub trust: TrustMode,
    /// Channel sizing.
    pub sizing: ChannelSizing,
    /// Weight of an open, for the chain-fee floor.
    pub min_fee_open_weight_wu: u64,
    /// Multiplier of the open's cost, for the chain-fee floor.
    pub min_fee_multiplier: u64,
    /// Unfinished purchases per client.
    pub max_open_buys_per_client: u64,
    /// Unpaid channels before rejection.
    pub max_unpaid_channels_per_client: u64,
    /// Session timers and limits.
    pub policy: SessionPolicy,
    /// Id of the promise key sealing new menus.
    pub promise_key_id: u8,
    /// The key rotated out, still accepted for a grace window (see [`crate::lsps2::keys`]).
    pub previous_promise_key: Option<PreviousPromiseKey>,
}

/// A promise key that was rotated out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousPromiseKey {
    /// Its id.
    pub key_id: u8,
    /// When it stopped sealing; it verifies until this plus `valid_for_secs`.
    pub retired_at: DateTime,
}

impl Default for Lsps2Config {
    fn default() -> Self {
        Lsps2Config {
            public_menu: default_tiers(),
            token_menus: BTreeMap::new(),
            valid_for_secs: DEFAULT_VALID_FOR_SECS,
            min_lifetime_blocks: DEFAULT_MIN_LIFETIME_BLOCKS,
            max_client_to_self_delay_blocks: DEFAULT_MAX_CLIENT_TO_SELF_DELAY_BLOCKS,
            lsp_cltv_expiry_delta: DEFAULT_LSP_CLTV_EXPIRY_DELTA,
            trust: TrustMode::Adaptive,
            sizing: ChannelSizing::default(),
            min_fee_open_weight_wu: DEFAULT_MIN_FEE_OPEN_WEIGHT_WU,
            min_fee_multiplier: DEFAULT_MIN_FEE_MULTIPLIER,
            max_open_buys_per_client: DEFAULT_MAX_OPEN_BUYS_PER_CLIENT,
            max_unpaid_channels_per_client: DEFAULT_MAX_UNPAID_CHANNELS_PER_CLIENT,
            policy: SessionPolicy::default(),
            promise_key_id: 1,
            previous_promise_key: None,
        }
    }
}

/// Why a configuration is refused at start-up.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Lsps2ConfigError {
    /// A menu breaks bLIP-52's ordering or has an empty size range.
    #[error("menu {menu}: {error}")]
    Menu {
        /// `"public"` or the token.
        menu: String,
        /// The rule broken.
        error: MenuError,
    },
    /// `valid_for_secs` is below bLIP-52's 10 minutes.
    #[error("valid_for_secs must be at least {MIN_VALID_FOR_SECS}")]
    ValidityTooShort,
    /// The route-hint delta does not fit BOLT11's 16 bits.
    #[error("lsp_cltv_expiry_delta must fit in 16 bits")]
    CltvDeltaTooLarge,
    /// The client's `to_self_delay` cap does not fit LDK's 16-bit limit.
    #[error("max_client_to_self_delay_blocks must fit in 16 bits")]
    ToSelfDelayTooLarge,
    /// The channel bounds are inverted or zero.
    #[error("channel sizing: min_channel_sat must be positive and at most max_channel_sat")]
    Sizing,
    /// The MPP timer is below bLIP-52's 90 s.
    #[error("mpp_timeout_secs must be at least 90")]
    MppTimeoutTooShort,
    /// The previous promise key has the current key's id.
    #[error("the previous promise key must have another id than the current one")]
    PromiseKeyIdReused,
}

impl Lsps2Config {
    /// Checks the configuration; call it at start-up so that mistakes fail there.
    pub fn validate(&self) -> Result<(), Lsps2ConfigError> {
        let menus = std::iter::once(("public", &self.public_menu))
            .chain(self.token_menus.iter().map(|(token, tiers)| (token.as_str(), tiers)));
        for (menu, tiers) in menus {
            let epoch = DateTime::from_unix_secs(0).expect("the Unix epoch is representable");
            let raw: Vec<RawOpeningFeeParams> = tiers.iter().map(|tier| self.raw_entry(tier, epoch)).collect();
            check_raw_menu(&raw).map_err(|error| Lsps2ConfigError::Menu { menu: menu.to_owned(), error })?;
        }
        if self.valid_for_secs < MIN_VALID_FOR_SECS {
            return Err(Lsps2ConfigError::ValidityTooShort);
        }
        if self.lsp_cltv_expiry_delta > u32::from(u16::MAX) {
            return Err(Lsps2ConfigError::CltvDeltaTooLarge);
        }
        if self.max_client_to_self_delay_blocks > u32::from(u16::MAX) {
            return Err(Lsps2ConfigError::ToSelfDelayTooLarge);
        }
        if self.sizing.min_channel_sat == 0 || self.sizing.min_channel_sat > self.sizing.max_channel_sat {
            return Err(Lsps2ConfigError::Sizing);
        }
        if self.policy.mpp_timeout_secs < 90 {
            return Err(Lsps2ConfigError::MppTimeoutTooShort);
        }
        if self.previous_promise_key.is_some_and(|previous| previous.key_id == self.promise_key_id) {
            return Err(Lsps2ConfigError::PromiseKeyIdReused);
        }
        Ok(())
    }

    /// The tiers for `token`, or `None` for an unknown token (answered with 200).
    pub fn tiers_for(&self, token: Option<&str>) -> Option<&[FeeTier]> {
        match token {
            None => Some(&self.public_menu),
            Some(token) => self.token_menus.get(token).map(Vec::as_slice),
        }
    }

    /// The fee floor at a chain fee rate: the open's cost × the multiplier, in msat.
    pub fn chain_fee_floor_msat(&self, fee_rate_sat_per_kwu: u32) -> u64 {
        u64::from(fee_rate_sat_per_kwu)
            .saturating_mul(self.min_fee_open_weight_wu)
            .div_ceil(1000)
            .saturating_mul(self.min_fee_multiplier)
            .saturating_mul(1000)
    }

    /// A tier as an unsealed entry valid until `valid_until`.
    pub fn raw_entry(&self, tier: &FeeTier, valid_until: DateTime) -> RawOpeningFeeParams {
        RawOpeningFeeParams {
            min_fee_msat: MsatAmount(tier.min_fee_msat),
            proportional: Ppm(tier.proportional),
            valid_until,
            min_lifetime: self.min_lifetime_blocks,
            max_client_to_self_delay: self.max_client_to_self_delay_blocks,
            min_payment_size_msat: MsatAmount(tier.min_payment_size_msat),
            max_payment_size_msat: MsatAmount(tier.max_payment_size_msat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_follow_the_spec_minimums() {
        let config = Lsps2Config::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(config.valid_for_secs >= MIN_VALID_FOR_SECS);
        assert_eq!(config.trust, TrustMode::Adaptive);
    }

    #[test]
    fn a_misordered_menu_is_refused() {
        let mut config = Lsps2Config::default();
        config.public_menu.swap(0, 1);
        assert!(matches!(config.validate(), Err(Lsps2ConfigError::Menu { .. })));
        let config = Lsps2Config { valid_for_secs: 599, ..Lsps2Config::default() };
        assert_eq!(config.validate(), Err(Lsps2ConfigError::ValidityTooShort));
    }

    #[test]
    fn channel_size_covers_the_forward_and_is_bounded() {
        let sizing = ChannelSizing::default();
        assert_eq!(sizing.channel_sat(1_000_000), Some(DEFAULT_MIN_CHANNEL_SAT));
        let size = sizing.channel_sat(1_000_000_000).expect("fits");
        assert_eq!(size, 1_000_000 + 20_000 + DEFAULT_HEADROOM_SAT);
        assert_eq!(sizing.channel_sat(u64::MAX), None);
        let max = sizing.max_forward_msat(500_000);
        assert!(sizing.channel_sat(max).is_some_and(|s| s <= 500_000));
        assert!(sizing.channel_sat(max + 2_000).is_none_or(|s| s > 500_000));
        assert_eq!(sizing.max_forward_msat(0), 0);
    }

    #[test]
    fn fee_floor_follows_the_chain_fee_rate() {
        let config = Lsps2Config::default();
        assert_eq!(config.chain_fee_floor_msat(253), 253 * 2 * 1000);
        assert_eq!(config.chain_fee_floor_msat(0), 0);
    }
}
