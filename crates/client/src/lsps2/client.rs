//! [`Lsps2Client`]: buys a JIT channel (bLIP-52) and makes the invoice that triggers it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use lightning::types::payment::PaymentHash;
use lightning_invoice::{Bolt11Invoice, Currency};
use lsps::lsps2::{
    check_menu, min_final_cltv_expiry_delta_for_jit, select_cheapest, BuyRequest, BuyResponse, EntrySkipped,
    GetInfoRequest, NoAcceptableEntry, OpeningFeeParams, PaymentSize, SelectionPolicy,
};
use lsps::method::{Request, Response};
use lsps::schema::{DateTime, MsatAmount, Scid};
use tracing::{info, warn};

use super::invoice::{build_raw_jit_invoice, fit_expiry_secs, sign_jit_invoice, JitInvoiceFields};
use super::purchase_file::PurchaseFile;
use super::purchases::{AgreedFee, Purchase, PurchaseRegistry};
use super::{ClientTrustsLspPolicy, Lsps2ClientConfig};
use crate::client::LspsClient;
use crate::error::ClientError;
use crate::wallet_node::WalletNode;

/// What [`Lsps2Client::jit_invoice`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitInvoiceRequest {
    /// The LSP (must be connected).
    pub lsp: PublicKey,
    /// `Some`: MPP + fixed-amount invoice for exactly this amount. `None`: no-MPP +
    /// variable-amount invoice (the payer must not split it).
    pub amount_msat: Option<u64>,
    /// The highest opening fee the user accepts. In variable mode only the fee floor can be
    /// checked up front; the real fee is checked when the payment arrives.
    pub max_fee_msat: u64,
    /// The invoice description.
    pub description: String,
    /// The wanted invoice expiry; shortened to end by the offer's `valid_until`.
    pub expiry_secs: u32,
    /// An optional LSPS2 token (`lsps2.get_info`).
    pub token: Option<String>,
}

/// A JIT invoice and the purchase behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitInvoice {
    /// The invoice to give the payer.
    pub invoice: Bolt11Invoice,
    /// The menu entry that was bought, verbatim.
    pub opening_fee_params: OpeningFeeParams,
    /// The opening fee (fixed mode); `None` in variable mode, where it depends on the amount.
    pub opening_fee_msat: Option<u64>,
    /// `jit_channel_scid`, the route hint's SCID.
    pub intercept_scid: Scid,
    /// The route hint's CLTV delta.
    pub lsp_cltv_expiry_delta: u32,
    /// Whether the LSP withholds the funding broadcast until the wallet claims (bLIP-52 §4.9).
    pub client_trusts_lsp: bool,
}

/// The wallet side of LSPS2, over any [`WalletNode`]. Create it once the node is built and,
/// before the node starts, have the node ask [`is_jit_channel`](Self::is_jit_channel) about
/// inbound channels and pass its events through [`handle_event`](Self::handle_event). With the
/// `node` feature, `Lsps2Client::new` / `with_config` build it for an `inbound_node::Node`, and
/// its `acceptor` and `WalletEventHandler` do that wiring.
pub struct Lsps2Client {
    lsps: Arc<LspsClient>,
    wallet: Arc<dyn WalletNode>,
    config: Lsps2ClientConfig,
    registry: Arc<PurchaseRegistry>,
    /// Peers whose other channels the `node` feature's acceptor accepts 0-conf (the node's
    /// `trusted_peers_0conf`, with [`FallbackAcceptor::NodeDefault`](super::FallbackAcceptor)).
    #[cfg_attr(not(feature = "node"), allow(dead_code))]
    trusted_peers_0conf: Vec<PublicKey>,
}

impl Lsps2Client {
    /// A client with `config` whose purchases are durable: kept in `file` (normally
    /// [`PurchaseFile::in_dir`] of the node's data directory), and loaded from there now (a
    /// purchase bought before a restart is still honoured).
    ///
    /// # Errors
    /// [`ClientError::PurchaseStore`] if the file cannot be read or is corrupt; it is left
    /// untouched, and the wallet should not run without it (the LSP may be about to open a
    /// channel for one of its purchases).
    pub fn open(
        lsps: Arc<LspsClient>,
        wallet: Arc<dyn WalletNode>,
        config: Lsps2ClientConfig,
        file: PurchaseFile,
    ) -> Result<Arc<Self>, ClientError> {
        let registry = Self::open_registry(&config, file)?;
        Ok(Self::with_registry(lsps, wallet, config, Arc::new(registry)))
    }

