//! The node APIs behind LSPS1: hold invoices (the caller keeps the preimage; the payment is
//! held until claimed or failed), what the wallet received to one of its addresses, and
//! fee-bumping (RBF) and confirmations of the refunds it sends.

mod common;

use bitcoin::hashes::{sha256, Hash};
use common::*;
use inbound_node::lightning::events::Event;
use inbound_node::{NodeRole, SimChain};

/// Proves: a hold invoice's payment reaches the LSP as `PaymentClaimable` without a preimage
/// and with a claim deadline at least the invoice's CLTV delta away; failing it back makes the
/// payer's payment fail; a second one is claimed with the caller's preimage and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_invoices_are_held_until_claimed_or_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.path().join("lsp"), "lsp", NodeRole::Lsp, &chain, true).await;
    let payer = start_node(&dir.path().join("payer"), "payer", NodeRole::Wallet, &chain, false).await;
    fund_wallet(&chain, &payer.node, 500_000).await;
    let address = lsp.node.listening_address().expect("listening");
    payer.node.connect_peer(lsp.node.node_id(), address, true).await.expect("connect");
    open_confirmed_channel(&chain, &payer, &lsp, 300_000, 1).await;

    for (round, claim) in [(1u8, false), (2u8, true)] {
        let preimage = [round; 32];
        let hash = sha256::Hash::hash(&preimage).to_byte_array();
        let invoice = lsp.node.create_hold_invoice(hash, 20_000_000, "order", 600, 144).expect("hold invoice");
        assert_eq!(invoice.payment_hash().to_byte_array(), hash);
        assert!(invoice.min_final_cltv_expiry_delta() >= 144, "LDK may add a few blocks");
        let payment_id = payer.node.pay_invoice(&invoice).expect("pay");
        let height = lsp.node.best_block_height();
        wait_until("held payment", WAIT, || {
            lsp.events.any(|e| matches!(e, Event::PaymentClaimable { payment_hash, .. } if payment_hash.0 == hash))
        })
        .await;
        let (preimage_known, deadline) = lsp
            .events
            .find_map(|e| match e {
                Event::PaymentClaimable { payment_hash, purpose, claim_deadline, .. } if payment_hash.0 == hash => {
                    Some((purpose.preimage().is_some(), *claim_deadline))
                }
                _ => None,
            })
            .expect("claimable");
        assert!(!preimage_known, "LDK does not know a hold invoice's preimage");
        assert!(deadline.is_some_and(|d| d >= height + 144), "{deadline:?} vs height {height}");
        if claim {
            lsp.node.claim_hold_payment(preimage);
            wait_until("payer PaymentSent", WAIT, || {
                payer.events.any(|e| matches!(e, Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id))
            })
            .await;
        } else {
            lsp.node.fail_hold_payment(hash);
            wait_until("payer PaymentFailed", WAIT, || {
                payer.events.any(|e| matches!(e, Event::PaymentFailed { payment_id: id, .. } if *id == payment_id))
            })
            .await;
        }
    }
    payer.node.stop().await.expect("stop payer");
    lsp.node.stop().await.expect("stop lsp");
}

/// Proves: `received_to_address` sums what was paid to one wallet address and counts the
/// confirmations of its least-confirmed output; other addresses are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_to_address_counts_deposits_and_confirmations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.path().join("lsp"), "lsp", NodeRole::Lsp, &chain, false).await;
    let deposit = lsp.node.new_onchain_address().expect("address");
    let other = lsp.node.new_onchain_address().expect("address");
    assert_eq!(lsp.node.received_to_address(&deposit).min_confirmations, None);
    chain.send_to(deposit.script_pubkey(), 30_000);
    chain.send_to(other.script_pubkey(), 99_000);
    chain.mine_blocks(3);
    chain.send_to(deposit.script_pubkey(), 12_000);
    chain.mine_blocks(1);
    lsp.node.sync_chain().await.expect("sync");
    let receipt = lsp.node.received_to_address(&deposit);
    assert_eq!((receipt.received_sat, receipt.min_confirmations, receipt.outputs), (42_000, Some(1), 2));
    chain.mine_blocks(2);
    lsp.node.sync_chain().await.expect("sync");
    assert_eq!(lsp.node.received_to_address(&deposit).min_confirmations, Some(3));
    lsp.node.stop().await.expect("stop lsp");
}

/// Proves: `bump_fee` replaces an unconfirmed transaction of the wallet by one paying the same
/// recipient more fee (a refund's RBF), and `tx_confirmations` follows the replacement into a
/// block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_can_be_fee_bumped_and_their_confirmations_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.path().join("lsp"), "lsp", NodeRole::Lsp, &chain, false).await;
    fund_wallet(&chain, &lsp.node, 200_000).await;
    let client = lsp.node.new_onchain_address().expect("address");
    let wallet = lsp.node.wallet();
    let original = wallet.build_send_transaction(&client, 50_000, 253).expect("refund");
    let original_txid = original.compute_txid();
    assert_eq!(wallet.tx_confirmations(original_txid), Some(0));
    let fee = |tx: &bitcoin::Transaction| {
        let inputs: u64 = 200_000;
        inputs - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>()
    };
    let replacement = wallet.bump_fee(original_txid, 2_530).expect("bumped");
    assert_ne!(replacement.compute_txid(), original_txid);
    assert!(replacement.output.iter().any(|o| o.script_pubkey == client.script_pubkey() && o.value.to_sat() == 50_000));
    assert!(fee(&replacement) > fee(&original), "{} vs {}", fee(&replacement), fee(&original));
    assert!(wallet.bump_fee(replacement.compute_txid(), 253).is_err(), "a lower rate is refused");
    lsp.node.broadcast_transaction(&replacement);
    chain.wait_for_mempool_tx(WAIT, |tx| tx.compute_txid() == replacement.compute_txid()).await.expect("broadcast");
    chain.mine_blocks(1);
    lsp.node.sync_chain().await.expect("sync");
    assert_eq!(wallet.tx_confirmations(replacement.compute_txid()), Some(1));
    assert_eq!(wallet.tx_confirmations(bitcoin::Txid::from_byte_array([7; 32])), None);
    lsp.node.stop().await.expect("stop lsp");
}
