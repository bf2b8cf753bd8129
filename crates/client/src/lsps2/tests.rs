//! Unit tests of the LSPS2 client: invoice fields (ours and the spec vectors), offer selection
//! under the fee cap, skim checks and channel-acceptor decisions.

use std::str::FromStr;
use std::time::Duration;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey};
use lightning::types::payment::{PaymentHash, PaymentSecret};
use lightning_invoice::{Bolt11Invoice, Currency};
use lsps::lsps2::{EntrySkipped, OpeningFeeParams};
use lsps::schema::{DateTime, MsatAmount, Ppm, Scid};
use serde_json::Value;

use super::invoice::{build_raw_jit_invoice, fit_expiry_secs, sign_jit_invoice, JitInvoiceFields};
use super::*;
use crate::error::ClientError;

pub(crate) const NOW_SECS: u64 = 1_748_779_500;

pub(crate) fn key(byte: u8) -> (SecretKey, PublicKey) {
    let secret = SecretKey::from_slice(&[byte; 32]).expect("valid key");
    (secret, PublicKey::from_secret_key(&Secp256k1::new(), &secret))
}

pub(crate) fn at(secs: u64) -> DateTime {
    DateTime::from_unix_secs(secs).expect("in range")
}

pub(crate) fn entry(min_fee_msat: u64, proportional: u32, valid_until_secs: u64) -> OpeningFeeParams {
    OpeningFeeParams {
        min_fee_msat: MsatAmount(min_fee_msat),
        proportional: Ppm(proportional),
        valid_until: at(valid_until_secs),
        min_lifetime: 1008,
        max_client_to_self_delay: 2016,
        min_payment_size_msat: MsatAmount(1_000),
        max_payment_size_msat: MsatAmount(1_000_000_000),
        promise: "test-promise".parse().expect("valid promise"),
    }
}

fn fields(amount_msat: Option<u64>, valid_until: DateTime) -> (JitInvoiceFields, SecretKey) {
    let (client_secret, client) = key(1);
    let (_, lsp) = key(2);
    let timestamp = Duration::from_secs(NOW_SECS);
    let fields = JitInvoiceFields {
        currency: Currency::Regtest,
        payee: client,
        description: "jit".into(),
        payment_hash: PaymentHash([7; 32]),
        payment_secret: PaymentSecret([9; 32]),
        amount_msat,
        timestamp,
        expiry_secs: fit_expiry_secs(3600, timestamp, valid_until).expect("room"),
        min_final_cltv_expiry_delta: 146,
        lsp,
        intercept_scid: Scid::from_str("894512x3192x1").expect("scid").0,
        lsp_cltv_expiry_delta: 144,
    };
    (fields, client_secret)
}

/// Builds, signs, serializes and re-parses an invoice, as a payer would see it.
fn round_trip(fields: &JitInvoiceFields, secret: &SecretKey) -> Bolt11Invoice {
    let raw = build_raw_jit_invoice(fields).expect("builds");
    let secp = Secp256k1::new();
    let invoice =
        sign_jit_invoice(
            raw,
            |raw| Ok(secp.sign_ecdsa_recoverable(&Message::from_digest(raw.signable_hash()), secret)),
        )
        .expect("signs");
    Bolt11Invoice::from_str(&invoice.to_string()).expect("parses")
}

/// The checks of bLIP-52 §"Invoice" common to both modes.
fn assert_jit_invoice(invoice: &Bolt11Invoice, lsp: PublicKey, scid: u64, cltv: u16, c: u64, valid_until: DateTime) {
    let hints = invoice.route_hints();
    assert_eq!(hints.len(), 1, "exactly one route hint");
    assert_eq!(hints[0].0.len(), 1, "with exactly one hop");
    let hop = &hints[0].0[0];
    assert_eq!((hop.src_node_id, hop.short_channel_id, hop.cltv_expiry_delta), (lsp, scid, cltv));
    assert_eq!((hop.fees.base_msat, hop.fees.proportional_millionths), (0, 0));
    assert_eq!(invoice.min_final_cltv_expiry_delta(), c);
    let expires = invoice.duration_since_epoch() + invoice.expiry_time();
    assert!(expires.as_secs() <= valid_until.unix_secs(), "timestamp + expiry ≤ valid_until");
}

