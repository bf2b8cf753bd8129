//! LSPS5 (bLIP-55 webhooks) between Inbound and LDK's own implementation, lightning-liquidity
//! 0.2.7 (ldk-node 0.7.1 leaves LSPS5 off, so LDK's manager runs on inbound-node nodes, see
//! `inbound_interop::lsps5`), both ways, on a fresh bcoin chain, over real Lightning
//! connections, with the notification POSTed over real HTTPS:
//!
//! 1. LDK's `LSPS5ClientHandler` registers, lists and removes webhooks at Inbound's LSP
//!    (`inbound serve`); the LSP POSTs `lsps5.webhook_registered` to a local HTTPS webhook, and
//!    the POST is checked with LDK's own primitives as a delivery service built on LDK would.
//! 2. Inbound's `Lsps5Client` registers, lists and removes webhooks at LDK's
//!    `LSPS5ServiceHandler`; the `SendWebhookNotification` LDK emits is POSTed as an LSP would
//!    and Inbound's `NotificationVerifier` accepts what arrives.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use inbound_client::lsps5::{Lsps5ClientError, NotificationRejected, NotificationVerifier};
use inbound_client::ClientError;
use inbound_interop::chain::Chain;
use inbound_interop::lsps5::{
    post_notification, wait_liquidity_event, wait_usable_channel, InboundLsps5Wallet, LdkLiquidityNode, Webhook,
};
use inbound_interop::serve::{inbound_binary, InboundLsp, Lsps5Options, ServeOptions};
use inbound_node::lightning::util::message_signing;
use inbound_node::{FundingBroadcast, NodeRole};
use lightning_liquidity::events::LiquidityEvent;
use lightning_liquidity::lsps0::ser::LSPSDateTime;
use lightning_liquidity::lsps5::client::LSPS5ClientConfig;
use lightning_liquidity::lsps5::event::{LSPS5ClientEvent, LSPS5ServiceEvent};
use lightning_liquidity::lsps5::msgs::{
    LSPS5ClientError, LSPS5Error, LSPS5ProtocolError, WebhookNotification, LSPS5_APP_NAME_NOT_FOUND_ERROR_CODE,
};
use lightning_liquidity::lsps5::service::LSPS5ServiceConfig;
use lightning_liquidity::lsps5::validator::LSPS5Validator;
use lightning_liquidity::{LiquidityClientConfig, LiquidityServiceConfig};
use lsps::lsps5::{signing_message, Lsps5Error, Notification, DEFAULT_MAX_SKEW_SECS};
use lsps::schema::DateTime;

const APP: &str = "interop-app";
const WAIT: Duration = Duration::from_secs(30);

fn now() -> Result<DateTime> {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    DateTime::from_unix_millis(u64::try_from(millis)?).ok_or_else(|| anyhow!("now: out of range"))
}

/// The LSPS5 error code of a failed LDK client event.
fn ldk_error_code(error: &LSPS5Error) -> i32 {
    match error {
        LSPS5Error::Protocol(protocol) => protocol.code(),
        LSPS5Error::Client(client) => client.code(),
    }
}

/// LDK as the wallet, Inbound as the LSP.
///
/// Proves, against `inbound serve` with `[lsps5]` (any peer may register; webhooks on loopback
/// with the test's certificate):
/// * LDK's client parses Inbound's `set_webhook` answers: a new registration gives
///   `WebhookRegistered { num_webhooks: 1, max_webhooks: 10, no_change: false }`, the same pair
///   again `no_change: true` (and no second POST); `list_webhooks` gives `WebhooksListed` with the
///   app name; `remove_webhook` gives `WebhookRemoved`, and removing it again gives
///   `WebhookRemovalFailed` with bLIP-55's 1010, which LDK maps to `AppNameNotFound`;
/// * Inbound POSTs `lsps5.webhook_registered` over HTTPS to the registered URL with
///   `content-type: application/json`, and a delivery service built on LDK accepts it: the body
///   is LDK's `WebhookNotification`, LDK serializes it back to the very bytes received, and
///   the zbase32 signature verifies (LDK's `message_signing::verify`) against the LSP's node id
///   over bLIP-55's message with the timestamp header verbatim;
/// * with `lsps.compat = "ldk"`, LDK's packaged `LSPS5Validator::validate` accepts the same
///   POST (see [`ldk_validator_outcome`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_client_registers_webhooks_at_inbound_lsp() {
    ldk_client_inbound_lsp("ldk").await.unwrap();
}

