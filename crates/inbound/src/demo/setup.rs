//! The demo's setup steps: the push relay's certificate, starting the three nodes on the bcoin
//! chain, funding, connecting.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use inbound_node::bitcoin::Network;
use inbound_node::BitcoindRpcConfig;
use inbound_push_relay::{self_signed_tls, TlsConfig};
use inbound_regtest::{Bcoin, COINBASE_MATURITY};
use inbound_service::lsps5::Lsps5Config;

use super::{poll_until, DemoNet, STEP_TIMEOUT};
use crate::config::{
    ChainSection, Config, FileConfig, HttpSection, LnurlSection, LspsSection, NetworkName, NodeSection, Overrides,
    ProtocolName, WebSection,
};
use crate::lsp::Lsp;
use crate::wallet::{Wallet, WalletOptions};

/// The demo nodes look at the chain this often (the demo also syncs them after each mining).
pub const DEMO_POLL_INTERVAL_SECS: u64 = 1;

/// The local ports of the demo's LSP, picked before it starts because its `[lnurl]` names them.
#[derive(Clone, Copy, Debug)]
pub struct DemoPorts {
    /// The node's listening port.
    pub node: u16,
    /// The HTTP front end's (LSPS over HTTP, LNURL-channel).
    pub http: u16,
}

impl DemoPorts {
    /// Two ports free on loopback now.
    ///
    /// # Errors
    /// If loopback cannot be bound.
    pub fn pick() -> Result<DemoPorts> {
        let free = || -> Result<(std::net::TcpListener, u16)> {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
            let port = listener.local_addr().context("a bound port")?.port();
            Ok((listener, port))
        };
        // Both held at once, so that they differ.
        let ((_node, node), (_http, http)) = (free()?, free()?);
        Ok(DemoPorts { node, http })
    }
}

/// The LSP's configuration in the demo: regtest, the bcoin chain, LSPS1, LSPS2 and LSPS5 on
/// (their store is the default SQLite file in the LSP's data directory), LSPS5 trusting the
/// demo's push relay (`relay_ca_file`, on loopback), the HTTP front end with the widget and `[lnurl]` on the
/// loopback `ports`, every other value at its default. It goes through the same resolution and
/// validation as a file.
pub fn lsp_config(bcoin: &Bcoin, root: &Path, relay_ca_file: &Path, ports: DemoPorts) -> Result<Config> {
    let file = FileConfig {
        network: Some(NetworkName::Regtest),
        data_dir: Some(root.join("lsp")),
        node: Some(NodeSection {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], ports.node))),
            alias: Some("demo-lsp".to_string()),
            ..NodeSection::default()
        }),
        chain: Some(ChainSection {
            url: Some(bcoin.rpc_url().to_string()),
            poll_interval_secs: Some(DEMO_POLL_INTERVAL_SECS),
            ..ChainSection::default()
        }),
        lsps: Some(LspsSection {
            enabled: Some(vec![ProtocolName::Lsps1, ProtocolName::Lsps2, ProtocolName::Lsps5]),
            compat: None,
            error_data: None,
        }),
        limits: None,
        store: None,
        lsps2: None,
        lsps1: None,
        lsps5: Some(Lsps5Config {
            allow_private_destinations: true,
            extra_ca_file: Some(relay_ca_file.to_path_buf()),
            ..Lsps5Config::default()
        }),
        admin: Some(inbound_admin::AdminConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..inbound_admin::AdminConfig::default()
        }),
        http: Some(HttpSection {
            enabled: Some(true),
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], ports.http))),
            ..HttpSection::default()
        }),
        lnurl: Some(LnurlSection {
            public_url: Some(format!("http://127.0.0.1:{}", ports.http)),
            node_address: Some(format!("127.0.0.1:{}", ports.node)),
        }),
        web: Some(WebSection { enabled: Some(true), frame_ancestors: None }),
    };
    Ok(Config::resolve(file, "the demo's LSP configuration", &Overrides::default(), &Overrides::default())?)
}

/// The push relay's TLS: a self-signed certificate for `localhost`, its PEM written to
/// `relay-ca.pem` under `root` for the LSP to trust.
pub fn relay_tls(root: &Path) -> Result<(Arc<TlsConfig>, PathBuf)> {
    let (tls, pem) = self_signed_tls(&["localhost".to_owned()]).context("the push relay's certificate")?;
    let ca_file = root.join("relay-ca.pem");
    std::fs::write(&ca_file, pem).with_context(|| format!("writing {}", ca_file.display()))?;
    Ok((tls, ca_file))
}

/// Starts the LSP with `config` ([`lsp_config`]), the way `inbound serve` does.
pub async fn start_lsp(config: &Config) -> Result<Lsp> {
    let lsp = crate::lsp::start_lsp(config).await?;
    eprintln!("[demo]     LSP {}@{}", lsp.node.node_id(), lsp.listening_address()?);
    Ok(lsp)
}

/// Starts a wallet-role node called `name` on the bcoin chain; with `jit`, one that buys JIT
/// channels ([`crate::wallet::start_jit_wallet`]).
pub async fn start_wallet(bcoin: &Bcoin, root: &Path, name: &str, jit: bool) -> Result<Wallet> {
    let mut chain = BitcoindRpcConfig::new(bcoin.rpc_url());
    chain.poll_interval = Duration::from_secs(DEMO_POLL_INTERVAL_SECS);
    let options =
        WalletOptions { data_dir: root.join(name), network: Network::Regtest, alias: format!("demo-{name}"), chain };
    let wallet = if jit {
        crate::wallet::start_jit_wallet(options).await?
    } else {
        crate::wallet::start_wallet(options).await?
    };
    eprintln!("[demo]     {name} {}", wallet.node.node_id());
    Ok(wallet)
}

/// Mines one coinbase to the LSP and one to the payer, matures them, and waits until both
/// wallets can spend.
pub async fn fund(net: &DemoNet<'_>) -> Result<()> {
    let lsp_address = net.lsp.node.new_onchain_address().context("LSP address")?;
    let payer_address = net.payer.node.new_onchain_address().context("payer address")?;
    net.bcoin.mine(1, Some(&lsp_address)).await.context("mining to the LSP")?;
    net.bcoin.mine(1, Some(&payer_address)).await.context("mining to the payer")?;
    net.bcoin.mine(COINBASE_MATURITY, None).await.context("maturing the coinbases")?;
    for (name, node) in [("LSP", &net.lsp.node), ("payer", &net.payer.node)] {
        poll_until(&format!("the {name}'s coinbase to become spendable"), STEP_TIMEOUT, || async move {
            node.sync_chain().await.with_context(|| format!("syncing the {name}"))?;
            Ok(node.onchain_balance().confirmed_sat > 0)
        })
        .await?;
        eprintln!("[demo]     {name} has {} sat on chain", node.onchain_balance().confirmed_sat);
    }
    Ok(())
}

/// Connects the wallet to the LSP (no channel: LSPS0 needs only the connection).
pub async fn connect_wallet(net: &DemoNet<'_>) -> Result<()> {
    let lsp_id = net.lsp.node.node_id();
    let address = net.lsp.listening_address()?;
    net.wallet.node.connect_peer(lsp_id, address, false).await.context("wallet connecting to the LSP")?;
    Ok(())
}