#[test]
fn fixed_mode_invoice_has_amount_mpp_and_the_route_hint() {
    let valid_until = at(NOW_SECS + 600);
    let (fields, secret) = fields(Some(42_000_000), valid_until);
    let invoice = round_trip(&fields, &secret);
    assert_jit_invoice(&invoice, fields.lsp, fields.intercept_scid, 144, 146, valid_until);
    assert_eq!(invoice.amount_milli_satoshis(), Some(42_000_000));
    assert!(invoice.features().expect("features").supports_basic_mpp());
    assert_eq!(invoice.payee_pub_key(), Some(&fields.payee));
    assert_eq!(invoice.recover_payee_pub_key(), fields.payee);
    assert_eq!(invoice.expiry_time(), Duration::from_secs(600), "shortened to valid_until");
    assert_eq!(invoice.payment_hash().to_byte_array(), [7; 32]);
}

#[test]
fn variable_mode_invoice_has_no_amount_and_no_mpp() {
    let valid_until = at(NOW_SECS + 7200);
    let (fields, secret) = fields(None, valid_until);
    let invoice = round_trip(&fields, &secret);
    assert_jit_invoice(&invoice, fields.lsp, fields.intercept_scid, 144, 146, valid_until);
    assert_eq!(invoice.amount_milli_satoshis(), None);
    assert!(!invoice.features().expect("features").supports_basic_mpp());
    assert_eq!(invoice.expiry_time(), Duration::from_secs(3600), "the wanted expiry fits");
    assert_eq!(invoice.recover_payee_pub_key(), fields.payee);
}

#[test]
fn expiry_is_fitted_to_valid_until() {
    let timestamp = Duration::from_secs(NOW_SECS);
    assert_eq!(fit_expiry_secs(3600, timestamp, at(NOW_SECS + 100)), Some(100));
    assert_eq!(fit_expiry_secs(60, timestamp, at(NOW_SECS + 100)), Some(60));
    assert_eq!(fit_expiry_secs(60, timestamp, at(NOW_SECS)), None);
    assert_eq!(fit_expiry_secs(60, timestamp, at(NOW_SECS - 1)), None);
    let fractional = DateTime::from_unix_millis((NOW_SECS + 100) * 1000 + 999).expect("in range");
    assert_eq!(fit_expiry_secs(3600, timestamp, fractional), Some(100), "rounds down");
}

fn vector(id: &str) -> Value {
    let text = include_str!("../../../lsps/tests/vectors.json");
    let file: Value = serde_json::from_str(text).expect("vectors.json");
    file["vectors"].as_array().expect("array").iter().find(|v| v["id"] == id).cloned().expect("vector exists")
}

#[test]
fn spec_invoice_vectors_decode_as_stated() {
    for (id, fixed) in [("lsps2.invoice.mpp_fixed", true), ("lsps2.invoice.no_mpp_var", false)] {
        let v = vector(id);
        let decoded = &v["decoded"];
        let invoice = Bolt11Invoice::from_str(v["invoice"].as_str().expect("text")).expect(id);
        assert_eq!(invoice.amount_milli_satoshis(), decoded["amount_msat"].as_u64(), "{id}");
        assert_eq!(invoice.min_final_cltv_expiry_delta(), decoded["min_final_cltv_expiry_delta"].as_u64().expect("c"));
        let features = invoice.features().expect("features");
        let bits: Vec<u64> =
            decoded["features_bits"].as_array().expect("bits").iter().filter_map(Value::as_u64).collect();
        let set: Vec<u64> = (0..64)
            .filter(|bit| features.le_flags().get(*bit as usize / 8).is_some_and(|byte| byte & (1 << (bit % 8)) != 0))
            .collect();
        assert_eq!(set, bits, "{id}: feature bits");
        assert_eq!(features.supports_basic_mpp(), fixed);
        let hints = invoice.route_hints();
        let expected = decoded["route_hint"].as_array().expect("hint");
        assert_eq!((hints.len(), hints[0].0.len(), expected.len()), (1, 1, 1), "{id}");
        let (hop, want) = (&hints[0].0[0], &expected[0]);
        assert_eq!(hop.src_node_id.to_string(), want["pubkey"].as_str().expect("pubkey"));
        let scid = Scid::from_str(want["short_channel_id"].as_str().expect("scid")).expect("scid");
        assert_eq!(hop.short_channel_id, scid.0);
        assert_eq!(u64::from(hop.fees.base_msat), want["fee_base_msat"].as_u64().expect("base"));
        assert_eq!(
            u64::from(hop.fees.proportional_millionths),
            want["fee_proportional_millionths"].as_u64().expect("ppm")
        );
        assert_eq!(u64::from(hop.cltv_expiry_delta), want["cltv_expiry_delta"].as_u64().expect("cltv"));
        if let Some(timestamp) = decoded["timestamp"].as_u64() {
            assert_eq!(invoice.duration_since_epoch().as_secs(), timestamp);
            assert_eq!(invoice.expiry_time().as_secs(), decoded["expiry"].as_u64().expect("expiry"));
            let valid_until: DateTime = v["valid_until"].as_str().expect("valid_until").parse().expect("datetime");
            assert!(timestamp + invoice.expiry_time().as_secs() <= valid_until.unix_secs());
        }
        if let Some(payee) = decoded["payee"].as_str() {
            assert_eq!(invoice.recover_payee_pub_key().to_string(), payee);
        }
        if let Some(hash) = decoded["payment_hash"].as_str() {
            assert_eq!(invoice.payment_hash().to_string(), hash);
        }
        invoice.check_signature().expect("valid signature");
    }
}