/// The same with `lsps.compat = "spec"`: everything above holds except LDK's packaged
/// validator, which refuses the spec's `…Z` timestamps (see [`ldk_validator_outcome`]); this is
/// why `compat = "ldk"` writes them in chrono's form.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ldk_validator_refuses_spec_timestamps() {
    ldk_client_inbound_lsp("spec").await.unwrap();
}

async fn ldk_client_inbound_lsp(compat: &'static str) -> Result<()> {
    let started = Instant::now();
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let webhook = Webhook::start(dir.path()).await?;
    let options =
        ServeOptions { lsps5: Some(Lsps5Options::local_webhooks(&webhook.ca_file)), compat, ..ServeOptions::default() };
    let mut lsp = InboundLsp::start(&inbound_binary()?, &chain, &dir.path().join("lsp"), &options)?;
    let client_config = LiquidityClientConfig {
        lsps1_client_config: None,
        lsps2_client_config: None,
        lsps5_client_config: Some(LSPS5ClientConfig::default()),
    };
    let ldk = LdkLiquidityNode::start(
        &dir.path().join("ldk-wallet"),
        "ldk-wallet",
        chain.bcoin.rpc_url(),
        NodeRole::Wallet,
        None,
        None,
        Some(client_config),
    )
    .await?;
    ldk.node.connect_peer(lsp.node_id, lsp.listen, false).await.map_err(|e| anyhow!("connect: {e}"))?;
    let client = ldk.liquidity.lsps5_client_handler().ok_or_else(|| anyhow!("no LSPS5 client handler"))?;
    let url = format!("{}/lsps5/ldk-wallet-7f3a9c", webhook.base_url);
    let lsp_id = lsp.node_id;

    // set_webhook: a new registration.
    let set = |ldk: &LdkLiquidityNode| -> Result<()> {
        client.set_webhook(lsp_id, APP.into(), url.clone()).map_err(|e| anyhow!("set_webhook: {e:?}"))?;
        ldk.flush();
        Ok(())
    };
    set(&ldk)?;
    let registered = |event| match event {
        LiquidityEvent::LSPS5Client(LSPS5ClientEvent::WebhookRegistered {
            counterparty_node_id,
            num_webhooks,
            max_webhooks,
            no_change,
            app_name,
            url: registered_url,
            ..
        }) => Some(if counterparty_node_id == lsp_id && app_name.as_str() == APP && registered_url.as_str() == url {
            Ok((num_webhooks, max_webhooks, no_change))
        } else {
            Err(anyhow!("registered {app_name} -> {registered_url} at {counterparty_node_id}"))
        }),
        LiquidityEvent::LSPS5Client(LSPS5ClientEvent::WebhookRegistrationFailed { error, .. }) => {
            Some(Err(anyhow!("set_webhook refused: {error:?}")))
        }
        _ => None,
    };
    let answer = wait_liquidity_event(&ldk.liquidity, "WebhookRegistered", WAIT, registered)
        .await
        .with_context(|| format!("LSP log:\n{}", lsp.drain_log().join("\n")))?;
    ensure!(answer == (1, 10, false), "(num_webhooks, max_webhooks, no_change) = {answer:?}");
    println!("registered after {:?}", started.elapsed());

    // The LSP's POST.
    let received =
        webhook.wait_for(1, WAIT).await.with_context(|| format!("LSP log:\n{}", lsp.drain_log().join("\n")))?.remove(0);
    ensure!(received.request_line == "POST /lsps5/ldk-wallet-7f3a9c HTTP/1.1", "{}", received.request_line);
    ensure!(received.header("content-type") == Some("application/json"), "{:?}", received.headers);
    let timestamp = received.header("x-lsps5-timestamp").ok_or_else(|| anyhow!("no x-lsps5-timestamp"))?;
    let signature = received.header("x-lsps5-signature").ok_or_else(|| anyhow!("no x-lsps5-signature"))?;
    let notification: WebhookNotification =
        serde_json::from_slice(&received.body).context("LDK cannot parse the body as a WebhookNotification")?;
    ensure!(notification == WebhookNotification::webhook_registered(), "{notification:?}");
    ensure!(
        serde_json::to_vec(&notification)? == received.body,
        "LDK serializes the notification differently from the body: {}",
        String::from_utf8_lossy(&received.body)
    );
    let message = signing_message(timestamp, &received.body);
    let message = std::str::from_utf8(&message)?;
    ensure!(
        message_signing::verify(message.as_bytes(), signature, &lsp_id),
        "LDK's message_signing does not verify the signature over {message:?}"
    );
    ldk_validator_outcome(lsp_id, timestamp, signature, &notification, compat == "ldk")?;

    // The same pair again: no_change, and no second POST.
    set(&ldk)?;
    let again = wait_liquidity_event(&ldk.liquidity, "WebhookRegistered (again)", WAIT, registered).await?;
    ensure!(again == (1, 10, true), "(num_webhooks, max_webhooks, no_change) = {again:?}");

    // list_webhooks.
    let listed = |event| match event {
        LiquidityEvent::LSPS5Client(LSPS5ClientEvent::WebhooksListed { app_names, max_webhooks, .. }) => {
            Some(Ok((app_names.iter().map(|name| name.to_string()).collect::<Vec<_>>(), max_webhooks)))
        }
        _ => None,
    };
    client.list_webhooks(lsp_id);
    ldk.flush();
    let list = wait_liquidity_event(&ldk.liquidity, "WebhooksListed", WAIT, listed).await?;
    ensure!(list == (vec![APP.to_owned()], 10), "{list:?}");

    // remove_webhook, then the same name again: 1010.
    let removed = |event| match event {
        LiquidityEvent::LSPS5Client(LSPS5ClientEvent::WebhookRemoved { app_name, .. }) => {
            Some(Ok(Ok(app_name.to_string())))
        }
        LiquidityEvent::LSPS5Client(LSPS5ClientEvent::WebhookRemovalFailed { error, app_name, .. }) => {
            Some(Ok(Err((error, app_name.to_string()))))
        }
        _ => None,
    };
    client.remove_webhook(lsp_id, APP.into()).map_err(|e| anyhow!("remove_webhook: {e:?}"))?;
    ldk.flush();
    let outcome = wait_liquidity_event(&ldk.liquidity, "WebhookRemoved", WAIT, removed).await?;
    ensure!(outcome == Ok(APP.to_owned()), "{outcome:?}");
    client.remove_webhook(lsp_id, APP.into()).map_err(|e| anyhow!("remove_webhook: {e:?}"))?;
    ldk.flush();
    let outcome = wait_liquidity_event(&ldk.liquidity, "WebhookRemovalFailed", WAIT, removed).await?;
    let (error, name) = outcome.err().ok_or_else(|| anyhow!("removing an unknown app name succeeded"))?;
    ensure!(name == APP, "{name}");
    ensure!(ldk_error_code(&error) == LSPS5_APP_NAME_NOT_FOUND_ERROR_CODE, "{error:?}");
    ensure!(error == LSPS5Error::Protocol(LSPS5ProtocolError::AppNameNotFound), "{error:?}");
    client.list_webhooks(lsp_id);
    ldk.flush();
    let list = wait_liquidity_event(&ldk.liquidity, "WebhooksListed (empty)", WAIT, listed).await?;
    ensure!(list == (Vec::<String>::new(), 10), "{list:?}");

    // Nothing else was POSTed: one webhook_registered for one new registration.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(webhook.received().len() == 1, "POSTs: {:?}", webhook.received());
    println!("LDK client against Inbound LSP done in {:?}", started.elapsed());
    ldk.stop().await?;
    Ok(())
}

