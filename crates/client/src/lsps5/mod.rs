//! LSPS5 (bLIP-55) on the wallet side: webhooks that let the LSP wake a sleeping wallet.
//!
//! Two halves, used by two different programs:
//!
//! * the **wallet** registers, lists and removes its webhooks with [`Lsps5Client`], over the
//!   Lightning connection to the LSP. [`Lsps5Client::set_webhook`] checks the app name and URL
//!   as the LSP will (so a bad URL fails before anything is sent) and turns the LSP's LSPS5
//!   error codes into [`Lsps5Error`]s;
//! * the wallet developer's **push relay** (the HTTPS server the webhook URL points at) checks
//!   every POST with a [`NotificationVerifier`] before waking a phone: the signature over the
//!   raw body and the verbatim timestamp header, the timestamp's freshness, and a replay cache,
//!   so that a captured POST cannot wake the device twice. `examples/push-relay` is a complete
//!   relay built on it.
//!
//! ```no_run
//! # async fn register(client: std::sync::Arc<inbound_client::LspsClient>, lsp: bitcoin::secp256k1::PublicKey) -> Result<(), inbound_client::lsps5::Lsps5ClientError> {
//! use inbound_client::lsps5::Lsps5Client;
//!
//! let lsps5 = Lsps5Client::new(client);
//! let answer = lsps5.set_webhook(lsp, "my-wallet", "https://push.example.com/lsps5/device-token").await?;
//! println!("{} of {} webhooks registered", answer.num_webhooks, answer.max_webhooks);
//! # Ok(()) }
//! ```

mod verifier;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use lsps::lsps5::{
    validate_set_webhook, ListWebhooksRequest, ListWebhooksResponse, Lsps5Error, RemoveWebhookRequest,
    SetWebhookRequest, SetWebhookResponse,
};
use lsps::method::{Request, Response};

pub use verifier::{NotificationRejected, NotificationVerifier, VerifiedNotification, DEFAULT_REPLAY_CACHE_ENTRIES};

use crate::{ClientError, LspsClient};

/// Why an LSPS5 call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Lsps5ClientError {
    /// The request breaks bLIP-55's rules, either found before sending (app name or URL) or
    /// answered by the LSP with an LSPS5 error code (500–503, 1010).
    #[error("LSPS5: {0}")]
    Rejected(Lsps5Error),
    /// The call itself failed: transport, timeout, another JSON-RPC error, a malformed result.
    #[error(transparent)]
    Call(ClientError),
}

impl From<ClientError> for Lsps5ClientError {
    fn from(error: ClientError) -> Lsps5ClientError {
        match &error {
            ClientError::LspRejected(rpc_error) => match Lsps5Error::from_rpc_error(rpc_error) {
                Some(lsps5_error) => Lsps5ClientError::Rejected(lsps5_error),
                None => Lsps5ClientError::Call(error),
            },
            _ => Lsps5ClientError::Call(error),
        }
    }
}

/// `lsps5.set_webhook`, `lsps5.list_webhooks` and `lsps5.remove_webhook` over an
/// [`LspsClient`]. Cheap to clone; holds no state of its own.
#[derive(Clone)]
pub struct Lsps5Client {
    client: Arc<LspsClient>,
}

impl Lsps5Client {
    /// Calls go through `client`, to whichever connected LSP each call names.
    pub fn new(client: Arc<LspsClient>) -> Lsps5Client {
        Lsps5Client { client }
    }

    /// Registers (or re-points) the webhook of `app_name` at `lsp`. The LSP then POSTs
    /// `lsps5.webhook_registered` to it, unless the answer says `no_change`.
    ///
    /// # Errors
    /// [`Lsps5ClientError::Rejected`] for an app name over 64 bytes, a URL over 1024
    /// characters, not a URL or not `https` (nothing is sent then), or the LSP's 503 when it
    /// holds its maximum of webhooks for this node; [`Lsps5ClientError::Call`] otherwise.
    pub async fn set_webhook(
        &self,
        lsp: PublicKey,
        app_name: &str,
        webhook: &str,
    ) -> Result<SetWebhookResponse, Lsps5ClientError> {
        let request = SetWebhookRequest { app_name: app_name.to_owned(), webhook: webhook.to_owned() };
        validate_set_webhook(&request).map_err(Lsps5ClientError::Rejected)?;
        match self.client.call(lsp, Request::Lsps5SetWebhook(request)).await? {
            Response::Lsps5SetWebhook(answer) => Ok(answer),
            _ => Err(ClientError::UnexpectedResult.into()),
        }
    }

    /// The app names `lsp` holds webhooks for (never the URLs), and its per-node maximum.
    ///
    /// # Errors
    /// [`Lsps5ClientError::Call`] when the call fails.
    pub async fn list_webhooks(&self, lsp: PublicKey) -> Result<ListWebhooksResponse, Lsps5ClientError> {
        match self.client.call(lsp, Request::Lsps5ListWebhooks(ListWebhooksRequest {})).await? {
            Response::Lsps5ListWebhooks(answer) => Ok(answer),
            _ => Err(ClientError::UnexpectedResult.into()),
        }
    }

    /// Makes `lsp` forget the webhook of `app_name`.
    ///
    /// # Errors
    /// [`Lsps5ClientError::Rejected`] with [`Lsps5Error::AppNameNotFound`] when the LSP holds
    /// no webhook under that name; [`Lsps5ClientError::Call`] when the call fails.
    pub async fn remove_webhook(&self, lsp: PublicKey, app_name: &str) -> Result<(), Lsps5ClientError> {
        let request = RemoveWebhookRequest { app_name: app_name.to_owned() };
        match self.client.call(lsp, Request::Lsps5RemoveWebhook(request)).await? {
            Response::Lsps5RemoveWebhook(_) => Ok(()),
            _ => Err(ClientError::UnexpectedResult.into()),
        }
    }
}