#[test]
fn selection_respects_the_fee_cap() {
    let now = at(NOW_SECS);
    let menu = vec![entry(2_000, 1_000, NOW_SECS + 600), entry(2_000, 5_000, NOW_SECS + 600)];
    // 10_000_000 msat: fees 10_000 and 50_000.
    let (params, fee) = select_offer(&menu, Some(10_000_000), 20_000, 120, now).expect("first fits");
    assert_eq!((params, fee), (menu[0].clone(), Some(10_000)));
    let none = select_offer(&menu, Some(10_000_000), 9_999, 120, now).expect_err("all above cap");
    assert_eq!(no_offer_error(none, 9_999), ClientError::FeeAboveCap { lowest_fee_msat: 10_000, max_fee_msat: 9_999 });
    // Variable mode: only the floor is held to the cap.
    let (_, fee) = select_offer(&menu, None, 2_000, 120, now).expect("floor fits");
    assert_eq!(fee, None);
    let none = select_offer(&menu, None, 1_999, 120, now).expect_err("floor above cap");
    assert!(matches!(no_offer_error(none, 1_999), ClientError::FeeAboveCap { lowest_fee_msat: 2_000, .. }));
    // Expiring entries are a different error, which makes the client renegotiate.
    let none = select_offer(&menu, Some(10_000_000), 20_000, 601, now).expect_err("expiring");
    assert_eq!(none.skipped, vec![EntrySkipped::ExpiresTooSoon; 2]);
    assert!(matches!(no_offer_error(none, 20_000), ClientError::NoJitOffer(_)));
    let none = select_offer(&[], Some(10_000_000), 20_000, 0, now).expect_err("empty menu");
    assert!(matches!(no_offer_error(none, 20_000), ClientError::NoJitOffer(_)));
}

#[test]
fn skimmed_fee_checks() {
    let fixed = AgreedFee::Fixed { payment_size_msat: 10_000_000, opening_fee_msat: 10_000 };
    assert_eq!(check_jit_payment(&fixed, 9_990_000, 10_000), Ok(()));
    assert_eq!(check_jit_payment(&fixed, 9_995_000, 5_000), Ok(()), "less than agreed is fine");
    assert_eq!(check_jit_payment(&fixed, 10_000_000, 0), Ok(()));
    assert_eq!(
        check_jit_payment(&fixed, 9_980_000, 20_000),
        Err(SkimRejection::FeeAboveAgreed { skimmed_msat: 20_000, agreed_msat: 10_000 })
    );
    assert!(matches!(check_jit_payment(&fixed, 9_980_000, 10_000), Err(SkimRejection::BelowPaymentSize { .. })));
    // Variable: 5_000 ppm of the forwarded 10_000_000 = 50_000, floor 2_000.
    let variable = AgreedFee::Variable { params: entry(2_000, 5_000, NOW_SECS), max_fee_msat: 60_000 };
    assert_eq!(check_jit_payment(&variable, 9_950_000, 50_000), Ok(()));
    assert!(matches!(check_jit_payment(&variable, 9_949_999, 50_001), Err(SkimRejection::FeeAboveAgreed { .. })));
    assert_eq!(check_jit_payment(&variable, 1_000, 2_000), Ok(()), "the floor applies");
    assert_eq!(check_jit_payment(&variable, u64::MAX, 1), Err(SkimRejection::FeeOverflow));
    // 20_000_000 forwarded: the agreed fee is 100_000, but the user capped it at 60_000.
    assert_eq!(
        check_jit_payment(&variable, 19_900_000, 100_000),
        Err(SkimRejection::FeeAboveCap { skimmed_msat: 100_000, max_fee_msat: 60_000 })
    );

    // Payments that are not JIT purchases.
    assert_eq!(decide_claim(None, 1_000, 0), ClaimDecision::Claim);
    assert_eq!(
        decide_claim(None, 1_000, 1),
        ClaimDecision::FailBack(SkimRejection::UnexpectedSkim { skimmed_msat: 1 })
    );
    let purchase = purchase(key(2).1, NOW_SECS + 600, fixed);
    assert_eq!(decide_claim(Some(&purchase), 9_990_000, 10_000), ClaimDecision::Claim);
    assert!(matches!(decide_claim(Some(&purchase), 9_990_000, 10_001), ClaimDecision::FailBack(_)));
}