/// LDK's packaged validator on Inbound's POST: `LSPS5Validator::validate` with the timestamp
/// header parsed as LDK parses it, the signature header, and the body parsed as LDK's
/// `WebhookNotification`.
///
/// The validator does not verify over the header it was given: it re-formats the parsed
/// timestamp with chrono's `to_rfc3339()` (`…+00:00`, lightning-liquidity 0.2.7
/// src/lsps5/validator.rs:75-80) and the re-serialized body. bLIP-55 signs the timestamp as
/// sent. With `compat = "ldk"` Inbound writes the timestamp in chrono's form, so the validator
/// must accept (`ldk_form`); with the spec's LSPS0.datetime (`…Z`) the re-formatted string
/// differs and the validator must answer `InvalidSignature` although the signature is valid
/// (checked above with LDK's own `message_signing::verify` over the verbatim header).
fn ldk_validator_outcome(
    lsp: inbound_node::bitcoin::secp256k1::PublicKey,
    timestamp: &str,
    signature: &str,
    notification: &WebhookNotification,
    ldk_form: bool,
) -> Result<()> {
    let parsed = LSPSDateTime::from_str(timestamp).map_err(|()| anyhow!("LDK cannot parse {timestamp:?}"))?;
    let outcome = LSPS5Validator::new().validate(lsp, &parsed, signature, notification);
    if ldk_form {
        ensure!(timestamp.ends_with("+00:00"), "compat = \"ldk\" sent {timestamp:?}");
        ensure!(outcome.as_ref() == Ok(notification), "LDK's validator on {timestamp:?}: {outcome:?}");
    } else {
        ensure!(timestamp.ends_with('Z'), "compat = \"spec\" sent {timestamp:?}");
        ensure!(
            outcome == Err(LSPS5ClientError::InvalidSignature),
            "LDK's validator on {timestamp:?} (re-formatted {:?}): {outcome:?}",
            parsed.to_rfc3339()
        );
    }
    Ok(())
}

