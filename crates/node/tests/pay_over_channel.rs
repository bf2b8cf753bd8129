//! A payer opens a wallet-funded channel to the LSP on a SimChain and pays an LSP invoice over it.

mod common;

use std::time::Instant;

use common::*;
use inbound_node::lightning::events::{Event, PaymentPurpose};
use inbound_node::{NodeRole, SimChain};

/// Proves: the bdk wallet funds a channel (FundingGenerationReady handled by the node), the
/// channel confirms on the SimChain, the LSP's invoice is paid over it, the LSP's event handler
/// receives PaymentClaimable and claims, and both sides see the final events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payer_pays_lsp_invoice_over_wallet_funded_channel() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = SimChain::new();
    chain.mine_blocks(1);
    let lsp = start_node(&dir.path().join("lsp"), "lsp", NodeRole::Lsp, &chain, true).await;
    let payer = start_node(&dir.path().join("payer"), "payer", NodeRole::Wallet, &chain, false).await;
    let lsp_id = lsp.node.node_id();

    fund_wallet(&chain, &payer.node, 500_000).await;
    let address = lsp.node.listening_address().expect("listening");
    payer.node.connect_peer(lsp_id, address, true).await.expect("connect");
    open_confirmed_channel(&chain, &payer, &lsp, 300_000, 1).await;
    // The channel is usable before the background processor has necessarily handed the
    // ChannelReady event to our handler, so wait for the event rather than assert it at once.
    wait_until("payer ChannelReady event", WAIT, || {
        payer.events.any(|e| matches!(e, Event::ChannelReady { user_channel_id: 1, .. }))
    })
    .await;

    let amount_msat = 12_345_000;
    let invoice = lsp.node.create_invoice(Some(amount_msat), "test payment", 3600).expect("invoice");
    let payment_id = payer.node.pay_invoice(&invoice).expect("pay");

    wait_until("LSP PaymentClaimable", WAIT, || lsp.events.any(|e| matches!(e, Event::PaymentClaimable { .. }))).await;
    let preimage = lsp
        .events
        .find_map(|e| match e {
            Event::PaymentClaimable {
                purpose: PaymentPurpose::Bolt11InvoicePayment { payment_preimage, .. },
                amount_msat: got,
                ..
            } => {
                assert_eq!(*got, amount_msat);
                *payment_preimage
            }
            _ => None,
        })
        .expect("LDK-generated invoice carries the preimage");
    lsp.node.channel_manager().claim_funds(preimage);

    wait_until("payer PaymentSent", WAIT, || {
        payer.events.any(|e| matches!(e, Event::PaymentSent { payment_id: Some(id), .. } if *id == payment_id))
    })
    .await;
    wait_until("LSP PaymentClaimed", WAIT, || {
        lsp.events.any(|e| matches!(e, Event::PaymentClaimed { amount_msat: got, .. } if *got == amount_msat))
    })
    .await;
    // The commitment dance finishes after PaymentClaimed; wait for the balance to move.
    wait_until("LSP balance includes the payment", WAIT, || {
        lsp.node.list_channels().first().is_some_and(|channel| channel.outbound_capacity_msat > 0)
    })
    .await;

    payer.node.stop().await.expect("stop payer");
    lsp.node.stop().await.expect("stop lsp");
    println!("payer_pays_lsp_invoice_over_wallet_funded_channel took {:?}", started.elapsed());
}