pub(crate) fn purchase(lsp: PublicKey, valid_until_secs: u64, fee: AgreedFee) -> Purchase {
    Purchase {
        lsp,
        intercept_scid: Scid(1),
        valid_until: at(valid_until_secs),
        client_trusts_lsp: false,
        fee,
        settled: false,
    }
}

#[test]
fn only_an_open_purchase_makes_a_jit_channel() {
    let ((_, lsp), (_, stranger)) = (key(2), key(3));
    let registry = PurchaseRegistry::new(2, 60);
    let fee = AgreedFee::Fixed { payment_size_msat: 10_000_000, opening_fee_msat: 10_000 };
    assert!(!registry.is_jit_channel(&lsp, false, at(NOW_SECS)), "no purchase yet");
    assert_eq!(
        registry.insert(PaymentHash([1; 32]), purchase(lsp, NOW_SECS + 600, fee.clone()), at(NOW_SECS)),
        Ok(true)
    );
    assert!(registry.is_jit_channel(&lsp, false, at(NOW_SECS)));
    assert!(registry.is_jit_channel(&lsp, false, at(NOW_SECS + 660)), "within the grace");
    assert!(!registry.is_jit_channel(&lsp, false, at(NOW_SECS + 661)), "window over");
    assert!(!registry.is_jit_channel(&lsp, true, at(NOW_SECS)), "announced channel");
    assert!(!registry.is_jit_channel(&stranger, false, at(NOW_SECS)), "another peer");
    registry.mark_settled(&PaymentHash([1; 32])).expect("in memory");
    assert!(!registry.is_jit_channel(&lsp, false, at(NOW_SECS)), "already paid");
}

