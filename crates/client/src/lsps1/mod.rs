//! LSPS1 (bLIP-51) on the wallet side: buy a channel from an LSP, pay for it, follow the order.
//!
//! [`Lsps1Client`] calls `lsps1.get_info`, `lsps1.create_order` and `lsps1.get_order` over any
//! [`Transport`]: the Lightning peer connection ([`PeerTransport`], LSPS0) or HTTP
//! ([`HttpTransport`], an Inbound extension). Every order it receives is checked
//! ([`check_received`]): bLIP-51's client checks, the invoice amount and currency, the
//! address's network. [`payment_for`] then applies the user's hard fee cap before anything is
//! paid, and [`Lsps1Client::wait_for`] polls the order, reporting each change, until it reaches
//! the wanted state.
//!
//! ```no_run
//! # async fn buy(client: std::sync::Arc<inbound_client::LspsClient>, lsp: bitcoin::secp256k1::PublicKey) -> Result<(), inbound_client::lsps1::Lsps1Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use inbound_client::lsps1::{payment_for, Lsps1Client, PayWith, PeerTransport, Progress};
//! use lsps::lsps1::OrderState;
//!
//! let lsps1 = Lsps1Client::new(Arc::new(PeerTransport::new(client, lsp)), bitcoin::Network::Regtest);
//! let info = lsps1.get_info().await?;
//! let request = lsps1.request(1_000_000, 0, info.max_channel_expiry_blocks.min(13_140), None);
//! let order = lsps1.create_order(&request).await?;
//! let payment = payment_for(&order.order, PayWith::Lightning, 20_000, bitcoin::Network::Regtest)?;
//! // … pay `payment`, then:
//! let done = lsps1
//!     .wait_for(&order.order.order_id, Some(&request), Duration::from_secs(600), |o| o.order_state != OrderState::Created, |o| {
//!         println!("{}", Progress::of(o).describe())
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod checks;
mod http;
mod progress;
mod transport;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;
use lsps::lsps1::{
    CreateOrderRequest, GetInfoError, GetInfoRequest, GetInfoResponse, GetOrderRequest, Order, OrderIssue, OrderState,
    PaymentOption, PaymentState,
};
use lsps::method::{Request, Response};
use lsps::schema::{OnchainAddress, SatAmount};

pub use checks::{check_received, mirrored_request, payment_for, PayWith, Payment};
pub use http::{HttpTransport, MAX_ANSWER_BYTES, NODE_ADDRESS_MEMBER, NODE_ID_MEMBER};
pub use progress::{OptionProgress, Progress};
pub use transport::{BoxFuture, PeerTransport, Transport};

use crate::ClientError;

/// Default period between two `lsps1.get_order` calls in [`Lsps1Client::wait_for`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why an LSPS1 step failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Lsps1Error {
    /// The call failed (transport, LSP error, malformed result).
    #[error(transparent)]
    Call(#[from] ClientError),
    /// The `get_info` answer breaks bLIP-51's rules.
    #[error("the LSP's lsps1.get_info answer is inconsistent: {0}")]
    BadInfo(GetInfoError),
    /// The order breaks bLIP-51's client checks; it must not be paid.
    #[error("the LSP's order fails the client checks: {}", issues(.0))]
    BadOrder(Vec<OrderIssue>),
    /// The answer is about another order than the one asked for.
    #[error("asked for order {asked:?}, got {got:?}")]
    WrongOrder {
        /// The id asked for.
        asked: String,
        /// The id answered.
        got: String,
    },
    /// The BOLT11 invoice is unusable or does not ask exactly `order_total_sat`.
    #[error("payment.bolt11: {0}")]
    Invoice(String),
    /// The on-chain address is not for the wallet's network.
    #[error("payment.onchain.address {address} is not a {network} address")]
    AddressNetwork {
        /// The address.
        address: String,
        /// The wallet's network.
        network: Network,
    },
    /// The order does not offer the option the user wants to pay with.
    #[error("the order offers no {0} payment")]
    OptionUnavailable(PaymentOption),
    /// The option is not waiting for a payment (already paid, held or refunded).
    #[error("payment.{option} is {state:?}, not EXPECT_PAYMENT")]
    NotPayable {
        /// The option.
        option: PaymentOption,
        /// Its state.
        state: PaymentState,
    },
    /// The LSP's fee is above the user's hard cap: nothing is paid.
    #[error("the LSP's fee is {fee_total_sat} sat, above the cap of {max_fee_sat} sat; not paying")]
    FeeAboveCap {
        /// The order's fee for the chosen option.
        fee_total_sat: u64,
        /// The user's cap.
        max_fee_sat: u64,
    },
    /// The order failed (the LSP refunds what was paid).
    #[error("order {0} FAILED")]
    OrderFailed(String),
    /// The order did not reach the wanted state in time.
    #[error("order {order_id} is still {state:?} after {waited:?}")]
    WaitTimeout {
        /// The order.
        order_id: String,
        /// Its last known state.
        state: OrderState,
        /// How long was waited.
        waited: Duration,
    },
}

