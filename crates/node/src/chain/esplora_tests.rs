//! [`EsploraClient`] against an in-test HTTP server: the base path, 404s, malformed, mismatched
//! and oversized answers, fee conversion and fallback, broadcast duplicates, and a reorg followed
//! over HTTP with a [`SimChain`] behind the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::Network;

use super::super::test_server::{ready, Recorded, Reply, TestServer};
use super::super::SimChain;
use super::*;

fn client(server: &TestServer, base: &str) -> EsploraClient {
    let mut config = EsploraConfig::new(server.url(base));
    config.request_timeout = Duration::from_secs(5);
    EsploraClient::new(config).unwrap()
}

/// Serves the Esplora endpoints from `chain`, under `prefix`.
fn esplora_from_sim(chain: &SimChain, prefix: &str, request: &Recorded) -> Reply {
    let Some(path) = request.path.strip_prefix(prefix) else { return Reply::text(404, "wrong prefix") };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let tip = SimChain::tip(chain);
    let hash = |text: &str| text.parse::<BlockHash>().ok();
    match segments.as_slice() {
        ["blocks", "tip", "hash"] => Reply::text(200, &tip.block_hash.to_string()),
        ["blocks", "tip", "height"] => Reply::text(200, &tip.height.to_string()),
        ["block-height", height] => match height.parse().ok().and_then(|h| ready(chain.block_hash_at(h)).ok()?) {
            Some(hash) => Reply::text(200, &hash.to_string()),
            None => Reply::text(404, "Block not found"),
        },
        ["block", block, "header"] => match hash(block).and_then(|h| ready(chain.header(&h)).ok()) {
            Some(header) => Reply::text(200, &serialize_hex(&header)),
            None => Reply::text(404, "Block not found"),
        },
        ["block", block, "raw"] => match hash(block).and_then(|h| ready(chain.block(&h)).ok()) {
            Some(block) => Reply::Body(200, serialize(&block)),
            None => Reply::text(404, "Block not found"),
        },
        _ => Reply::text(404, "no such endpoint"),
    }
}

#[tokio::test]
async fn the_base_path_prefixes_every_endpoint() {
    let chain = SimChain::new();
    let tip = chain.mine_blocks(3);
    let sim = Arc::clone(&chain);
    let server = TestServer::start(move |request| esplora_from_sim(&sim, "/api", request)).await;
    for base in ["/api", "/api/"] {
        let esplora = client(&server, base);
        assert_eq!(esplora.get_best_block().await.unwrap(), tip);
        assert_eq!(esplora.get_header(&tip.block_hash).await.unwrap().block_hash(), tip.block_hash);
        assert_eq!(esplora.get_block(&tip.block_hash).await.unwrap().block_hash(), tip.block_hash);
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.iter().all(|p| p.starts_with("/api/") && !p.starts_with("/api//")), "{paths:?}");
    assert!(paths.contains(&format!("/api/block-height/{}", tip.height)));
    // Without the prefix the server answers 404 to everything.
    assert!(client(&server, "/").get_tip_hash().await.is_err());
}

#[tokio::test]
async fn heights_beyond_the_tip_and_unknown_blocks_are_not_found() {
    let chain = SimChain::new();
    let tip = chain.mine_blocks(2);
    let sim = Arc::clone(&chain);
    let server = TestServer::start(move |request| esplora_from_sim(&sim, "", request)).await;
    let esplora = client(&server, "");
    assert_eq!(esplora.get_block_hash(2).await.unwrap(), Some(tip.block_hash));
    assert_eq!(esplora.get_block_hash(3).await.unwrap(), None);
    let unknown = BlockHash::from_byte_array([7; 32]);
    assert!(matches!(esplora.get_header(&unknown).await, Err(ChainError::BlockNotFound(h)) if h == unknown));
    assert!(matches!(esplora.get_block(&unknown).await, Err(ChainError::BlockNotFound(h)) if h == unknown));
}