    /// A client over a registry the caller made (for example an in-memory
    /// [`PurchaseRegistry::new`] in tests).
    pub fn with_registry(
        lsps: Arc<LspsClient>,
        wallet: Arc<dyn WalletNode>,
        config: Lsps2ClientConfig,
        registry: Arc<PurchaseRegistry>,
    ) -> Arc<Self> {
        Self::build(lsps, wallet, config, registry, Vec::new())
    }

    /// The durable registry of `file`, with `config`'s bounds, loaded now.
    pub(crate) fn open_registry(
        config: &Lsps2ClientConfig,
        file: PurchaseFile,
    ) -> Result<PurchaseRegistry, ClientError> {
        PurchaseRegistry::open(file, config.max_open_purchases, config.open_grace_secs, now())
            .map_err(ClientError::PurchaseStore)
    }

    pub(crate) fn build(
        lsps: Arc<LspsClient>,
        wallet: Arc<dyn WalletNode>,
        config: Lsps2ClientConfig,
        registry: Arc<PurchaseRegistry>,
        trusted_peers_0conf: Vec<PublicKey>,
    ) -> Arc<Self> {
        Arc::new(Lsps2Client { lsps, wallet, config, registry, trusted_peers_0conf })
    }

    /// The client's configuration.
    pub fn config(&self) -> &Lsps2ClientConfig {
        &self.config
    }

    /// The node it makes invoices for.
    pub fn wallet(&self) -> &Arc<dyn WalletNode> {
        &self.wallet
    }

    /// See the `trusted_peers_0conf` field.
    #[cfg(feature = "node")]
    pub(crate) fn trusted_peers_0conf(&self) -> &[PublicKey] {
        &self.trusted_peers_0conf
    }

    /// The open purchases (see [`PurchaseRegistry`]).
    pub fn purchases(&self) -> &Arc<PurchaseRegistry> {
        &self.registry
    }

    /// `lsps2.get_info`: the LSP's fee menu, checked. Unknown keys in an entry and promises over
    /// 512 bytes already fail decoding ([`ClientError::MalformedResult`]); a misordered menu is
    /// [`ClientError::InvalidMenu`]. An empty menu means no JIT service right now.
    pub async fn get_info(&self, lsp: PublicKey, token: Option<String>) -> Result<Vec<OpeningFeeParams>, ClientError> {
        let response = self.lsps.call(lsp, Request::Lsps2GetInfo(GetInfoRequest { token })).await?;
        let Response::Lsps2GetInfo(info) = response else {
            return Err(ClientError::UnexpectedResult);
        };
        check_menu(&info.opening_fee_params_menu).map_err(ClientError::InvalidMenu)?;
        Ok(info.opening_fee_params_menu)
    }

