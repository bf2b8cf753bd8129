//! `inbound client lnurl-channel <LNURL|URL>`: claims a channel by LNURL-channel (LUD-02), e.g.
//! a voucher's QR code. It reads the LNURL (bech32, `lightning:`, LUD-17 `lnurlc://` or a
//! plain URL), fetches the channel request, starts a wallet node, connects it to the request's
//! `uri`, calls the `callback` with the node's id, and then waits (`--wait-secs`) until the
//! channel from that node is ready. Each step prints one JSON line on stdout.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use lsps::lnurl::{self, ChannelRequest, LnurlStatus};
use lsps::schema::NodeId;
use serde_json::json;
use url::Url;

use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::lightning::ln::channel_state::ChannelDetails;
use inbound_node::lightning::ln::types::ChannelId;
use inbound_node::Node;

use crate::client::resolve_lsp;
use crate::wallet::start_wallet;

/// The largest LNURL answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// `inbound client lnurl-channel` options.
#[derive(Debug, Clone, Args)]
pub struct LnurlChannelArgs {
    /// The LNURL (`LNURL1…`, `lightning:LNURL1…`, `lnurlc://…`) or its https:// URL.
    pub lnurl: String,
    /// Ask for a public (announced) channel; private by default.
    #[arg(long)]
    pub public: bool,
    /// Decline the channel instead (LUD-02 `cancel=1`).
    #[arg(long)]
    pub cancel: bool,
    /// How long to wait for the channel to be ready after the LSP said OK (0: do not wait).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub wait_secs: u64,
    /// The wallet node (give `--data-dir` to keep the channel).
    #[command(flatten)]
    pub node: crate::client::WalletNodeArgs,
}

fn line(event: &str, mut value: serde_json::Value) {
    value["event"] = json!(event);
    println!("{value}");
}

/// Runs `inbound client lnurl-channel`.
///
/// # Errors
/// A malformed or insecure LNURL, an answer that is not a channel request, an `ERROR` status
/// (its reason), an unreachable LSP, or no ready channel within `--wait-secs`.
pub async fn lnurl_channel(args: LnurlChannelArgs) -> Result<()> {
    let timeout = args.node.timeout();
    let http = http_client(timeout)?;
    let request = fetch_request(&http, &args.lnurl).await?;
    line("channel_request", json!({ "uri": request.uri.to_string(), "callback": request.callback.to_string() }));

    let (_temporary_dir, options) = args.node.options()?;
    let wallet = start_wallet(options).await?;
    let outcome = async {
        let claim = Claim::start(&http, &request, &wallet.node, timeout, args.cancel, !args.public).await?;
        line("accepted", json!({ "lsp": claim.lsp.to_string(), "node_id": wallet.node.node_id().to_string(), "cancelled": args.cancel }));
        if args.cancel || args.wait_secs == 0 {
            return Ok(());
        }
        claim
            .wait_until_ready(&wallet.node, Duration::from_secs(args.wait_secs), |channel| line("channel", channel.json()))
            .await
            .map(drop)
    }
    .await;
    if let Err(error) = wallet.stop().await {
        tracing::warn!("{error:#}");
    }
    outcome
}

/// The HTTP client of LNURL requests: no redirects, no proxy, `timeout` per request.
///
/// # Errors
/// If TLS cannot be set up.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("the HTTP client")
}

/// Reads `lnurl` (refusing plain http to a public host) and fetches its channel request.
///
/// # Errors
/// A malformed or insecure LNURL, an unreachable service, an `ERROR` answer or another tag.
pub async fn fetch_request(http: &reqwest::Client, lnurl: &str) -> Result<ChannelRequest> {
    let url = lnurl::decode(lnurl).context("reading the LNURL")?;
    if !lnurl::is_secure(&url) {
        bail!("{url} is plain http to a public host: LNURL requires https (or an onion or loopback host)");
    }
    ChannelRequest::from_json(&fetch(http, &url).await?).context("the LNURL's answer")
}

