//! LSPS2 (bLIP-52): just-in-time channels.
//!
//! The client asks for the fee menu (`lsps2.get_info`), buys one entry (`lsps2.buy`) and
//! gets a fake SCID for its invoice's route hint. When the first payment for that SCID
//! reaches the LSP, the LSP opens a 0-conf channel and forwards the payment minus the fee.

mod msgs;

pub use msgs::*;
