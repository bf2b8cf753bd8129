//! The operator's actions on an order (the admin API's `POST /v1/orders/{id}/…`), each an
//! input to the order's flow with the operator's note in its history:
//!
//! | action | applies to | does |
//! |---|---|---|
//! | [`OrderAction::Cancel`] | an order not paid in full | ends it now as the payment window would (a partial deposit refunded) |
//! | [`OrderAction::Refund`] | a paid order between open attempts | fails its HTLC back, or refunds the deposit (to `address` if given) |
//! | [`OrderAction::Refund`] with an address | a completed or failed order whose refund was kept (no address) | builds and broadcasts that refund to `address` |
//! | [`OrderAction::RetryOpen`] | a paid order waiting for its next open attempt | tries now |
//!
//! An action that does not apply (a refund while an open attempt is in flight, since that
//! attempt could still publish the channel) changes nothing and says so.

use lsps::schema::OnchainAddress;
use serde_json::json;
use thiserror::Error;

use super::order::OrderInput;
use super::Lsps1Service;
use crate::flow::{Applied, FlowError};

/// What an operator can do to an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderAction {
    /// End an order that is not paid in full.
    Cancel,
    /// Refund a paid order that is not delivered, or send a kept refund to an address.
    Refund {
        /// Where an on-chain refund goes (an address of the LSP's network).
        address: Option<String>,
    },
    /// Try the open now.
    RetryOpen,
}

/// Why an action could not be taken.
#[derive(Debug, Error)]
pub enum OrderActionError {
    /// The address is not one of the LSP's network.
    #[error("{0:?} is not an address of the LSP's network")]
    Address(String),
    /// The service has no node yet.
    #[error("the LSPS1 service is not attached to its node")]
    NotAttached,
    /// The store failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl Lsps1Service {
    /// Takes `action` on the order `order_id` as the operator, with `reason` in the history.
    ///
    /// # Errors
    /// An address of another network, a service without its node, or a store failure.
    pub async fn operator_action(
        &self,
        order_id: &str,
        action: OrderAction,
        reason: Option<String>,
    ) -> Result<Applied, OrderActionError> {
        let lightning = self.lightning().ok_or(OrderActionError::NotAttached)?;
        let input = match action {
            OrderAction::Cancel => OrderInput::OperatorCancel,
            OrderAction::RetryOpen => OrderInput::OperatorRetryOpen,
            OrderAction::Refund { address } => {
                if let Some(text) = &address {
                    let valid =
                        text.parse::<OnchainAddress>().is_ok_and(|a| a.is_valid_for_network(lightning.network()));
                    if !valid {
                        return Err(OrderActionError::Address(text.clone()));
                    }
                }
                OrderInput::OperatorRefund { address }
            }
        };
        let note = json!({ "actor": "operator", "reason": reason });
        Ok(self.flows.apply_noted(&self.driver(lightning.as_ref()), order_id, input, note).await?)
    }
}
