//! ldk-node 0.7.1 nodes on the bcoin chain (through [`RpcProxy`](crate::proxy::RpcProxy)): the
//! payer, the ldk-node wallet, and LDK's own LSPS2 service.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ldk_node::bitcoin::secp256k1::PublicKey;
use ldk_node::bitcoin::Network;
use ldk_node::config::Config;
use ldk_node::lightning::ln::msgs::SocketAddress;
use ldk_node::liquidity::LSPS2ServiceConfig;
use ldk_node::{Builder, Event, Node};

use crate::chain::Chain;

/// Builds and starts an ldk-node on `chain`, storing under `dir/name`, listening on `listen`
/// (if any); `configure` adds the role (LSPS2 client or service). Peers in `no_reserve_peers`
/// may open anchor channels to it without it holding an on-chain reserve (what a wallet with
/// no coins needs to accept an LSP's JIT channel).
///
/// # Errors
/// If the node cannot be built or started.
pub fn start_ldk_node(
    chain: &Chain,
    dir: &Path,
    name: &str,
    listen: Option<std::net::SocketAddr>,
    no_reserve_peers: Vec<PublicKey>,
    configure: impl FnOnce(&mut Builder),
) -> Result<Arc<Node>> {
    let storage = dir.join(name);
    let mut config = Config::default();
    if let Some(anchors) = config.anchor_channels_config.as_mut() {
        anchors.trusted_peers_no_reserve = no_reserve_peers;
    }
    let mut builder = Builder::from_config(config);
    builder.set_network(Network::Regtest);
    builder.set_storage_dir_path(storage.display().to_string());
    builder.set_chain_source_bitcoind_rpc("127.0.0.1".into(), chain.proxy.port(), "x".into(), "x".into());
    if let Some(listen) = listen {
        builder
            .set_listening_addresses(vec![socket_address(listen)?])
            .map_err(|e| anyhow!("listening address of {name}: {e:?}"))?;
    }
    configure(&mut builder);
    let node = Arc::new(builder.build().map_err(|e| anyhow!("building ldk-node {name}: {e:?}"))?);
    node.start().map_err(|e| anyhow!("starting ldk-node {name}: {e:?}"))?;
    Ok(node)
}

/// A loopback address ldk-node can be told to listen on (a port that was free a moment ago).
///
/// # Errors
/// If no port can be bound.
pub fn free_local_address() -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

/// `address` as LDK's [`SocketAddress`].
///
/// # Errors
/// Never for an IP address.
pub fn socket_address(address: std::net::SocketAddr) -> Result<SocketAddress> {
    SocketAddress::from_str(&address.to_string()).map_err(|e| anyhow!("socket address {address}: {e:?}"))
}

/// LDK's LSPS2 service settings used by the tests and the benchmark: one menu entry.
pub fn ldk_lsps2_service(client_trusts_lsp: bool) -> LSPS2ServiceConfig {
    LSPS2ServiceConfig {
        require_token: None,
        advertise_service: false,
        channel_opening_fee_ppm: LDK_FEE_PPM,
        channel_over_provisioning_ppm: 100_000,
        min_channel_opening_fee_msat: LDK_MIN_FEE_MSAT,
        min_channel_lifetime: 100,
        max_client_to_self_delay: 1024,
        min_payment_size_msat: 1_000_000,
        max_payment_size_msat: 1_000_000_000,
        client_trusts_lsp,
    }
}

/// The proportional fee of [`ldk_lsps2_service`].
pub const LDK_FEE_PPM: u32 = 10_000;
/// The fee floor of [`ldk_lsps2_service`].
pub const LDK_MIN_FEE_MSAT: u64 = 1_000_000;

/// Waits up to `timeout` for an event `select` picks, marking every event handled.
///
/// # Errors
/// On timeout, or if `select` returns an error (the awaited thing failed).
pub async fn wait_event<T>(
    node: &Node,
    what: &str,
    timeout: Duration,
    mut select: impl FnMut(&Event) -> Option<Result<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            let event = node.next_event_async().await;
            node.event_handled().map_err(|e| anyhow!("event_handled: {e:?}"))?;
            if let Some(outcome) = select(&event) {
                return outcome;
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
}

/// Syncs `node`'s wallets until its spendable on-chain balance is at least `sats`.
///
/// # Errors
/// After `timeout`.
pub async fn wait_onchain_balance(node: &Node, sats: u64, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let _ = node.sync_wallets();
        let balance = node.list_balances().spendable_onchain_balance_sats;
        if balance >= sats {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("on-chain balance {balance} sat < {sats} sat after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens `count` channels of `sats` each from `payer` to `lsp`, mines them deep enough and
/// waits until all are usable. Each funding is mined before the next open (with several
/// unconfirmed fundings in a row, one once never reached bcoin's mempool), and every fourth
/// channel is mined deep and waited for until usable: the LSP's LDK refuses a fifth channel from
/// one peer while four are still unconfirmed to it ("Refusing more than 4 unfunded channels").
///
/// # Errors
/// If an open fails or the channels do not become usable in time.
pub async fn open_payer_channels(
    chain: &Chain,
    payer: &Node,
    lsp: PublicKey,
    lsp_address: std::net::SocketAddr,
    count: usize,
    sats: u64,
) -> Result<()> {
    let address = socket_address(lsp_address)?;
    let usable = || payer.list_channels().iter().filter(|c| c.counterparty_node_id == lsp && c.is_usable).count();
    let base = usable();
    for index in 0..count {
        payer.open_channel(lsp, address.clone(), sats, None, None).map_err(|e| anyhow!("open_channel: {e:?}"))?;
        wait_event(payer, "ChannelPending", Duration::from_secs(30), |event| match event {
            Event::ChannelPending { counterparty_node_id, .. } if *counterparty_node_id == lsp => Some(Ok(())),
            Event::ChannelClosed { counterparty_node_id: Some(peer), reason, .. } if *peer == lsp => {
                Some(Err(anyhow!("channel to {lsp} closed while opening: {reason:?}")))
            }
            _ => None,
        })
        .await?;
        // Let the funding transaction reach bcoin's mempool, then confirm it.
        chain.wait_mempool(1, Duration::from_secs(20)).await?;
        chain.mine(1).await?;
        let _ = payer.sync_wallets();
        if (index + 1) % 4 == 0 || index + 1 == count {
            // Deep enough for both sides; wait until the LSP has seen it too (usable).
            chain.mine(5).await?;
            let want = base + index + 1;
            let started = Instant::now();
            loop {
                let _ = payer.sync_wallets();
                let now_usable = usable();
                if now_usable >= want {
                    break;
                }
                if started.elapsed() > Duration::from_secs(60) {
                    bail!("{now_usable} payer channels to {lsp} usable after 60 s, want {want}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}