#[test]
fn registry_is_bounded_and_forgets_expired_purchases() {
    let lsp = key(2).1;
    let registry = PurchaseRegistry::new(2, 60);
    let fee = AgreedFee::Fixed { payment_size_msat: 1, opening_fee_msat: 0 };
    assert_eq!(
        registry.insert(PaymentHash([1; 32]), purchase(lsp, NOW_SECS + 10, fee.clone()), at(NOW_SECS)),
        Ok(true)
    );
    assert_eq!(
        registry.insert(PaymentHash([2; 32]), purchase(lsp, NOW_SECS + 600, fee.clone()), at(NOW_SECS)),
        Ok(true)
    );
    assert!(!registry.has_room(at(NOW_SECS)));
    assert_eq!(
        registry.insert(PaymentHash([3; 32]), purchase(lsp, NOW_SECS + 600, fee.clone()), at(NOW_SECS)),
        Ok(false)
    );
    assert!(registry.has_room(at(NOW_SECS + 71)), "the first expired (10 s + 60 s grace)");
    assert_eq!(registry.len(), 1);
    assert!(registry.remove(&PaymentHash([2; 32])).expect("in memory").is_some());
    assert!(registry.is_empty());
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
        let path = std::env::temp_dir().join(format!("inbound-client-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_durable_registry_survives_a_reopen_and_prunes_expired_purchases() {
    let dir = TempDir::new("durable");
    let file = PurchaseFile::in_dir(&dir.0);
    let lsp = key(2).1;
    let fixed = AgreedFee::Fixed { payment_size_msat: 10_000_000, opening_fee_msat: 10_000 };
    let variable = AgreedFee::Variable { params: entry(5_000, 2_000, NOW_SECS + 600), max_fee_msat: 50_000 };
    let registry = PurchaseRegistry::open(file.clone(), 10, 60, at(NOW_SECS)).expect("no file yet");
    assert!(registry.is_empty());
    let mut trusting = purchase(lsp, NOW_SECS + 600, variable);
    trusting.client_trusts_lsp = true;
    assert_eq!(registry.insert(PaymentHash([1; 32]), purchase(lsp, NOW_SECS + 600, fixed), at(NOW_SECS)), Ok(true));
    assert_eq!(registry.insert(PaymentHash([2; 32]), trusting.clone(), at(NOW_SECS)), Ok(true));
    assert_eq!(
        registry.insert(
            PaymentHash([3; 32]),
            purchase(lsp, NOW_SECS + 10, AgreedFee::Fixed { payment_size_msat: 1, opening_fee_msat: 0 }),
            at(NOW_SECS)
        ),
        Ok(true)
    );
    registry.mark_settled(&PaymentHash([1; 32])).expect("saved");
    drop(registry);

    let reopened = PurchaseRegistry::open(file.clone(), 10, 60, at(NOW_SECS + 100)).expect("reopen");
    assert_eq!(reopened.len(), 2, "the purchase expired at +70 s is pruned on load");
    assert_eq!(reopened.get(&PaymentHash([2; 32])), Some(trusting), "every field round-trips");
    assert!(reopened.get(&PaymentHash([1; 32])).expect("kept").settled);
    assert_eq!(file.load().expect("rewritten").len(), 2, "the pruned file was rewritten");
    reopened.remove(&PaymentHash([1; 32])).expect("saved");
    assert_eq!(file.load().expect("file").len(), 1);
}

#[test]
fn a_corrupt_purchase_file_is_an_error_and_is_left_untouched() {
    let dir = TempDir::new("corrupt");
    let file = PurchaseFile::in_dir(&dir.0);
    let lsp = key(2).1;
    let cases = [
        "{ not json".to_string(),
        r#"{"version":2,"purchases":[]}"#.to_string(),
        r#"{"version":1,"purchases":[{"payment_hash":"zz"}]}"#.to_string(),
    ];
    for text in cases {
        std::fs::write(file.path(), &text).expect("write");
        let error = PurchaseRegistry::open(file.clone(), 10, 60, at(NOW_SECS)).expect_err("corrupt");
        assert!(matches!(error, PurchaseFileError::Corrupt { .. }), "{text}: {error:?}");
        assert!(error.to_string().contains("left untouched"), "{error}");
        assert_eq!(std::fs::read_to_string(file.path()).expect("still there"), text, "not overwritten");
    }

    // A hash stored twice is corrupt too.
    std::fs::remove_file(file.path()).expect("remove");
    let registry = PurchaseRegistry::open(file.clone(), 10, 60, at(NOW_SECS)).expect("empty");
    let fee = AgreedFee::Fixed { payment_size_msat: 1, opening_fee_msat: 0 };
    assert_eq!(registry.insert(PaymentHash([1; 32]), purchase(lsp, NOW_SECS + 600, fee), at(NOW_SECS)), Ok(true));
    let text = std::fs::read_to_string(file.path()).expect("saved");
    let value: Value = serde_json::from_str(&text).expect("json");
    let entry = value["purchases"][0].clone();
    let doubled = serde_json::json!({ "version": 1, "purchases": [entry.clone(), entry] });
    std::fs::write(file.path(), doubled.to_string()).expect("write");
    let error = PurchaseRegistry::open(file, 10, 60, at(NOW_SECS)).expect_err("duplicate");
    assert!(error.to_string().contains("appears twice"), "{error}");
}

#[test]
fn a_purchase_that_cannot_be_saved_is_not_recorded() {
    let dir = TempDir::new("unwritable");
    let missing = PurchaseFile::in_dir(&dir.0.join("no-such-dir"));
    let registry = PurchaseRegistry::open(missing, 10, 60, at(NOW_SECS)).expect("a missing file is empty");
    let fee = AgreedFee::Fixed { payment_size_msat: 1, opening_fee_msat: 0 };
    let outcome = registry.insert(PaymentHash([1; 32]), purchase(key(2).1, NOW_SECS + 600, fee), at(NOW_SECS));
    assert!(matches!(outcome, Err(PurchaseFileError::Io { .. })), "{outcome:?}");
    assert!(registry.is_empty(), "rolled back");
}

/// bLIP-52 §4.9, as documented in `events.rs`: the claim decision depends on the fee only, not
/// on the trust mode (the wallet claims at once in both).
#[test]
fn a_jit_payment_is_claimed_at_once_in_both_trust_modes() {
    let fee = AgreedFee::Fixed { payment_size_msat: 10_000_000, opening_fee_msat: 10_000 };
    for client_trusts_lsp in [false, true] {
        let mut bought = purchase(key(2).1, NOW_SECS + 600, fee.clone());
        bought.client_trusts_lsp = client_trusts_lsp;
        assert_eq!(decide_claim(Some(&bought), 9_990_000, 10_000), ClaimDecision::Claim);
        assert!(matches!(
            decide_claim(Some(&bought), 9_989_999, 10_001),
            ClaimDecision::FailBack(SkimRejection::FeeAboveAgreed { .. })
        ));
    }
}