/// Inbound as the wallet, LDK as the LSP.
///
/// Proves, against lightning-liquidity's `LSPS5ServiceHandler` (default config, 10 webhooks):
/// * LDK's own admission rule: before the two nodes share a channel LDK refuses `set_webhook`
///   with its non-bLIP code 1003 ("no prior activity"), which Inbound's client passes through as
///   a JSON-RPC rejection with that code (not an LSPS5 error, not a malformed message); once
///   the LDK node has opened a channel to the wallet and it is usable, the same call succeeds;
/// * Inbound's client parses LDK's answers: `{num_webhooks: 1, max_webhooks: 10,
///   no_change: false}`, then `no_change: true` for the same pair; `list_webhooks` names the
///   app; removing an unknown name is `Lsps5Error::AppNameNotFound` (1010); removing the app
///   works and the list is empty after;
/// * LDK's `SendWebhookNotification` for the registration names the wallet, the app and the
///   URL; POSTed over HTTPS as LDK says (its headers, the notification serialized as the body),
///   what the webhook receives passes Inbound's `NotificationVerifier::verify_at` as
///   `Notification::WebhookRegistered` signed by the LDK node's key, although LDK's timestamp
///   is `…+00:00` rather than an LSPS0 `…Z` (the verifier signs over the header verbatim); the
///   same POST a second time is refused as a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_client_registers_webhooks_at_ldk_lsp() {
    inbound_client_ldk_lsp().await.unwrap();
}

