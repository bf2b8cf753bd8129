//! `inbound client lnurl-channel <LNURL|URL>`: claims a channel by LNURL-channel (LUD-02), e.g.
//! a voucher's QR code. It reads the LNURL (bech32, `lightning:`, LUD-17 `lnurlc://` or a
//! plain URL), fetches the channel request, starts a wallet node, connects it to the request's
//! `uri`, calls the `callback` with the node's id, and then waits (`--wait-secs`) until the
//! channel from that node is ready. Each step prints one JSON line on stdout.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use lsps::lnurl::{self, ChannelRequest, LnurlStatus};
use lsps::schema::NodeId;
use serde_json::json;
use url::Url;

use crate::client::{resolve_lsp, wallet_options};
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
    /// The wallet node's data directory. Default: a temporary one, deleted at exit (the channel
    /// is then lost with it: give a directory to keep the channel).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The chain backend's RPC URL (default: INBOUND_CHAIN_URL, else bitcoind's default for the network).
    #[arg(long, value_name = "URL")]
    pub chain_url: Option<String>,
    /// The network of the wallet node; must match the LSP's.
    #[arg(long, default_value = "regtest")]
    pub network: String,
    /// How long to wait for each HTTP answer and for the connection.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout_secs: u64,
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
    let url = lnurl::decode(&args.lnurl).context("reading the LNURL")?;
    if !lnurl::is_secure(&url) {
        bail!("{url} is plain http to a public host: LNURL requires https (or an onion or loopback host)");
    }
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("the HTTP client")?;
    let request = ChannelRequest::from_json(&fetch(&http, &url).await?).context("the LNURL's answer")?;
    line("channel_request", json!({ "uri": request.uri.to_string(), "callback": request.callback.to_string() }));

    let (lsp_id, address) = resolve_lsp(&request.uri.to_string()).await?;
    let (_temporary_dir, options) = wallet_options(&args.network, args.chain_url.as_deref(), args.data_dir.as_deref())?;
    let wallet = start_wallet(options).await?;
    let outcome = async {
        tokio::time::timeout(timeout, wallet.node.connect_peer(lsp_id, address, true))
            .await
            .map_err(|_| anyhow!("timed out after {timeout:?} connecting to {}", request.uri))?
            .with_context(|| format!("connecting to {}", request.uri))?;
        let me = NodeId(wallet.node.node_id());
        let callback = match args.cancel {
            true => request.cancel_url(&me),
            false => request.open_url(&me, !args.public),
        };
        let answer: LnurlStatus = serde_json::from_slice(&fetch(&http, &callback).await?)
            .context("the callback's answer is not a LUD status")?;
        if let LnurlStatus::Error { reason } = answer {
            bail!("the LSP refused: {reason}");
        }
        line("accepted", json!({ "lsp": lsp_id.to_string(), "node_id": me.to_string(), "cancelled": args.cancel }));
        if args.cancel || args.wait_secs == 0 {
            return Ok(());
        }
        wait_for_channel(&wallet.node, lsp_id, Duration::from_secs(args.wait_secs)).await
    }
    .await;
    if let Err(error) = wallet.stop().await {
        tracing::warn!("{error:#}");
    }
    outcome
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

/// Prints the channel from `lsp` each time it changes, until it is ready.
async fn wait_for_channel(
    node: &inbound_node::Node,
    lsp: inbound_node::bitcoin::secp256k1::PublicKey,
    wait: Duration,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut last = None;
    loop {
        let channel = node.list_channels().into_iter().find(|details| details.counterparty.node_id == lsp);
        let view = channel.as_ref().map(|details| {
            let outpoint = details.funding_txo.map(|txo| format!("{}:{}", txo.txid, txo.index));
            (outpoint, details.channel_value_satoshis, details.confirmations.unwrap_or(0), details.is_channel_ready)
        });
        if view != last {
            if let Some((outpoint, capacity_sat, confirmations, ready)) = &view {
                line(
                    "channel",
                    json!({ "funding_outpoint": outpoint, "capacity_sat": capacity_sat,
                            "confirmations": confirmations, "ready": ready }),
                );
            }
            last = view.clone();
        }
        if view.is_some_and(|(.., ready)| ready) {
            return Ok(());
        }
        if started.elapsed() > wait {
            bail!("no ready channel from {lsp} after {wait:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
