//! A payer → LSP channel on a real bcoin regtest chain, and a payment over it.

use std::time::Instant;

use inbound_harness::{Network, DEFAULT_TIMEOUT};
use inbound_node::lightning::events::Event;

/// Proves: on bcoin (full validation, real mining), the payer's wallet is funded by a mined
/// coinbase, its channel funding transaction is accepted into bcoin's mempool and confirms,
/// both sides see the channel ready, LSPS0 works over the same connection, and a payment to the
/// LSP's invoice succeeds and is claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payer_pays_lsp_over_a_channel_confirmed_on_bcoin() {
    let started = Instant::now();
    let network = Network::bcoin().await.expect("bcoin network");
    println!("bcoin ready at {:?}", started.elapsed());
    let lsp = network.add_lsp("lsp").await.expect("lsp");
    let payer = network.add_wallet("payer").await.expect("payer");
    let funded = network.fund(&payer, 1_000_000).await.expect("fund from a coinbase");
    assert!(funded >= 1_000_000);
    println!("payer funded with {funded} sat at {:?}", started.elapsed());

    network.connect(&payer, &lsp).await.expect("connect");
    assert_eq!(payer.client().list_protocols(lsp.node_id()).await, Ok(vec![]));
    let channel_id = network.open_channel(&payer, &lsp, 500_000, 0).await.expect("channel confirmed on bcoin");
    println!("channel {channel_id} usable at {:?}", started.elapsed());

    let amount_msat = 42_000_000;
    let invoice = lsp.invoice(amount_msat).expect("invoice");
    payer.pay(&invoice).await.expect("payment");
    lsp.wait_for_event(
        "PaymentClaimed",
        DEFAULT_TIMEOUT,
        |event| matches!(event, Event::PaymentClaimed { amount_msat: got, .. } if *got == amount_msat),
    )
    .await
    .expect("LSP claimed");

    network.shutdown().await.expect("shutdown");
    println!("payer_pays_lsp_over_a_channel_confirmed_on_bcoin took {:?}", started.elapsed());
}