fn issues(issues: &[OrderIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// An order that passed [`check_received`], with the harmless issues found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOrder {
    /// The order.
    pub order: Order,
    /// bLIP-51 rules the order breaks harmlessly (logged, not refused).
    pub warnings: Vec<OrderIssue>,
}

/// The LSPS1 client for one LSP over one transport.
#[derive(Clone)]
pub struct Lsps1Client {
    transport: Arc<dyn Transport>,
    network: Network,
    poll_interval: Duration,
}

impl Lsps1Client {
    /// A client calling through `transport`, for a wallet on `network` (addresses and invoices
    /// are checked against it).
    pub fn new(transport: Arc<dyn Transport>, network: Network) -> Lsps1Client {
        Lsps1Client { transport, network, poll_interval: DEFAULT_POLL_INTERVAL }
    }

    /// Sets the period between polls of [`wait_for`](Self::wait_for).
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Lsps1Client {
        self.poll_interval = poll_interval;
        self
    }

    /// The transport's description.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// A `create_order` request with Inbound's defaults: 0 confirmations before the channel
    /// is usable, funding within 6 blocks, not announced, no token.
    pub fn request(
        &self,
        lsp_balance_sat: u64,
        client_balance_sat: u64,
        channel_expiry_blocks: u32,
        refund_onchain_address: Option<OnchainAddress>,
    ) -> CreateOrderRequest {
        CreateOrderRequest {
            lsp_balance_sat: SatAmount(lsp_balance_sat),
            client_balance_sat: SatAmount(client_balance_sat),
            required_channel_confirmations: 0,
            funding_confirms_within_blocks: 6,
            channel_expiry_blocks,
            token: None,
            refund_onchain_address,
            announce_channel: false,
        }
    }

    /// `lsps1.get_info`: the LSP's limits, checked for consistency.
    ///
    /// # Errors
    /// [`Lsps1Error::Call`] or [`Lsps1Error::BadInfo`].
    pub async fn get_info(&self) -> Result<GetInfoResponse, Lsps1Error> {
        match self.transport.call(Request::Lsps1GetInfo(GetInfoRequest {})).await? {
            Response::Lsps1GetInfo(info) => {
                info.validate().map_err(Lsps1Error::BadInfo)?;
                Ok(info)
            }
            _ => Err(ClientError::UnexpectedResult.into()),
        }
    }

    /// `lsps1.create_order`, and the checks of [`check_received`] on the answer.
    ///
    /// # Errors
    /// [`Lsps1Error::Call`] (an LSP refusal is `Call(LspRejected(..))`, see
    /// `lsps::lsps1::Lsps1Error::from_rpc_error`) or a failed check.
    pub async fn create_order(&self, request: &CreateOrderRequest) -> Result<CheckedOrder, Lsps1Error> {
        match self.transport.call(Request::Lsps1CreateOrder(request.clone())).await? {
            Response::Lsps1CreateOrder(order) => {
                let warnings = check_received(&order, request, self.network)?;
                Ok(CheckedOrder { order, warnings })
            }
            _ => Err(ClientError::UnexpectedResult.into()),
        }
    }

    /// `lsps1.get_order`. With the original `request`, the answer is checked like
    /// [`create_order`](Self::create_order)'s; without it (a wallet that only kept the id),
    /// against its own mirrors ([`mirrored_request`]): everything but the mirrors is checked.
    ///
    /// # Errors
    /// [`Lsps1Error::Call`], [`Lsps1Error::WrongOrder`] or a failed check.
    pub async fn get_order(&self, order_id: &str, request: Option<&CreateOrderRequest>) -> Result<Order, Lsps1Error> {
        let call = Request::Lsps1GetOrder(GetOrderRequest { order_id: order_id.to_owned() });
        let order = match self.transport.call(call).await? {
            Response::Lsps1GetOrder(order) => order,
            _ => return Err(ClientError::UnexpectedResult.into()),
        };
        if order.order_id != order_id {
            return Err(Lsps1Error::WrongOrder { asked: order_id.to_owned(), got: order.order_id });
        }
        match request {
            Some(request) => check_received(&order, request, self.network)?,
            None => check_received(&order, &mirrored_request(&order), self.network)?,
        };
        Ok(order)
    }

    /// Polls `lsps1.get_order` every poll interval until `done(order)` holds, calling
    /// `on_change` with the first answer and with every answer whose [`Progress`] differs from
    /// the previous one. Temporary failures (timeouts, lost connections, rate limits) are
    /// retried until `timeout`; other failures end the wait.
    ///
    /// # Errors
    /// [`Lsps1Error::OrderFailed`] when the order fails (unless `done` accepts failed orders),
    /// [`Lsps1Error::WaitTimeout`], or the last permanent failure.
    pub async fn wait_for(
        &self,
        order_id: &str,
        request: Option<&CreateOrderRequest>,
        timeout: Duration,
        done: impl Fn(&Order) -> bool,
        mut on_change: impl FnMut(&Order),
    ) -> Result<Order, Lsps1Error> {
        let started = tokio::time::Instant::now();
        let mut last: Option<Progress> = None;
        let mut state = OrderState::Created;
        loop {
            match self.get_order(order_id, request).await {
                Ok(order) => {
                    state = order.order_state;
                    let progress = Progress::of(&order);
                    if last.as_ref() != Some(&progress) {
                        on_change(&order);
                        last = Some(progress);
                    }
                    if done(&order) {
                        return Ok(order);
                    }
                    if order.order_state == OrderState::Failed {
                        return Err(Lsps1Error::OrderFailed(order.order_id));
                    }
                }
                Err(Lsps1Error::Call(error)) if error.is_temporary() => {
                    tracing::debug!(%order_id, %error, "lsps1.get_order failed; retrying");
                }
                Err(error) => return Err(error),
            }
            if started.elapsed() + self.poll_interval > timeout {
                return Err(Lsps1Error::WaitTimeout {
                    order_id: order_id.to_owned(),
                    state,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}
