//! [`Progress`]: what changed in an order between two polls.

use lsps::lsps1::{Order, OrderState, PaymentState};
use serde::Serialize;

/// The state of one payment option, for progress reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OptionProgress {
    /// `bolt11`, `bolt12` or `onchain`.
    pub option: &'static str,
    /// Its state.
    pub state: PaymentState,
}

/// The parts of an order a wallet follows: its state, each option's state, and whether the
/// channel is published (and where).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// `CREATED`, `COMPLETED` or `FAILED`.
    pub order_state: OrderState,
    /// The payment options.
    pub payments: Vec<OptionProgress>,
    /// The funding outpoint, once the funding transaction is published.
    pub funding_outpoint: Option<String>,
}

impl Progress {
    /// The progress `order` shows.
    pub fn of(order: &Order) -> Progress {
        let payment = &order.payment;
        let payments = [
            payment.bolt11.as_ref().map(|o| OptionProgress { option: "bolt11", state: o.state }),
            payment.bolt12.as_ref().map(|o| OptionProgress { option: "bolt12", state: o.state }),
            payment.onchain.as_ref().map(|o| OptionProgress { option: "onchain", state: o.state }),
        ];
        Progress {
            order_state: order.order_state,
            payments: payments.into_iter().flatten().collect(),
            funding_outpoint: order.channel.as_ref().map(|channel| channel.funding_outpoint.to_string()),
        }
    }

    /// A one-line description: `CREATED, bolt11 HOLD` or `COMPLETED, channel <txid>:<vout>`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{:?}", self.order_state).to_uppercase()];
        parts.extend(self.payments.iter().map(|p| format!("{} {}", p.option, state_name(p.state))));
        if let Some(outpoint) = &self.funding_outpoint {
            parts.push(format!("channel {outpoint}"));
        }
        parts.join(", ")
    }
}

fn state_name(state: PaymentState) -> &'static str {
    match state {
        PaymentState::ExpectPayment => "EXPECT_PAYMENT",
        PaymentState::Hold => "HOLD",
        PaymentState::Paid => "PAID",
        PaymentState::Refunded => "REFUNDED",
    }
}
