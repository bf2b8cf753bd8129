//! LSPS2 (bLIP-52): just-in-time channels.
//!
//! The client asks for the fee menu (`lsps2.get_info`), buys one entry (`lsps2.buy`) and
//! gets a fake SCID for its invoice's route hint. When the first payment for that SCID
//! reaches the LSP, the LSP opens a 0-conf channel and forwards the payment minus the fee.
//!
//! * The LSP seals its menu with [`RawOpeningFeeParams::seal`] (checked by
//!   [`check_raw_menu`]), checks `buy` with [`validate_buy`], rejects with [`Lsps2Error`],
//!   and takes the fee out of the forwarded parts with [`split_opening_fee`] and
//!   [`encode_extra_fee_tlv`].
//! * The client checks the menu with [`check_menu`], picks an entry with
//!   [`select_cheapest`], computes the fee with [`opening_fee_msat`], and sets its invoice's
//!   CLTV with [`min_final_cltv_expiry_delta_for_jit`].

mod buy;
mod errors;
mod fee;
mod menu;
mod msgs;
mod promise;
mod split;

pub use buy::*;
pub use errors::*;
pub use fee::*;
pub use menu::*;
pub use msgs::*;
pub use promise::*;
pub use split::*;