/// A channel the LSP agreed to open to a node (LUD-02's callback answered `OK`).
pub struct Claim {
    /// The LSP's node.
    pub lsp: PublicKey,
    /// The node's channels with the LSP before the claim (the new one is the one not here).
    before: HashSet<ChannelId>,
}

/// A channel from the LSP as the wallet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenChannel {
    /// `txid:vout`, once known.
    pub funding_outpoint: Option<String>,
    /// Its capacity.
    pub capacity_sat: u64,
    /// Confirmations of the funding.
    pub confirmations: u32,
    /// Usable.
    pub ready: bool,
}

impl SeenChannel {
    /// As a JSON object.
    pub fn json(&self) -> serde_json::Value {
        json!({ "funding_outpoint": self.funding_outpoint, "capacity_sat": self.capacity_sat,
                "confirmations": self.confirmations, "ready": self.ready })
    }
}

impl Claim {
    /// Connects `node` to the request's `uri` (kept: reconnected after a restart) and calls the
    /// callback: open a channel (`private` or announced), or with `cancel` decline it.
    ///
    /// # Errors
    /// An unreachable LSP, or the LSP's `ERROR` with its reason.
    pub async fn start(
        http: &reqwest::Client,
        request: &ChannelRequest,
        node: &Node,
        timeout: Duration,
        cancel: bool,
        private: bool,
    ) -> Result<Claim> {
        let (lsp, address) = resolve_lsp(&request.uri.to_string()).await?;
        tokio::time::timeout(timeout, node.connect_peer(lsp, address, true))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} connecting to {}", request.uri))?
            .with_context(|| format!("connecting to {}", request.uri))?;
        let before = channels_with(node, lsp).into_iter().map(|details| details.channel_id).collect();
        let me = NodeId(node.node_id());
        let callback = if cancel { request.cancel_url(&me) } else { request.open_url(&me, private) };
        let answer: LnurlStatus = serde_json::from_slice(&fetch(http, &callback).await?)
            .context("the callback's answer is not a LUD status")?;
        if let LnurlStatus::Error { reason } = answer {
            bail!("the LSP refused: {reason}");
        }
        Ok(Claim { lsp, before })
    }

    /// Waits until the new channel from the LSP is ready, calling `seen` each time it changes.
    ///
    /// # Errors
    /// No ready new channel within `wait`.
    pub async fn wait_until_ready(
        &self,
        node: &Node,
        wait: Duration,
        mut seen: impl FnMut(&SeenChannel),
    ) -> Result<SeenChannel> {
        let started = tokio::time::Instant::now();
        let mut last: Option<SeenChannel> = None;
        loop {
            let channel =
                channels_with(node, self.lsp).into_iter().find(|details| !self.before.contains(&details.channel_id));
            let view = channel.map(|details| SeenChannel {
                funding_outpoint: details.funding_txo.map(|txo| format!("{}:{}", txo.txid, txo.index)),
                capacity_sat: details.channel_value_satoshis,
                confirmations: details.confirmations.unwrap_or(0),
                ready: details.is_channel_ready,
            });
            if let Some(view) = view.as_ref().filter(|view| last.as_ref() != Some(*view)) {
                seen(view);
            }
            if let Some(view) = view.as_ref().filter(|view| view.ready) {
                return Ok(view.clone());
            }
            last = view;
            if started.elapsed() > wait {
                bail!("no ready channel from {} after {wait:?}", self.lsp);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn channels_with(node: &Node, lsp: PublicKey) -> Vec<ChannelDetails> {
    node.list_channels().into_iter().filter(|details| details.counterparty.node_id == lsp).collect()
}

/// GETs `url`: a 200 answer up to [`MAX_ANSWER_BYTES`].
async fn fetch(http: &reqwest::Client, url: &Url) -> Result<Vec<u8>> {
    let mut response = http.get(url.clone()).send().await.with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url}: HTTP {}", response.status());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.with_context(|| format!("reading {url}"))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            bail!("GET {url}: the answer is over {MAX_ANSWER_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