#[tokio::test]
async fn malformed_mismatched_and_oversized_answers_are_errors() {
    let regtest = bitcoin::constants::genesis_block(Network::Regtest);
    let mainnet = bitcoin::constants::genesis_block(Network::Bitcoin);
    let asked = regtest.block_hash();
    let mut wrong_txs = regtest.clone();
    wrong_txs.txdata.push(mainnet.txdata[0].clone());
    let mut trailing = serialize(&regtest);
    trailing.push(0);
    let header_hex = serialize_hex(&regtest.header);
    let answers: Vec<(&str, Reply)> = vec![
        ("tip hash not hex", Reply::text(200, &"zz".repeat(32))),
        ("tip hash too short", Reply::text(200, "00ff")),
        ("tip hash oversized", Reply::Body(200, vec![b'0'; 2000])),
        ("tip hash not utf-8", Reply::Body(200, vec![0xff; 64])),
        ("tip hash 500", Reply::text(500, "oops")),
        ("tip height", Reply::text(200, "-1")),
        ("header odd hex", Reply::text(200, &header_hex[1..])),
        ("header trailing bytes", Reply::text(200, &format!("{header_hex}00"))),
        ("header of another block", Reply::text(200, &serialize_hex(&mainnet.header))),
        ("block garbage", Reply::Body(200, vec![1, 2, 3])),
        ("block trailing bytes", Reply::Body(200, trailing)),
        ("block of another block", Reply::Body(200, serialize(&mainnet))),
        ("block with other transactions", Reply::Body(200, serialize(&wrong_txs))),
        ("block oversized", Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 4000001\r\n\r\n".to_vec())),
        ("block 400", Reply::text(400, "bad request")),
    ];
    let answers = Arc::new(Mutex::new(answers.into_iter().map(|(_, reply)| Some(reply)).collect::<Vec<_>>()));
    let current = Arc::new(AtomicUsize::new(0));
    let (replies, index) = (Arc::clone(&answers), Arc::clone(&current));
    let server = TestServer::start(move |_| {
        let mut replies = replies.lock().unwrap();
        replies[index.load(Ordering::SeqCst)].take().unwrap_or_else(|| Reply::text(500, "answered already"))
    })
    .await;
    let esplora = client(&server, "");
    for case in 0..15 {
        current.store(case, Ordering::SeqCst);
        let result = match case {
            0..=4 => esplora.get_tip_hash().await.map(|_| ()),
            5 => esplora.get_tip_height().await.map(|_| ()),
            6..=8 => esplora.get_header(&asked).await.map(|_| ()),
            _ => esplora.get_block(&asked).await.map(|_| ()),
        };
        match (case, result) {
            (4, Err(ChainError::Transport(_))) => {}
            (_, Err(ChainError::InvalidResponse(_))) if case != 4 => {}
            (_, other) => panic!("case {case}: {other:?}"),
        }
    }
    // The server still works, and so does the client.
    let healthy = TestServer::start(move |_| Reply::text(200, &header_hex)).await;
    assert_eq!(client(&healthy, "").get_header(&asked).await.unwrap(), regtest.header);
}

#[tokio::test]
async fn the_tip_pair_is_cross_checked() {
    let chain = SimChain::new();
    let tip = chain.mine_blocks(2);
    let sim = Arc::clone(&chain);
    let calls = AtomicUsize::new(0);
    // The first tip hash is stale (the block below the tip), as if a block arrived in between.
    let server = TestServer::start(move |request| {
        if request.path == "/blocks/tip/hash" && calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let stale = ready(sim.block_hash_at(1)).unwrap().unwrap();
            return Reply::text(200, &stale.to_string());
        }
        esplora_from_sim(&sim, "", request)
    })
    .await;
    assert_eq!(client(&server, "").get_best_block().await.unwrap(), tip);

    // A server whose tip hash is never the block at its tip height.
    let liar = TestServer::start(|request| match request.path.as_str() {
        "/blocks/tip/height" => Reply::text(200, "0"),
        "/blocks/tip/hash" => Reply::text(200, &"11".repeat(32)),
        _ => Reply::text(200, &"22".repeat(32)),
    })
    .await;
    assert!(matches!(client(&liar, "").get_best_block().await, Err(ChainError::Inconsistent(_))));
    assert_eq!(liar.requests().len(), 3 * TIP_ATTEMPTS);
}

#[test]
fn fee_rates_convert_from_sat_per_vbyte() {
    assert_eq!(sat_per_vb_to_sat_per_kwu(10.0), Some(2500));
    assert_eq!(sat_per_vb_to_sat_per_kwu(1.001), Some(251u32.max(FALLBACK_FEE_RATE_SAT_PER_KWU)));
    assert_eq!(sat_per_vb_to_sat_per_kwu(2.001), Some(501));
    assert_eq!(sat_per_vb_to_sat_per_kwu(0.5), Some(FALLBACK_FEE_RATE_SAT_PER_KWU));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e10] {
        assert_eq!(sat_per_vb_to_sat_per_kwu(bad), None, "{bad}");
    }
    let estimates = BTreeMap::from([(2, 30.0), (6, 10.0), (144, 2.0)]);
    assert_eq!(fee_rate_for_target(&estimates, 1), Some(7500), "below every target: the fastest estimate");
    assert_eq!(fee_rate_for_target(&estimates, 12), Some(2500), "between targets: the faster one");
    assert_eq!(fee_rate_for_target(&estimates, 1008), Some(500));
    assert_eq!(fee_rate_for_target(&BTreeMap::new(), 6), None);
}

