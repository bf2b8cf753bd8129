//! Shared helpers for the node integration tests: nodes on a [`SimChain`], recording handlers and
//! a `wait_until` that polls a condition with a timeout (never a bare sleep as an assertion).

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inbound_node::bitcoin::secp256k1::PublicKey;
use inbound_node::bitcoin::Network;
use inbound_node::lightning::events::Event;
use inbound_node::lightning::util::logger::Level;
use inbound_node::{FundingBroadcast, LspsMessageHandler, Node, NodeBuilder, NodeRole, SimChain, SyncEventHandler};

/// Default timeout of one wait.
pub const WAIT: Duration = Duration::from_secs(15);

/// Polls `condition` every 10 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Records every LSPS0 callback.
#[derive(Default)]
pub struct RecordingLsps {
    pub messages: Mutex<Vec<(PublicKey, Vec<u8>)>>,
    pub connected: Mutex<Vec<(PublicKey, bool)>>,
    pub disconnected: Mutex<Vec<PublicKey>>,
}

impl RecordingLsps {
    pub fn messages(&self) -> Vec<(PublicKey, Vec<u8>)> {
        self.messages.lock().expect("lock").clone()
    }
    pub fn connected_as(&self, peer: &PublicKey) -> Option<bool> {
        self.connected.lock().expect("lock").iter().rev().find(|(p, _)| p == peer).map(|(_, a)| *a)
    }
}

impl LspsMessageHandler for RecordingLsps {
    fn handle(&self, peer: PublicKey, payload: Vec<u8>) {
        self.messages.lock().expect("lock").push((peer, payload));
    }
    fn peer_connected(&self, peer: PublicKey, peer_advertises_lsps: bool) {
        self.connected.lock().expect("lock").push((peer, peer_advertises_lsps));
    }
    fn peer_disconnected(&self, peer: PublicKey) {
        self.disconnected.lock().expect("lock").push(peer);
    }
}

/// Records every forwarded LDK event.
#[derive(Default)]
pub struct EventLog(pub Mutex<Vec<Event>>);

impl EventLog {
    pub fn any(&self, predicate: impl Fn(&Event) -> bool) -> bool {
        self.0.lock().expect("lock").iter().any(predicate)
    }
    pub fn find_map<T>(&self, f: impl Fn(&Event) -> Option<T>) -> Option<T> {
        self.0.lock().expect("lock").iter().find_map(f)
    }
}

/// A test node plus its recorders.
pub struct TestNode {
    pub node: Node,
    pub events: Arc<EventLog>,
    pub lsps: Arc<RecordingLsps>,
}

/// Builds (or restores) and starts a regtest node on `chain` in `dir`.
pub async fn start_node(dir: &Path, alias: &str, role: NodeRole, chain: &Arc<SimChain>, listen: bool) -> TestNode {
    let events = Arc::new(EventLog::default());
    let lsps = Arc::new(RecordingLsps::default());
    let recorder = Arc::clone(&events);
    let mut builder = NodeBuilder::new(dir);
    builder
        .set_network(Network::Regtest)
        .set_alias(alias)
        .set_role(role)
        .set_min_funding_confirmations(1)
        .set_reconnect_interval_secs(1)
        .set_listen_address(if listen { "127.0.0.1:0".parse().ok() } else { None })
        .set_log_level(if std::env::var("NODE_TEST_DEBUG").is_ok() { Level::Trace } else { Level::Warn })
        .set_chain_source(Arc::clone(chain) as Arc<dyn inbound_node::ChainSource>)
        .set_lsps_message_handler(Arc::clone(&lsps) as Arc<dyn LspsMessageHandler>)
        .set_event_handler(Arc::new(SyncEventHandler(move |event: Event| {
            recorder.0.lock().expect("lock").push(event);
            Ok(())
        })));
    let node = builder.build().await.expect("build node");
    node.start().await.expect("start node");
    TestNode { node, events, lsps }
}

/// Funds `node`'s wallet with `amount_sat` (a fake coin, confirmed in one block) and waits until
/// the wallet sees it.
pub async fn fund_wallet(chain: &SimChain, node: &Node, amount_sat: u64) {
    let address = node.new_onchain_address().expect("address");
    chain.send_to(address.script_pubkey(), amount_sat);
    chain.mine_blocks(1);
    node.sync_chain().await.expect("sync");
    assert_eq!(node.onchain_balance().confirmed_sat, amount_sat);
}

/// Opens a `channel_amount_sat` channel from `payer` to `lsp`, funded by the payer's wallet, mines
/// the funding transaction and waits until both sides can use it. Returns the channel id.
pub async fn open_confirmed_channel(
    chain: &SimChain,
    payer: &TestNode,
    lsp: &TestNode,
    channel_amount_sat: u64,
    user_channel_id: u128,
) -> inbound_node::lightning::ln::types::ChannelId {
    let lsp_id = lsp.node.node_id();
    payer
        .node
        .open_channel(lsp_id, channel_amount_sat, 0, user_channel_id, FundingBroadcast::Automatic, None)
        .expect("open channel");
    let funding = chain
        .wait_for_mempool_tx(WAIT, |tx| tx.output.iter().any(|out| out.value.to_sat() == channel_amount_sat))
        .await
        .expect("funding transaction broadcast");
    assert!(payer.node.wallet().has_transaction(funding.compute_txid()), "funding came from the bdk wallet");
    chain.mine_blocks(1);
    payer.node.sync_chain().await.expect("sync payer");
    lsp.node.sync_chain().await.expect("sync lsp");
    wait_until("payer channel usable", WAIT, || payer.node.channel_manager().list_usable_channels().len() == 1).await;
    wait_until("lsp channel usable", WAIT, || lsp.node.channel_manager().list_usable_channels().len() == 1).await;
    payer.node.list_channels()[0].channel_id
}