async fn inbound_client_ldk_lsp() -> Result<()> {
    let started = Instant::now();
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let webhook = Webhook::start(dir.path()).await?;
    let service = LiquidityServiceConfig {
        lsps2_service_config: None,
        lsps5_service_config: Some(LSPS5ServiceConfig::default()),
        advertise_service: true,
    };
    let lsp = LdkLiquidityNode::start(
        &dir.path().join("ldk-lsp"),
        "ldk-lsp",
        chain.bcoin.rpc_url(),
        NodeRole::Lsp,
        Some("127.0.0.1:0".parse()?),
        Some(service),
        None,
    )
    .await?;
    let lsp_id = lsp.node.node_id();
    let lsp_listen = lsp.node.listening_address().ok_or_else(|| anyhow!("the LDK LSP does not listen"))?;
    let wallet = InboundLsps5Wallet::start(&dir.path().join("wallet"), "inbound-wallet", chain.bcoin.rpc_url()).await?;
    let wallet_id = wallet.node.node_id();
    wallet.node.connect_peer(lsp_id, lsp_listen, true).await.map_err(|e| anyhow!("connect: {e}"))?;
    let url = format!("{}/lsps5/inbound-wallet-51c0de", webhook.base_url);

    // No channel yet: LDK's rule refuses the registration with 1003.
    match wallet.lsps5.set_webhook(lsp_id, APP, &url).await {
        Err(Lsps5ClientError::Call(ClientError::LspRejected(error))) if error.code == 1003 => {}
        other => return Err(anyhow!("set_webhook without a channel: {other:?}")),
    }
    ensure!(lsp.liquidity.next_event().is_none(), "LDK emitted an event for a refused registration");

    // A channel from the LDK node to the wallet, confirmed and usable on both sides.
    let funding = lsp.node.new_onchain_address().map_err(|e| anyhow!("address: {e}"))?;
    chain.fund(&funding, 1).await?;
    let deadline = Instant::now() + WAIT;
    while lsp.node.onchain_balance().confirmed_sat < 1_000_000 {
        ensure!(Instant::now() < deadline, "LDK LSP balance {:?}", lsp.node.onchain_balance());
        let _ = lsp.node.sync_chain().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lsp.node
        .open_channel(wallet_id, 500_000, 0, 1, FundingBroadcast::Automatic, None)
        .map_err(|e| anyhow!("open_channel: {e}"))?;
    chain.wait_mempool(1, WAIT).await?;
    chain.mine(6).await?;
    wait_usable_channel(&lsp.node, wallet_id, Duration::from_secs(60)).await?;
    wait_usable_channel(&wallet.node, lsp_id, Duration::from_secs(60)).await?;
    println!("channel usable after {:?}", started.elapsed());

    // Registration.
    let answer = wallet.lsps5.set_webhook(lsp_id, APP, &url).await.map_err(|e| anyhow!("set_webhook: {e}"))?;
    ensure!((answer.num_webhooks, answer.max_webhooks, answer.no_change) == (1, 10, false), "{answer:?}");
    let (headers, notification) =
        wait_liquidity_event(&lsp.liquidity, "SendWebhookNotification", WAIT, |event| match event {
            LiquidityEvent::LSPS5Service(LSPS5ServiceEvent::SendWebhookNotification {
                counterparty_node_id,
                app_name,
                url: target,
                notification,
                headers,
            }) => Some(if counterparty_node_id == wallet_id && app_name.as_str() == APP && target.as_str() == url {
                Ok((headers, notification))
            } else {
                Err(anyhow!("notification for {app_name} -> {target} of {counterparty_node_id}"))
            }),
            _ => None,
        })
        .await?;
    ensure!(notification == WebhookNotification::webhook_registered(), "{notification:?}");

    // Deliver it as LDK says: POST the serialized notification with the event's headers.
    let status = post_notification(&url, &headers, serde_json::to_vec(&notification)?, &webhook.ca_file).await?;
    ensure!(status == 200, "webhook answered {status}");
    let received = webhook.wait_for(1, WAIT).await?.remove(0);
    let timestamp = received.header("x-lsps5-timestamp").ok_or_else(|| anyhow!("no timestamp header"))?;
    ensure!(timestamp.ends_with("+00:00"), "LDK's timestamp form changed: {timestamp}");
    let verifier = NotificationVerifier::new(lsp_id);
    let verified = verifier
        .verify_at(received.headers.clone(), &received.body, now()?)
        .map_err(|e| anyhow!("Inbound's verifier refuses LDK's notification ({timestamp}): {e}"))?;
    ensure!(verified.notification == Notification::WebhookRegistered, "{verified:?}");
    let skew = verified.sent_at.unix_millis().abs_diff(now()?.unix_millis());
    ensure!(skew < DEFAULT_MAX_SKEW_SECS * 1000, "sent_at {:?} is {skew} ms off", verified.sent_at);
    ensure!(
        verifier.verify_at(received.headers.clone(), &received.body, now()?) == Err(NotificationRejected::Replayed),
        "the same POST twice"
    );

    // The same pair again, list, remove.
    let again = wallet.lsps5.set_webhook(lsp_id, APP, &url).await.map_err(|e| anyhow!("set_webhook: {e}"))?;
    ensure!((again.num_webhooks, again.max_webhooks, again.no_change) == (1, 10, true), "{again:?}");
    let list = wallet.lsps5.list_webhooks(lsp_id).await.map_err(|e| anyhow!("list_webhooks: {e}"))?;
    ensure!(list.app_names == vec![APP.to_owned()] && list.max_webhooks == 10, "{list:?}");
    match wallet.lsps5.remove_webhook(lsp_id, "no-such-app").await {
        Err(Lsps5ClientError::Rejected(Lsps5Error::AppNameNotFound)) => {}
        other => return Err(anyhow!("removing an unknown app name: {other:?}")),
    }
    wallet.lsps5.remove_webhook(lsp_id, APP).await.map_err(|e| anyhow!("remove_webhook: {e}"))?;
    let list = wallet.lsps5.list_webhooks(lsp_id).await.map_err(|e| anyhow!("list_webhooks: {e}"))?;
    ensure!(list.app_names.is_empty(), "{list:?}");
    ensure!(lsp.liquidity.next_event().is_none(), "LDK notified for a no-change registration or a removal");
    println!("Inbound client against LDK LSP done in {:?}", started.elapsed());
    wallet.node.stop().await.map_err(|e| anyhow!("stopping the wallet: {e}"))?;
    lsp.stop().await?;
    Ok(())
}