#[tokio::test]
async fn fee_estimates_are_cached_with_fallback() {
    let answer = Arc::new(Mutex::new(Reply::text(200, "{}")));
    let current = Arc::clone(&answer);
    let server = TestServer::start(move |_| match &*current.lock().unwrap() {
        Reply::Body(status, body) => Reply::Body(*status, body.clone()),
        _ => Reply::text(500, "unexpected"),
    })
    .await;
    let esplora = client(&server, "");
    let set = |reply: Reply| *answer.lock().unwrap() = reply;
    let rate = |target| esplora.fee_rate_sat_per_kwu(target);

    set(Reply::text(200, r#"{"1": 20.5, "6": 10, "12": -1, "x": 3, "3": "abc", "144": 1.0, "1008": 0.25}"#));
    esplora.update_fee_estimates().await.unwrap();
    assert_eq!(rate(ConfirmationTarget::MaximumFeeEstimate), 5125);
    assert_eq!(rate(ConfirmationTarget::UrgentOnChainSweep), 2500);
    assert_eq!(rate(ConfirmationTarget::NonAnchorChannelFee), 2500, "the invalid 12-block entry is skipped");
    assert_eq!(rate(ConfirmationTarget::ChannelCloseMinimum), 253);
    assert_eq!(rate(ConfirmationTarget::AnchorChannelFee), 253);

    // A body that is not a JSON object is an error and leaves the cache alone.
    set(Reply::text(200, "[1, 2]"));
    assert!(matches!(esplora.update_fee_estimates().await, Err(ChainError::InvalidResponse(_))));
    assert_eq!(rate(ConfirmationTarget::MaximumFeeEstimate), 5125);
    // No estimates at all (an empty map, as on regtest, or an error status): the fallback.
    for reply in [Reply::text(200, "{}"), Reply::text(503, "no estimates")] {
        set(Reply::text(200, r#"{"1": 20}"#));
        esplora.update_fee_estimates().await.unwrap();
        set(reply);
        esplora.update_fee_estimates().await.unwrap();
        for (target, _) in CONFIRMATION_TARGETS {
            assert_eq!(rate(target), FALLBACK_FEE_RATE_SAT_PER_KWU);
        }
    }
}

#[tokio::test]
async fn broadcast_treats_already_known_as_success() {
    let tx = bitcoin::constants::genesis_block(Network::Regtest).txdata[0].clone();
    let txid = tx.compute_txid().to_string();
    let replies: Vec<Reply> = vec![
        Reply::text(200, &txid),
        Reply::text(
            400,
            r#"sendrawtransaction RPC error: {"code":-27,"message":"Transaction already in block chain"}"#,
        ),
        Reply::text(400, r#"sendrawtransaction RPC error: {"code":-26,"message":"txn-already-in-mempool"}"#),
        Reply::text(
            400,
            r#"sendrawtransaction RPC error: {"code":-27,"message":"Transaction outputs already in utxo set"}"#,
        ),
        Reply::text(400, r#"sendrawtransaction RPC error: {"code":-26,"message":"bad-txns-inputs-missingorspent"}"#),
        Reply::text(200, &"00".repeat(32)),
        Reply::text(503, "unavailable"),
    ];
    let replies = Mutex::new(replies.into_iter());
    let server =
        TestServer::start(move |_| replies.lock().unwrap().next().unwrap_or_else(|| Reply::text(500, "done"))).await;
    let esplora = client(&server, "/api");
    for _ in 0..4 {
        esplora.broadcast(&tx).await.unwrap();
    }
    assert!(
        matches!(esplora.broadcast(&tx).await, Err(ChainError::BroadcastRejected(m)) if m.contains("missingorspent"))
    );
    assert!(matches!(esplora.broadcast(&tx).await, Err(ChainError::InvalidResponse(_))));
    assert!(matches!(esplora.broadcast(&tx).await, Err(ChainError::Transport(_))));
    let request = &server.requests()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/api/tx"));
    assert_eq!(request.body, serialize_hex(&tx).into_bytes());
}

/// Records what [`sync_from_blocks`] tells it.
struct Recorder {
    best: Mutex<BestBlock>,
    fork_points: Mutex<Vec<BestBlock>>,
}

impl ChainConsumer for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn best_block(&self) -> BestBlock {
        *self.best.lock().unwrap()
    }
    fn block_connected(&self, block: &Block, height: u32) {
        let mut best = self.best.lock().unwrap();
        assert_eq!((block.header.prev_blockhash, height), (best.block_hash, best.height + 1));
        *best = BestBlock::new(block.block_hash(), height);
    }
    fn blocks_disconnected(&self, fork_point: BestBlock) {
        *self.best.lock().unwrap() = fork_point;
        self.fork_points.lock().unwrap().push(fork_point);
    }
}

#[tokio::test]
async fn sync_follows_a_reorg_over_http() {
    let chain = SimChain::new();
    let genesis = SimChain::tip(&chain);
    let sim = Arc::clone(&chain);
    let server = TestServer::start(move |request| esplora_from_sim(&sim, "/api", request)).await;
    let esplora = client(&server, "/api");
    let recorder = Recorder { best: Mutex::new(genesis), fork_points: Mutex::new(Vec::new()) };
    chain.mine_blocks(5);
    assert_eq!(esplora.sync(&[&recorder]).await.unwrap(), SimChain::tip(&chain));
    let fork_point = BestBlock::new(ready(chain.block_hash_at(3)).unwrap().unwrap(), 3);
    let new_tip = chain.reorg(2);
    assert_eq!(esplora.sync(&[&recorder]).await.unwrap(), new_tip);
    assert_eq!(recorder.best_block(), new_tip);
    assert_eq!(*recorder.fork_points.lock().unwrap(), [fork_point]);
}