    /// Buys a JIT channel from `request.lsp` and returns the invoice that makes the LSP open it:
    /// `get_info` → the cheapest entry under the fee cap (a fresh menu is fetched once if the
    /// entries expire too soon for the wanted invoice expiry) → `lsps2.buy` with the entry
    /// verbatim → the `client_trusts_lsp` policy → the invoice of bLIP-52 §"Invoice". The purchase
    /// is remembered so that the LSP's 0-conf channel is accepted and the skimmed fee checked.
    ///
    /// # Errors
    /// [`ClientError::FeeAboveCap`], [`ClientError::NoJitOffer`], [`ClientError::InvalidMenu`],
    /// [`ClientError::ClientTrustsLspRefused`], [`ClientError::InvalidBuyResponse`],
    /// [`ClientError::Invoice`], [`ClientError::InvalidRequest`], [`ClientError::TooManyPurchases`],
    /// [`ClientError::PurchaseStore`],
    /// and every error of [`LspsClient::call`] (an LSP refusal arrives as
    /// [`ClientError::LspRejected`] with bLIP-52's codes 200–203).
    pub async fn jit_invoice(&self, request: JitInvoiceRequest) -> Result<JitInvoice, ClientError> {
        if request.amount_msat == Some(0) {
            return Err(ClientError::InvalidRequest("amount_msat must not be zero".into()));
        }
        if request.expiry_secs == 0 {
            return Err(ClientError::InvalidRequest("expiry_secs must not be zero".into()));
        }
        if !self.registry.has_room(now()) {
            return Err(ClientError::TooManyPurchases);
        }
        let (params, opening_fee_msat) = self.choose_offer(&request).await?;
        let payment_size_msat = request.amount_msat.map(MsatAmount);
        let buy = BuyRequest { opening_fee_params: params.clone(), payment_size_msat };
        let Response::Lsps2Buy(bought) = self.lsps.call(request.lsp, Request::Lsps2Buy(buy)).await? else {
            return Err(ClientError::UnexpectedResult);
        };
        if bought.client_trusts_lsp && self.config.client_trusts_lsp == ClientTrustsLspPolicy::Refuse {
            warn!(lsp = %request.lsp, "LSP wants client_trusts_lsp; refusing the purchase");
            return Err(ClientError::ClientTrustsLspRefused);
        }
        let invoice = self.make_invoice(&request, &params, &bought)?;
        let fee = match (request.amount_msat, opening_fee_msat) {
            (Some(payment_size_msat), Some(opening_fee_msat)) => {
                AgreedFee::Fixed { payment_size_msat, opening_fee_msat }
            }
            _ => AgreedFee::Variable { params: params.clone(), max_fee_msat: request.max_fee_msat },
        };
        let purchase = Purchase {
            lsp: request.lsp,
            intercept_scid: bought.jit_channel_scid,
            valid_until: params.valid_until,
            client_trusts_lsp: bought.client_trusts_lsp,
            fee,
            settled: false,
        };
        let payment_hash = PaymentHash(*invoice.payment_hash().as_ref());
        // Persisted before the invoice is handed out: a payer can only pay a purchase the
        // wallet will still know after a restart.
        if !self.registry.insert(payment_hash, purchase, now()).map_err(ClientError::PurchaseStore)? {
            return Err(ClientError::TooManyPurchases);
        }
        info!(
            lsp = %request.lsp,
            scid = %bought.jit_channel_scid,
            fee_msat = ?opening_fee_msat,
            client_trusts_lsp = bought.client_trusts_lsp,
            "bought a JIT channel"
        );
        Ok(JitInvoice {
            invoice,
            opening_fee_params: params,
            opening_fee_msat,
            intercept_scid: bought.jit_channel_scid,
            lsp_cltv_expiry_delta: bought.lsp_cltv_expiry_delta,
            client_trusts_lsp: bought.client_trusts_lsp,
        })
    }

    /// Picks the entry to buy, renegotiating (fetching a fresh menu) once if the best entry
    /// expires before the wanted invoice expiry, or if every entry expires too soon.
    async fn choose_offer(&self, request: &JitInvoiceRequest) -> Result<(OpeningFeeParams, Option<u64>), ClientError> {
        let menu = self.get_info(request.lsp, request.token.clone()).await?;
        let first = self.select(&menu, request);
        let needs_fresh_menu = match &first {
            Ok((params, _)) => params.valid_until.secs_since(&now()) < u64::from(request.expiry_secs),
            Err(none) => none.skipped.contains(&EntrySkipped::ExpiresTooSoon),
        };
        if !needs_fresh_menu {
            return first.map_err(|none| no_offer_error(none, request.max_fee_msat));
        }
        info!(lsp = %request.lsp, "JIT offer expires soon; fetching a fresh menu");
        let fresh_menu = self.get_info(request.lsp, request.token.clone()).await?;
        match (first, self.select(&fresh_menu, request)) {
            (Ok(old), Ok(fresh)) if old.0.valid_until > fresh.0.valid_until => Ok(old),
            (_, Ok(fresh)) => Ok(fresh),
            (Ok(old), Err(_)) => Ok(old),
            (Err(_), Err(none)) => Err(no_offer_error(none, request.max_fee_msat)),
        }
    }

    fn select(
        &self,
        menu: &[OpeningFeeParams],
        request: &JitInvoiceRequest,
    ) -> Result<(OpeningFeeParams, Option<u64>), NoAcceptableEntry> {
        select_offer(menu, request.amount_msat, request.max_fee_msat, self.config.min_remaining_validity_secs, now())
    }

