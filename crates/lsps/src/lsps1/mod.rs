//! LSPS1 (bLIP-51): buying a channel up front.
//!
//! The client calls `lsps1.get_info`, orders with `lsps1.create_order`, pays one of the
//! offered options (BOLT11 hold invoice, BOLT12 offer, or on-chain), and polls
//! `lsps1.get_order` while the LSP opens the channel or refunds.
//!
//! * The LSP checks an order request with [`validate_create_order`], its own terms with
//!   [`GetInfoResponse::validate`], prices options with [`order_total_sat`], and rejects
//!   with [`Lsps1Error`].
//! * The client checks what it receives with [`check_order`] and reads errors with
//!   [`Lsps1Error::from_rpc_error`]. Results in the pre-2024-06 shapes decode into the
//!   current types (see [`Order`] and [`GetInfoResponse`]).

mod errors;
mod legacy;
mod msgs;
mod order;
mod validate;

pub use errors::*;
pub use msgs::*;
pub use order::*;
pub use validate::*;
