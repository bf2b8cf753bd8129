//! The SDK without `inbound-node`: [`Lsps2Client`] over an in-memory [`WalletNode`] and a
//! scripted LSP behind [`LspsOutbound`], from `lsps2.get_info` to the claim. Runs with and
//! without the `node` feature.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;
use lightning::events::{Event, PaymentPurpose};
use lightning::types::payment::{PaymentHash, PaymentPreimage, PaymentSecret};
use lightning_invoice::{Bolt11Invoice, RawBolt11Invoice};
use lsps::schema::Scid;
use serde_json::{json, Value};

use lsps::lsps2::OpeningFeeParams;

use super::tests::{entry, key};
use super::*;
use crate::{ClientConfig, ClientError, LspsClient, LspsOutbound, LspsSendError, WalletNode, WalletNodeError};

/// A wallet node in memory: a key, the payments it registered, and what it claimed or failed.
struct FakeWallet {
    secret: SecretKey,
    preimages: Mutex<HashMap<PaymentHash, PaymentPreimage>>,
    claimed: Mutex<Vec<PaymentPreimage>>,
    failed: Mutex<Vec<PaymentHash>>,
}

impl FakeWallet {
    fn new() -> Arc<FakeWallet> {
        Arc::new(FakeWallet {
            secret: key(1).0,
            preimages: Mutex::new(HashMap::new()),
            claimed: Mutex::new(Vec::new()),
            failed: Mutex::new(Vec::new()),
        })
    }
}

impl WalletNode for FakeWallet {
    fn node_id(&self) -> PublicKey {
        PublicKey::from_secret_key(&Secp256k1::new(), &self.secret)
    }

    fn network(&self) -> Network {
        Network::Regtest
    }

    fn create_inbound_payment(
        &self,
        amount_msat: Option<u64>,
        _expiry_secs: u32,
        _min_final_cltv_expiry_delta: u16,
    ) -> Result<(PaymentHash, PaymentSecret), WalletNodeError> {
        if amount_msat.is_some_and(|amount| amount > 21_000_000 * 100_000_000 * 1000) {
            return Err(WalletNodeError("amount above 21M BTC".into()));
        }
        let mut preimages = self.preimages.lock().expect("lock");
        let preimage = PaymentPreimage([u8::try_from(preimages.len() + 1).expect("few payments"); 32]);
        let hash = PaymentHash(sha256::Hash::hash(&preimage.0).to_byte_array());
        preimages.insert(hash, preimage);
        Ok((hash, PaymentSecret([0x5e; 32])))
    }

    fn sign_invoice(&self, invoice: &RawBolt11Invoice) -> Result<RecoverableSignature, WalletNodeError> {
        let message = Message::from_digest(invoice.signable_hash());
        Ok(Secp256k1::new().sign_ecdsa_recoverable(&message, &self.secret))
    }

    fn claim_funds(&self, preimage: PaymentPreimage) {
        self.claimed.lock().expect("lock").push(preimage);
    }

    fn fail_htlc_backwards(&self, payment_hash: &PaymentHash) {
        self.failed.lock().expect("lock").push(*payment_hash);
    }
}

/// An LSP that answers `lsps2.get_info` with `menu` and `lsps2.buy` with a fixed SCID, at once,
/// and keeps every request it got.
struct ScriptedLsp {
    lsp: PublicKey,
    menu: Vec<OpeningFeeParams>,
    client: Mutex<Weak<LspsClient>>,
    requests: Mutex<Vec<Value>>,
}

const SCID: &str = "894512x3192x1";

impl LspsOutbound for ScriptedLsp {
    fn send(&self, peer: PublicKey, payload: Vec<u8>) -> Result<(), LspsSendError> {
        if peer != self.lsp {
            return Err(LspsSendError::PeerNotConnected);
        }
        let request: Value = serde_json::from_slice(&payload).expect("the client sends JSON");
        let result = match request["method"].as_str() {
            Some("lsps2.get_info") => json!({ "opening_fee_params_menu": self.menu }),
            Some("lsps2.buy") => {
                json!({ "jit_channel_scid": SCID, "lsp_cltv_expiry_delta": 144, "client_trusts_lsp": false })
            }
            other => panic!("unexpected method {other:?}"),
        };
        let answer = json!({ "jsonrpc": "2.0", "id": request["id"], "result": result });
        self.requests.lock().expect("lock").push(request);
        let client = self.client.lock().expect("lock").upgrade().ok_or(LspsSendError::PeerNotConnected)?;
        client.on_message(self.lsp, &serde_json::to_vec(&answer).expect("json"));
        Ok(())
    }
}

fn claimable(payment_hash: PaymentHash, preimage: PaymentPreimage, amount_msat: u64, skimmed_msat: u64) -> Event {
    Event::PaymentClaimable {
        receiver_node_id: None,
        payment_hash,
        onion_fields: None,
        amount_msat,
        counterparty_skimmed_fee_msat: skimmed_msat,
        purpose: PaymentPurpose::Bolt11InvoicePayment {
            payment_preimage: Some(preimage),
            payment_secret: PaymentSecret([0x5e; 32]),
        },
        receiving_channel_ids: Vec::new(),
        claim_deadline: None,
        payment_id: None,
    }
}

