//! [`Compat`]: which clients the LSP shapes its answers for (`[lsps] compat`), and the one
//! place that says what each setting changes.
//!
//! Inbound's answers follow the bLIPs by default. lightning-liquidity 0.2.7, the LSPS client in
//! LDK and ldk-node 0.7.1, cannot read some spec-valid answers (digest §2.5, §3.4, §3.5). When
//! it fails to deserialize a message it answers -32700 and ignores the LSP until it reconnects,
//! and for a mirror it does not expect, ldk-node drops the order. With [`Compat::Ldk`] the LSP
//! sends every client answers LDK can read. They still parse as the bLIPs define them; the one
//! loss is precision: a held HTLC is reported `PAID` before the preimage is released.
//!
//! | what | [`Compat::Spec`] | [`Compat::Ldk`] |
//! |---|---|---|
//! | `error.data` (every protocol) | objects, as the bLIPs define them | a string ([`ErrorData::LdkCompat`]) |
//! | LSPS1 order `token` when the client sent none | `""` (bLIP-51) | no member (LDK compares its `None`) |
//! | LSPS1 `payment.bolt11.state` while the HTLC is held | `HOLD` | `PAID` (0.2.7 has no `HOLD`) |
//! | LSPS5 `x-lsps5-timestamp` | `LSPS0.datetime` (`…09.030Z`) | chrono's `to_rfc3339()` (`…09.030+00:00`): LDK's `LSPS5Validator` re-serialises the header so before checking the signature ([`TimestampForm`]) |
//! | LSPS1 `payment.onchain` | as configured | only with 0-conf terms (`onchain_payment_confirmations = 0` and a `min_fee_for_0conf`), else left out: LDK requires `min_fee_for_0conf`, which bLIP-51 forbids with confirmations |
//!
//! The state machines never see this switch: it changes what is offered at `create_order` and
//! how the answers are built, nothing else.

use lsps::lsps1::{CreateOrderRequest, Order, PaymentState};
use lsps::lsps5::TimestampForm;

use crate::config::ErrorData;

/// The clients the answers are shaped for. See the module documentation for every difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compat {
    /// Exactly as the bLIPs say.
    #[default]
    Spec,
    /// Readable by lightning-liquidity 0.2.7 (LDK, ldk-node 0.7.1); see the module documentation.
    Ldk,
}

impl Compat {
    /// The shape of `error.data` in every error answer.
    pub fn error_data(self) -> ErrorData {
        match self {
            Compat::Spec => ErrorData::Spec,
            Compat::Ldk => ErrorData::LdkCompat,
        }
    }

    /// How LSPS5 notifications write the timestamp they sign.
    pub fn lsps5_timestamp_form(self) -> TimestampForm {
        match self {
            Compat::Spec => TimestampForm::Lsps0,
            Compat::Ldk => TimestampForm::ChronoRfc3339,
        }
    }

    /// Whether an LSPS1 order offers the on-chain option, given the operator's terms (the
    /// client gave a refund address and `accept_onchain` is on). LDK reads
    /// `min_fee_for_0conf` as mandatory, and bLIP-51 allows it only with 0 confirmations, so
    /// LDK clients are offered only 0-conf terms.
    pub fn lsps1_offers_onchain(self, confirmations: u16, min_fee_for_0conf: Option<u64>) -> bool {
        match self {
            Compat::Spec => true,
            Compat::Ldk => confirmations == 0 && min_fee_for_0conf.is_some(),
        }
    }

    /// `order` (built as bLIP-51 says, from the stored order) as it is sent to the client who
    /// placed `request`.
    pub fn lsps1_order(self, mut order: Order, request: &CreateOrderRequest) -> Order {
        match self {
            Compat::Spec => order,
            Compat::Ldk => {
                order.token = request.token.clone();
                if let Some(bolt11) = order.payment.bolt11.as_mut() {
                    bolt11.state = held_as_paid(bolt11.state);
                }
                if let Some(bolt12) = order.payment.bolt12.as_mut() {
                    bolt12.state = held_as_paid(bolt12.state);
                }
                order
            }
        }
    }
}

/// `HOLD` as lightning-liquidity 0.2.7 can read it: `PAID` (its only state between
/// `EXPECT_PAYMENT` and `REFUNDED`). The client does nothing different on `PAID`; it learns
/// whether the channel came from `order_state` and `channel`.
fn held_as_paid(state: PaymentState) -> PaymentState {
    match state {
        PaymentState::Hold => PaymentState::Paid,
        PaymentState::ExpectPayment | PaymentState::Paid | PaymentState::Refunded => state,
    }
}