    fn make_invoice(
        &self,
        request: &JitInvoiceRequest,
        params: &OpeningFeeParams,
        bought: &BuyResponse,
    ) -> Result<Bolt11Invoice, ClientError> {
        let lsp_cltv_expiry_delta = bought.route_hint_cltv_expiry_delta().ok_or_else(|| {
            ClientError::InvalidBuyResponse(format!(
                "lsp_cltv_expiry_delta {} exceeds 65535",
                bought.lsp_cltv_expiry_delta
            ))
        })?;
        let normal = self.config.min_final_cltv_expiry_delta;
        let advertised = min_final_cltv_expiry_delta_for_jit(u32::from(normal), 0)
            .and_then(|c| u16::try_from(c).ok())
            .ok_or_else(|| ClientError::InvalidRequest("min_final_cltv_expiry_delta too large".into()))?;
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let expiry_secs = fit_expiry_secs(request.expiry_secs, timestamp, params.valid_until).ok_or_else(|| {
            ClientError::NoJitOffer(NoAcceptableEntry { skipped: vec![EntrySkipped::ExpiresTooSoon] })
        })?;
        // LDK enforces the *normal* delta on arrival; the invoice advertises normal + 2, so blocks
        // mined while the channel opens do not fail the payment (bLIP-52 §"Invoice").
        let (payment_hash, payment_secret) = self
            .wallet
            .create_inbound_payment(request.amount_msat, expiry_secs, normal)
            .map_err(|e| ClientError::Invoice(format!("create_inbound_payment: {e}")))?;
        let fields = JitInvoiceFields {
            currency: Currency::from(self.wallet.network()),
            payee: self.wallet.node_id(),
            description: request.description.clone(),
            payment_hash,
            payment_secret,
            amount_msat: request.amount_msat,
            timestamp,
            expiry_secs,
            min_final_cltv_expiry_delta: advertised,
            lsp: request.lsp,
            intercept_scid: bought.jit_channel_scid.0,
            lsp_cltv_expiry_delta,
        };
        let raw = build_raw_jit_invoice(&fields)?;
        sign_jit_invoice(raw, |raw| self.wallet.sign_invoice(raw))
    }

    /// Whether the node should accept an inbound channel from `opener` as the JIT channel of an
    /// open purchase: the opener is an LSP with an open, unsettled purchase whose window
    /// (`valid_until` + [`Lsps2ClientConfig::open_grace_secs`]) has not ended, and the channel is
    /// unannounced (bLIP-52 §4.8). If so, accept it **0-conf**, with **underpaying HTLCs**
    /// (LDK's per-channel `accept_underpaying_htlcs`) and 100 % of the channel allowed in flight
    /// towards the wallet, so that it can carry the payment that opened it. Otherwise decide as
    /// for any channel, without underpaying HTLCs.
    pub fn is_jit_channel(&self, opener: &PublicKey, is_announced: bool) -> bool {
        self.registry.is_jit_channel(opener, is_announced, now())
    }
}

/// The cheapest entry of `menu` for `amount_msat` (`None`: variable mode) under the fee cap
/// that stays valid `min_remaining_validity_secs` after `now`, with its fee (fixed mode).
pub fn select_offer(
    menu: &[OpeningFeeParams],
    amount_msat: Option<u64>,
    max_fee_msat: u64,
    min_remaining_validity_secs: u64,
    now: DateTime,
) -> Result<(OpeningFeeParams, Option<u64>), NoAcceptableEntry> {
    let size = match amount_msat {
        Some(amount) => PaymentSize::Fixed(MsatAmount(amount)),
        None => PaymentSize::Variable { expected_msat: None },
    };
    let policy = SelectionPolicy { max_fee_msat: MsatAmount(max_fee_msat), min_remaining_validity_secs };
    let selection = select_cheapest(menu, size, &policy, now)?;
    Ok((selection.params.clone(), selection.opening_fee_msat.map(MsatAmount::get)))
}

/// Maps "nothing fits" to the fee-cap error when the cap is what excluded entries.
pub fn no_offer_error(none: NoAcceptableEntry, max_fee_msat: u64) -> ClientError {
    let lowest_fee_msat = none
        .skipped
        .iter()
        .filter_map(|reason| match reason {
            EntrySkipped::FeeAboveCap { opening_fee_msat } => Some(opening_fee_msat.get()),
            _ => None,
        })
        .min();
    match lowest_fee_msat {
        Some(lowest_fee_msat) => ClientError::FeeAboveCap { lowest_fee_msat, max_fee_msat },
        None => ClientError::NoJitOffer(none),
    }
}

/// The current time as an LSPS datetime.
pub(crate) fn now() -> DateTime {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis();
    DateTime::from_unix_millis(u64::try_from(millis).unwrap_or(u64::MAX)).unwrap_or(DateTime::UNIX_EPOCH)
}
