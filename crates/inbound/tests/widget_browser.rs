//! The web widget in a real browser (headless Chromium through chromedriver, Debian's
//! `chromium` and `chromium-driver`) against `inbound serve` on a bcoin regtest chain: a person
//! opens the page, moves the size slider, types the wallet's node id and creates an order; the
//! invoice QR code on the page is decoded from a screenshot and paid by a payer node; the page
//! follows the order to "completed" by itself and shows the funding output, which the wallet's
//! node has as a channel, and its confirmations. An order paid on chain (the BIP21 QR code
//! decoded and paid from the payer's wallet) opens its channel once the deposit confirms. An
//! order for a node that refuses every channel is shown failed and refunded. Hostile input (markup in the node field and in the order URL) is shown as text
//! only. No page logs a script error or a CSP violation. Screenshots of each step are saved in
//! `<target>/tmp/widget/`.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::lsp::{regtest_config, Serve};
use fantoccini::{Client, ClientBuilder, Locator};
use inbound::check_pay::PayRig;
use inbound::wallet::WalletOptions;
use inbound_node::bitcoin::Network;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_node::BitcoindRpcConfig;
use inbound_regtest::Bcoin;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver package; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, port }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        let args =
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,2000"];
        capabilities.insert("goog:chromeOptions".into(), json!({ "args": args }));
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Evaluates `script` (a function body) in the page.
async fn eval(browser: &Client, script: &str, args: Vec<Value>) -> Value {
    browser.execute(script, args).await.unwrap_or_else(|error| panic!("{script}: {error}"))
}