fn claimed(payment_hash: PaymentHash, preimage: PaymentPreimage, amount_msat: u64) -> Event {
    Event::PaymentClaimed {
        receiver_node_id: None,
        payment_hash,
        amount_msat,
        purpose: PaymentPurpose::Bolt11InvoicePayment {
            payment_preimage: Some(preimage),
            payment_secret: PaymentSecret([0x5e; 32]),
        },
        htlcs: Vec::new(),
        sender_intended_total_msat: None,
        onion_fields: None,
        payment_id: None,
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_jit_purchase_from_menu_to_claim_on_a_wallet_without_inbound_node() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let dir = TempDir(std::env::temp_dir().join(format!("inbound-client-sdk-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let (lsp, stranger) = (key(2).1, key(3).1);
    let valid_until_secs = super::client::now().unix_secs() + 1200;
    // 10_000_000 msat: the first entry asks 10_000 msat, the second 50_000.
    let menu = vec![entry(2_000, 1_000, valid_until_secs), entry(2_000, 5_000, valid_until_secs)];
    let scripted = Arc::new(ScriptedLsp {
        lsp,
        menu: menu.clone(),
        client: Mutex::new(Weak::new()),
        requests: Mutex::new(Vec::new()),
    });
    let lsps = LspsClient::new(ClientConfig::default());
    *scripted.client.lock().expect("lock") = Arc::downgrade(&lsps);
    lsps.attach(Arc::clone(&scripted) as Arc<dyn LspsOutbound>);
    let wallet = FakeWallet::new();
    let file = PurchaseFile::in_dir(&dir.0);
    let client =
        Lsps2Client::open(lsps, Arc::clone(&wallet) as Arc<dyn WalletNode>, Lsps2ClientConfig::default(), file.clone())
            .expect("no purchase file yet");

    let request = JitInvoiceRequest {
        lsp,
        amount_msat: Some(10_000_000),
        max_fee_msat: 20_000,
        description: "coffee".into(),
        expiry_secs: 600,
        token: None,
    };
    let bought = client.jit_invoice(request.clone()).await.expect("bought");

    // The LSP was asked for its menu, then sold the cheapest entry, verbatim.
    let requests = scripted.requests.lock().expect("lock").clone();
    let methods: Vec<&str> = requests.iter().filter_map(|r| r["method"].as_str()).collect();
    assert_eq!(methods, ["lsps2.get_info", "lsps2.buy"]);
    assert_eq!(requests[1]["params"]["opening_fee_params"], serde_json::to_value(&menu[0]).expect("json"));
    assert_eq!(requests[1]["params"]["payment_size_msat"], "10000000");
    assert_eq!((bought.opening_fee_params.clone(), bought.opening_fee_msat), (menu[0].clone(), Some(10_000)));

    // The invoice is the wallet's, signed by its key, and routes through the LSP's SCID.
    let invoice = Bolt11Invoice::from_str(&bought.invoice.to_string()).expect("parses");
    invoice.check_signature().expect("valid signature");
    assert_eq!(invoice.recover_payee_pub_key(), wallet.node_id());
    assert_eq!(invoice.amount_milli_satoshis(), Some(10_000_000));
    let hop = &invoice.route_hints()[0].0[0];
    assert_eq!((hop.src_node_id, hop.short_channel_id), (lsp, Scid::from_str(SCID).expect("scid").0));
    let payment_hash = PaymentHash(*invoice.payment_hash().as_ref());
    let preimage = *wallet.preimages.lock().expect("lock").get(&payment_hash).expect("registered by the wallet");

    // The purchase is durable and opens the door to the LSP's channel only.
    assert_eq!(file.load().expect("saved").len(), 1);
    assert!(client.is_jit_channel(&lsp, false));
    assert!(!client.is_jit_channel(&lsp, true), "announced");
    assert!(!client.is_jit_channel(&stranger, false));

    // A skim above the agreed fee is failed back; the purchase stays open for a retry.
    let greedy = claimable(payment_hash, preimage, 9_980_000, 20_000);
    assert_eq!(client.handle_event(&greedy), EventOutcome::Consumed);
    assert_eq!(*wallet.failed.lock().expect("lock"), [payment_hash]);
    assert!(wallet.claimed.lock().expect("lock").is_empty());
    assert!(client.is_jit_channel(&lsp, false));

    // The agreed fee is claimed, and the purchase no longer admits a channel.
    let fair = claimable(payment_hash, preimage, 9_990_000, 10_000);
    assert_eq!(client.handle_event(&fair), EventOutcome::Consumed);
    assert_eq!(*wallet.claimed.lock().expect("lock"), [preimage]);
    assert!(!client.is_jit_channel(&lsp, false), "settled");
    assert_eq!(client.handle_event(&claimed(payment_hash, preimage, 9_990_000)), EventOutcome::PassOn);
    assert!(client.purchases().is_empty());
    assert!(file.load().expect("saved").is_empty(), "forgotten on disk too");

    // A payment that is no purchase but carries a skim is failed back too.
    let other = PaymentHash([9; 32]);
    assert_eq!(client.handle_event(&claimable(other, PaymentPreimage([9; 32]), 1_000, 1)), EventOutcome::Consumed);
    assert_eq!(wallet.failed.lock().expect("lock").last(), Some(&other));

    // A fee cap below every offer buys nothing and asks the wallet for no payment.
    let registered = wallet.preimages.lock().expect("lock").len();
    let too_cheap = JitInvoiceRequest { max_fee_msat: 9_999, ..request };
    assert_eq!(
        client.jit_invoice(too_cheap).await,
        Err(ClientError::FeeAboveCap { lowest_fee_msat: 10_000, max_fee_msat: 9_999 })
    );
    assert_eq!(wallet.preimages.lock().expect("lock").len(), registered);
}
