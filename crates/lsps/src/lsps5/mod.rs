//! LSPS5 (bLIP-55): webhooks that wake a sleeping wallet.

mod msgs;

pub use msgs::*;