/// Waits until `script` returns a truthy value, and returns it.
async fn until(browser: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = eval(browser, script, vec![]).await;
        if !(value.is_null() || value == json!(false) || value == json!("")) {
            return value;
        }
        if Instant::now() > deadline {
            let page = eval(browser, "return document.body.innerText", vec![]).await;
            panic!("timed out waiting for {what}; the page says: {page}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// No script error and no CSP violation so far on this page.
async fn no_problems(browser: &Client) {
    let problems = eval(browser, "return document.documentElement.dataset.problems || ''", vec![]).await;
    assert_eq!(problems, json!(""), "the page reported problems");
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("widget");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

async fn shot(browser: &Client, name: &str) -> Vec<u8> {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(format!("{name}.png")), &png).expect("saving a screenshot");
    png
}

/// The text of the one QR code in a PNG.
fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    grids[0].decode().expect("a readable QR code").1
}

/// What the buy page ordered: the channel's size (the sliders snap to their steps) and the
/// fee it showed.
struct Ordered {
    capacity_sat: u64,
    client_sat: u64,
    fee_sat: u64,
}

/// Creates an order for `node` on the buy page with a channel of about 200,000 sat (and a
/// refund address, which offers the on-chain option).
async fn create_order(browser: &Client, base: &str, node: &str, refund: Option<&str>, name: &str) -> Ordered {
    browser.goto(&format!("{base}/")).await.expect("the widget");
    until(browser, "the buy form", "return !document.getElementById('buy').hidden").await;
    eval(
        browser,
        "const e = document.getElementById('lsp-balance'); e.value = arguments[0]; e.dispatchEvent(new Event('input'));",
        vec![json!(200_000)],
    )
    .await;
    let fee = until(browser, "a price", "return document.getElementById('price').dataset.fee").await;
    let fee_sat = fee.as_str().and_then(|fee| fee.parse().ok()).expect("the fee shown");
    let slider = |id: &'static str| async move {
        let value = eval(browser, "return Number(document.getElementById(arguments[0]).value)", vec![json!(id)]).await;
        value.as_u64().expect("a slider's value")
    };
    let client_sat = slider("client-balance").await;
    let capacity_sat = slider("lsp-balance").await + client_sat;
    browser.find(Locator::Id("node")).await.expect("the node field").send_keys(node).await.expect("typing");
    if let Some(refund) = refund {
        browser.find(Locator::Id("refund")).await.expect("the refund field").send_keys(refund).await.expect("typing");
    }
    shot(browser, &format!("{name}-1-form")).await;
    browser.find(Locator::Id("buy-button")).await.expect("the button").click().await.expect("clicking");
    until(browser, "the order page", "return location.pathname.includes('/order/') && location.href").await;
    no_problems(browser).await;
    Ordered { capacity_sat, client_sat, fee_sat }
}

/// The address and the amount (whole satoshis, read exactly from the BTC decimal) of a BIP21 URI.
fn parse_bip21(uri: &str) -> (inbound_node::bitcoin::Address, u64) {
    let rest = uri.strip_prefix("bitcoin:").unwrap_or_else(|| panic!("a bitcoin: URI: {uri}"));
    let (address, query) = rest.split_once("?amount=").unwrap_or_else(|| panic!("an amount: {uri}"));
    let (whole, fraction) = query.split_once('.').unwrap_or((query, ""));
    assert!(fraction.len() <= 8, "{uri}");
    let sats =
        whole.parse::<u64>().expect("BTC") * 100_000_000 + format!("{fraction:0<8}").parse::<u64>().expect("sat");
    let address = address.parse::<inbound_node::bitcoin::Address<_>>().expect("an address");
    (address.require_network(Network::Regtest).expect("a regtest address"), sats)
}

/// Decodes the invoice QR code shown on the order page and pays it from the payer.
async fn pay_shown_invoice(browser: &Client, rig: &PayRig, name: &str) -> String {
    until(
        browser,
        "the invoice QR code",
        "const qr = document.getElementById('invoice-qr'); \
         return !document.getElementById('pay-lightning').hidden && qr.complete && qr.naturalWidth > 0",
    )
    .await;
    shot(browser, &format!("{name}-2-invoice")).await;
    let qr = browser.find(Locator::Id("invoice-qr")).await.expect("the QR image");
    let scanned = decode_qr(&qr.screenshot().await.expect("the QR code's pixels"));
    let invoice = scanned.strip_prefix("LIGHTNING:").expect("a lightning: URI").to_lowercase();
    let shown = eval(browser, "return document.getElementById('invoice').textContent", vec![]).await;
    assert_eq!(shown, json!(invoice), "the QR code holds the invoice the page shows");
    let parsed: Bolt11Invoice = invoice.parse().expect("a BOLT11 invoice");
    rig.payer().node.pay_invoice(&parsed).expect("paying the invoice");
    invoice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_buys_a_channel_in_a_browser() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = free_port();
    // Short LSPS1 windows, so that the order for a node that refuses channels fails in the test.
    let extra = format!(
        "[lsps]\nenabled = [\"lsps1\"]\n[http]\nenabled = true\nlisten = \"127.0.0.1:{http_port}\"\n[web]\nenabled = true\n\
         [lsps1]\npayment_window_secs = 60\nmin_open_window_secs = 5\nopen_retry_base_secs = 1\nopen_retry_max_secs = 2\n"
    );
    let config = regtest_config(dir.path(), bcoin.rpc_url(), &extra);
    let lsp = Serve::start(dir.path(), &config);
    lsp.fund(&bcoin).await;
    let base_options = WalletOptions {
        data_dir: dir.path().join("rig"),
        network: Network::Regtest,
        alias: "widget-test".into(),
        chain: BitcoindRpcConfig::new(bcoin.rpc_url()),
    };
    let rig = PayRig::start(lsp.node_id, lsp.listen, &dir.path().join("rig"), &base_options, WAIT)
        .await
        .expect("a payer with a channel to the LSP, a wallet and a refuser");

    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = format!("http://127.0.0.1:{http_port}");

    // The page itself: served with a CSP without 'unsafe-inline', nothing from elsewhere.
    let page = reqwest::get(format!("{base}/")).await.expect("GET /");
    let csp = page.headers()["content-security-policy"].to_str().expect("ASCII").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(!page.text().await.expect("body").contains("://"), "no external asset");

    // A paid order, followed to completion by the page.
    let wallet = rig.wallet().node.node_id().to_string();
    let ordered = create_order(&browser, &base, &wallet, None, "paid").await;
    let invoice = pay_shown_invoice(&browser, &rig, "paid").await;
    let total_sat =
        invoice.parse::<Bolt11Invoice>().ok().and_then(|i| i.amount_milli_satoshis()).expect("an amount") / 1000;
    // The price the buy page showed is what the invoice charges.
    assert_eq!(total_sat, ordered.fee_sat + ordered.client_sat, "the invoice asks what the page quoted");
    until(
        &browser,
        "the order to complete",
        "return document.getElementById('order-state').dataset.state === 'completed'",
    )
    .await;
    shot(&browser, "paid-3-completed").await;
    let funding = eval(&browser, "return document.getElementById('funding').textContent", vec![]).await;
    let funding = funding.as_str().expect("the funding output").to_owned();
    let channel = rig
        .wallet()
        .node
        .list_channels()
        .into_iter()
        .find(|channel| channel.funding_txo.is_some_and(|txo| format!("{}:{}", txo.txid, txo.index) == funding));
    assert_eq!(
        channel.map(|channel| channel.channel_value_satoshis),
        Some(ordered.capacity_sat),
        "the wallet has the channel {funding}"
    );
    // The page follows the funding transaction's confirmations.
    bcoin.mine(1, None).await.expect("a block");
    until(&browser, "a confirmation", "return Number(document.getElementById('confirmations').dataset.count) >= 1")
        .await;
    shot(&browser, "paid-4-confirmed").await;
    no_problems(&browser).await;

    // Paid on chain: the payment request's QR code decoded and paid from the payer's wallet.
    let refund = rig.payer().node.new_onchain_address().expect("a refund address").to_string();
    create_order(&browser, &base, &wallet, Some(&refund), "onchain").await;
    until(
        &browser,
        "the payment request's QR code",
        "const qr = document.getElementById('onchain-qr'); \
         return !document.getElementById('pay-onchain').hidden && qr.complete && qr.naturalWidth > 0",
    )
    .await;
    shot(&browser, "onchain-2-request").await;
    let qr = browser.find(Locator::Id("onchain-qr")).await.expect("the QR image");
    let bip21 = decode_qr(&qr.screenshot().await.expect("the QR code's pixels"));
    let (address, sats) = parse_bip21(&bip21);
    rig.payer()
        .node
        .send_onchain(&address, inbound_node::SendAmount::Sat(sats), None)
        .expect("paying the order on chain");
    // Blocks confirm the deposit; the LSP opens the channel; the page shows it.
    let deadline = Instant::now() + WAIT;
    loop {
        let state = eval(&browser, "return document.getElementById('order-state').dataset.state", vec![]).await;
        if state == json!("completed") {
            break;
        }
        assert!(Instant::now() < deadline, "the on-chain order did not complete: {state}");
        bcoin.mine(1, None).await.expect("a block");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    bcoin.mine(1, None).await.expect("a block");
    until(&browser, "a confirmation", "return Number(document.getElementById('confirmations').dataset.count) >= 1")
        .await;
    shot(&browser, "onchain-3-completed").await;
    no_problems(&browser).await;

    // Markup typed into the node field stays text; the order is not sent.
    browser.goto(&format!("{base}/")).await.expect("the widget");
    until(&browser, "the buy form", "return !document.getElementById('buy').hidden").await;
    let payload = "<img src=x onerror=\"document.title='pwned'\">";
    browser.find(Locator::Id("node")).await.expect("the node field").send_keys(payload).await.expect("typing");
    browser.find(Locator::Id("buy-button")).await.expect("the button").click().await.expect("clicking");
    until(&browser, "the refusal", "return document.getElementById('form-error').textContent").await;
    let invalid = eval(&browser, "return document.getElementById('node').getAttribute('aria-invalid')", vec![]).await;
    assert_eq!(invalid, json!("true"));
    // Markup in an order link: refused as text, nothing injected.
    let hostile =
        format!("{base}/order/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E?node=%3Cscript%3Ealert(2)%3C/script%3E");
    browser.goto(&hostile).await.expect("a hostile link");
    until(&browser, "the refusal", "return document.getElementById('status').textContent.includes('incomplete')").await;
    let injected = eval(
        &browser,
        "return document.title === 'pwned' || [...document.images].some(i => !i.id) || document.scripts.length !== 1",
        vec![],
    )
    .await;
    assert_eq!(injected, json!(false), "markup from the URL or the form became elements");
    shot(&browser, "hostile").await;
    no_problems(&browser).await;

    // An order for a node that refuses every channel: paid, then failed and refunded.
    let refuser = rig.refuser().node.node_id().to_string();
    create_order(&browser, &base, &refuser, None, "refused").await;
    pay_shown_invoice(&browser, &rig, "refused").await;
    until(&browser, "the payment to be held", "return document.getElementById('order-state').dataset.state === 'paid'")
        .await;
    until(&browser, "the refund", "return document.getElementById('order-state').dataset.state === 'refunded'").await;
    shot(&browser, "refused-3-refunded").await;
    no_problems(&browser).await;

    // A flood of order creations from one IP meets the rate limit; an oversized field is refused.
    let http = reqwest::Client::new();
    let create = |node: String| {
        json!({ "jsonrpc": "2.0", "id": "flood", "method": "lsps1.create_order", "x-inbound-node-id": node,
                "params": { "lsp_balance_sat": "200000", "client_balance_sat": "0", "required_channel_confirmations": 0,
                            "funding_confirms_within_blocks": 6, "channel_expiry_blocks": 144, "announce_channel": false } })
    };
    let mut limited = 0;
    for _ in 0..40 {
        let response = http.post(format!("{base}/lsps")).json(&create(wallet.clone())).send().await.expect("POST");
        limited += usize::from(response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(limited > 0, "40 order creations at once from one IP are rate limited");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut oversized = create(wallet.clone());
    oversized["params"]["refund_onchain_address"] = json!("bcrt1".repeat(20_000));
    let response = http.post(format!("{base}/lsps")).json(&oversized).send().await.expect("POST");
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);

    browser.close().await.expect("closing the browser");
    rig.stop().await;
}
