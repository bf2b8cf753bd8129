use super::*;
use crate::lsps2::msgs::GetInfoResponse;
use crate::lsps2::promise::PromiseKey;
use crate::schema::NodeId;

const CLIENT: &str = "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061";

fn now() -> DateTime {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn raw(min_fee: u64, ppm: u32, valid_secs: u64) -> RawOpeningFeeParams {
    RawOpeningFeeParams {
        min_fee_msat: MsatAmount(min_fee),
        proportional: Ppm(ppm),
        valid_until: now().checked_add_secs(valid_secs).unwrap(),
        min_lifetime: 4320,
        max_client_to_self_delay: 2016,
        min_payment_size_msat: MsatAmount(10_000_000),
        max_payment_size_msat: MsatAmount(4_000_000_000),
    }
}

fn sealed(raw: RawOpeningFeeParams) -> OpeningFeeParams {
    raw.seal(&PromiseKey::inbound_v1(1, [3; 32]), &CLIENT.parse::<NodeId>().unwrap())
}

fn menu(entries: &[(u64, u32, u64)]) -> Vec<OpeningFeeParams> {
    entries.iter().map(|&(min_fee, ppm, secs)| sealed(raw(min_fee, ppm, secs))).collect()
}

fn policy(max_fee_msat: u64) -> SelectionPolicy {
    SelectionPolicy { max_fee_msat: MsatAmount(max_fee_msat), min_remaining_validity_secs: 600 }
}

#[test]
fn ordering_rule() {
    let ok = |entries: &[(u64, u32, u64)]| check_menu(&menu(entries));
    assert_eq!(ok(&[]), Ok(()));
    assert_eq!(ok(&[(5, 5, 3600)]), Ok(()));
    assert_eq!(ok(&[(1, 1, 3600), (2, 1, 3600), (2, 2, 3600), (3, 3, 3600)]), Ok(()));
    assert_eq!(ok(&[(1, 1, 3600), (1, 1, 3600)]), Err(MenuError::NotIncreasing { index: 1 }));
    assert_eq!(ok(&[(1, 2, 3600), (2, 1, 3600)]), Err(MenuError::NotIncreasing { index: 1 }));
    assert_eq!(ok(&[(2, 1, 3600), (1, 2, 3600)]), Err(MenuError::NotIncreasing { index: 1 }));
    assert_eq!(ok(&[(1, 1, 3600), (2, 2, 3600), (2, 1, 3600)]), Err(MenuError::NotIncreasing { index: 2 }));
    let raws = [raw(1, 1, 60), raw(1, 1, 60)];
    assert_eq!(check_raw_menu(&raws), Err(MenuError::NotIncreasing { index: 1 }));
    let mut inverted = raw(1, 1, 60);
    inverted.min_payment_size_msat = MsatAmount(5_000_000_000);
    assert_eq!(check_raw_menu(&[inverted]), Err(MenuError::EmptySizeRange { index: 0 }));
}

#[test]
fn fixed_size_picks_the_lowest_fee() {
    // At 1,000,000,000 msat: entry 0 costs max(2M, 5M) = 5M, entry 1 costs max(3M, 1M) = 3M.
    let entries = menu(&[(2_000_000, 5000, 3600), (3_000_000, 1000, 3600)]);
    let selection =
        select_cheapest(&entries, PaymentSize::Fixed(MsatAmount(1_000_000_000)), &policy(10_000_000), now()).unwrap();
    assert!(std::ptr::eq(selection.params, &entries[1]));
    assert_eq!(selection.opening_fee_msat, Some(MsatAmount(3_000_000)));
    // Equal fees go to the earlier entry.
    let selection =
        select_cheapest(&entries, PaymentSize::Fixed(MsatAmount(20_000_000)), &policy(10_000_000), now()).unwrap();
    assert!(std::ptr::eq(selection.params, &entries[0]));
    assert_eq!(selection.opening_fee_msat, Some(MsatAmount(2_000_000)));
}

#[test]
fn every_skip_reason() {
    let entries = menu(&[(2_000_000, 5000, 300), (2_000_000, 6000, 3600)]);
    let reasons = |size, cap| select_cheapest(&entries, size, &policy(cap), now()).unwrap_err().skipped;
    let fixed = |msat| PaymentSize::Fixed(MsatAmount(msat));
    assert_eq!(reasons(fixed(9_999_999), u64::MAX), vec![EntrySkipped::ExpiresTooSoon, EntrySkipped::SizeOutOfRange]);
    assert_eq!(reasons(fixed(4_000_000_001), u64::MAX)[1], EntrySkipped::SizeOutOfRange);
    assert_eq!(
        reasons(fixed(1_000_000_000), 5_999_999)[1],
        EntrySkipped::FeeAboveCap { opening_fee_msat: MsatAmount(6_000_000) }
    );
    let mut greedy = raw(20_000_000, 0, 3600);
    greedy.min_payment_size_msat = MsatAmount(1);
    let greedy = [sealed(greedy)];
    let skipped = select_cheapest(&greedy, fixed(20_000_000), &policy(u64::MAX), now()).unwrap_err().skipped;
    assert_eq!(skipped, vec![EntrySkipped::FeeNotBelowPayment { opening_fee_msat: MsatAmount(20_000_000) }]);
    let mut huge = raw(0, 1_000_000, 3600);
    huge.max_payment_size_msat = MsatAmount(u64::MAX);
    let huge = [sealed(huge)];
    let skipped = select_cheapest(&huge, fixed(u64::MAX), &policy(u64::MAX), now()).unwrap_err().skipped;
    assert_eq!(skipped, vec![EntrySkipped::FeeOverflow]);
    assert_eq!(select_cheapest(&[], fixed(1), &policy(1), now()).unwrap_err().skipped, vec![]);
}

#[test]
fn validity_margin_is_strict_and_overflow_safe() {
    let entries = menu(&[(1_000, 0, 600), (2_000, 0, 601)]);
    let selection =
        select_cheapest(&entries, PaymentSize::Fixed(MsatAmount(20_000_000)), &policy(u64::MAX), now()).unwrap();
    assert!(std::ptr::eq(selection.params, &entries[1]), "an entry expiring exactly at the margin is skipped");
    let forever = SelectionPolicy { max_fee_msat: MsatAmount(u64::MAX), min_remaining_validity_secs: u64::MAX };
    let skipped =
        select_cheapest(&entries, PaymentSize::Fixed(MsatAmount(20_000_000)), &forever, now()).unwrap_err().skipped;
    assert_eq!(skipped, vec![EntrySkipped::ExpiresTooSoon; 2]);
}

#[test]
fn variable_mode_with_and_without_estimate() {
    let entries = menu(&[(2_000_000, 5000, 3600), (3_000_000, 7500, 3600)]);
    let blind = PaymentSize::Variable { expected_msat: None };
    let selection = select_cheapest(&entries, blind, &policy(2_500_000), now()).unwrap();
    assert!(std::ptr::eq(selection.params, &entries[0]));
    assert_eq!(selection.opening_fee_msat, None);
    let skipped = select_cheapest(&entries, blind, &policy(1_999_999), now()).unwrap_err().skipped;
    assert_eq!(skipped[0], EntrySkipped::FeeAboveCap { opening_fee_msat: MsatAmount(2_000_000) });
    let estimate = PaymentSize::Variable { expected_msat: Some(MsatAmount(1_000_000_000)) };
    let selection = select_cheapest(&entries, estimate, &policy(10_000_000), now()).unwrap();
    assert_eq!(selection.opening_fee_msat, Some(MsatAmount(5_000_000)));
}

#[test]
fn client_aborts_on_unknown_keys_and_long_promises() {
    let entry = serde_json::to_value(sealed(raw(1, 1, 60))).unwrap();
    let mut with_extra = entry.clone();
    with_extra["rebate_msat"] = serde_json::json!("1");
    let result = serde_json::json!({ "opening_fee_params_menu": [with_extra] });
    let error = crate::method::Response::decode(crate::method::Method::Lsps2GetInfo, result).unwrap_err();
    assert!(format!("{error}").contains("rebate_msat"), "{error}");

    let mut long_promise = entry.clone();
    long_promise["promise"] = serde_json::json!("a".repeat(513));
    assert!(serde_json::from_value::<GetInfoResponse>(
        serde_json::json!({ "opening_fee_params_menu": [long_promise] })
    )
    .is_err());
    let mut max_promise = entry;
    max_promise["promise"] = serde_json::json!("a".repeat(512));
    assert!(serde_json::from_value::<GetInfoResponse>(serde_json::json!({ "opening_fee_params_menu": [max_promise] }))
        .is_ok());
}
