use super::*;
use crate::lsps2::promise::RawOpeningFeeParams;
use crate::schema::{Ppm, Scid};

const CLIENT: &str = "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061";

fn client() -> NodeId {
    CLIENT.parse().unwrap()
}

fn key() -> PromiseKey {
    PromiseKey::inbound_v1(1, [9; 32])
}

fn now() -> DateTime {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn params(min_fee: u64, ppm: u32) -> OpeningFeeParams {
    RawOpeningFeeParams {
        min_fee_msat: MsatAmount(min_fee),
        proportional: Ppm(ppm),
        valid_until: now().checked_add_secs(3600).unwrap(),
        min_lifetime: 4320,
        max_client_to_self_delay: 2016,
        min_payment_size_msat: MsatAmount(10_000_000),
        max_payment_size_msat: MsatAmount(4_000_000_000),
    }
    .seal(&key(), &client())
}

fn buy(params: OpeningFeeParams, size: Option<u64>) -> Result<ValidatedBuy, Lsps2Error> {
    let request = BuyRequest { opening_fee_params: params, payment_size_msat: size.map(MsatAmount) };
    validate_buy(&request, &client(), &[key()], now(), &BuyPolicy::default())
}

#[test]
fn both_modes_pass() {
    let fixed = buy(params(2_000_000, 5000), Some(42_000_000)).unwrap();
    assert_eq!(
        fixed.mode,
        BuyMode::MppFixed { payment_size_msat: MsatAmount(42_000_000), opening_fee_msat: MsatAmount(2_000_000) }
    );
    assert_eq!(fixed.promise_scheme, PromiseScheme::InboundV1);
    assert_eq!(buy(params(2_000_000, 5000), None).unwrap().mode, BuyMode::NoMppVariable);
    let edges = [10_000_000, 4_000_000_000];
    for size in edges {
        assert!(buy(params(2_000_000, 5000), Some(size)).is_ok(), "{size} is inside the inclusive bounds");
    }
}

#[test]
fn checks_run_in_the_spec_order() {
    // A bad promise wins over every size problem.
    let mut forged = params(2_000_000, 5000);
    forged.min_fee_msat = MsatAmount(1000);
    assert_eq!(buy(forged.clone(), Some(u64::MAX)), Err(Lsps2Error::InvalidOpeningFeeParams));
    assert_eq!(buy(forged, None), Err(Lsps2Error::InvalidOpeningFeeParams));
    // Expiry is 201 too.
    let entry = params(2_000_000, 5000);
    let request = BuyRequest { opening_fee_params: entry.clone(), payment_size_msat: None };
    let later = entry.valid_until;
    assert_eq!(
        validate_buy(&request, &client(), &[key()], later, &BuyPolicy::default()),
        Err(Lsps2Error::InvalidOpeningFeeParams)
    );
    // Another client's entry is 201.
    let other: NodeId = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606".parse().unwrap();
    assert_eq!(
        validate_buy(&request, &other, &[key()], now(), &BuyPolicy::default()),
        Err(Lsps2Error::InvalidOpeningFeeParams)
    );
    // Overflow is 203 even though the size is also above the maximum.
    assert_eq!(buy(params(2_000_000, 5000), Some(u64::MAX)), Err(Lsps2Error::PaymentSizeTooLarge));
    // Fee not below size is 202, before the minimum-size check.
    assert_eq!(buy(params(20_000_000, 0), Some(20_000_000)), Err(Lsps2Error::PaymentSizeTooSmall));
    assert_eq!(buy(params(2_000_000, 5000), Some(9_999_999)), Err(Lsps2Error::PaymentSizeTooSmall));
    assert_eq!(buy(params(2_000_000, 5000), Some(4_000_000_001)), Err(Lsps2Error::PaymentSizeTooLarge));
}

#[test]
fn liquidity_hook() {
    let request =
        BuyRequest { opening_fee_params: params(2_000_000, 5000), payment_size_msat: Some(MsatAmount(50_000_000)) };
    let tight = BuyPolicy { max_receivable_msat: Some(MsatAmount(49_999_999)) };
    assert_eq!(validate_buy(&request, &client(), &[key()], now(), &tight), Err(Lsps2Error::PaymentSizeTooLarge));
    let enough = BuyPolicy { max_receivable_msat: Some(MsatAmount(50_000_000)) };
    assert!(validate_buy(&request, &client(), &[key()], now(), &enough).is_ok());
    let variable = BuyRequest { payment_size_msat: None, ..request };
    assert!(validate_buy(&variable, &client(), &[key()], now(), &tight).is_ok(), "no size, nothing to check yet");
}

#[test]
fn cltv_helpers() {
    assert_eq!(min_final_cltv_expiry_delta_for_jit(144, 0), Some(146));
    assert_eq!(min_final_cltv_expiry_delta_for_jit(144, 1), Some(147));
    assert_eq!(min_final_cltv_expiry_delta_for_jit(u32::MAX - 2, 0), Some(u32::MAX));
    assert_eq!(min_final_cltv_expiry_delta_for_jit(u32::MAX - 1, 0), None);
    assert_eq!(min_final_cltv_expiry_delta_for_jit(u32::MAX - 2, 1), None);
    let response =
        |delta| BuyResponse { jit_channel_scid: Scid(1), lsp_cltv_expiry_delta: delta, client_trusts_lsp: false };
    assert_eq!(response(144).route_hint_cltv_expiry_delta(), Some(144));
    assert_eq!(response(65_535).route_hint_cltv_expiry_delta(), Some(65_535));
    assert_eq!(response(65_536).route_hint_cltv_expiry_delta(), None);
}
