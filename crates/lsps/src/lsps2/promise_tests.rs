use super::*;
use proptest::prelude::*;

const CLIENT: &str = "033dd22479352d5df4cd36f088ad2134c4758aac4713707ce43e72c0ac91938061";
const OTHER_CLIENT: &str = "02e6411d8e0ae3b715dedde8e9dfc9d3759eeca9899d168984c34e6ff5aa213606";
/// The `lsps2.promise.ldk_scheme` vector's public test secret.
const LDK_SECRET: [u8; 32] = [
    0xcf, 0x3d, 0x1f, 0x4a, 0x03, 0xd0, 0x66, 0x9d, 0xe9, 0xeb, 0x13, 0x56, 0xe1, 0x8a, 0x5b, 0xa1, 0xdd, 0x94, 0xcb,
    0x72, 0x46, 0x6a, 0xc7, 0xa4, 0x77, 0x19, 0xe5, 0x96, 0x31, 0xcc, 0xdb, 0xbd,
];

fn client() -> NodeId {
    CLIENT.parse().unwrap()
}

fn time(text: &str) -> DateTime {
    text.parse().unwrap()
}

fn raw() -> RawOpeningFeeParams {
    RawOpeningFeeParams {
        min_fee_msat: MsatAmount(2_000_000),
        proportional: Ppm(5000),
        valid_until: time("2025-06-01T13:00:00.511Z"),
        min_lifetime: 4320,
        max_client_to_self_delay: 2016,
        min_payment_size_msat: MsatAmount(10_000_000),
        max_payment_size_msat: MsatAmount(4_000_000_000),
    }
}

fn before() -> DateTime {
    time("2025-06-01T12:00:00Z")
}

/// A named way to change one field of a sealed entry.
type Tampering = (&'static str, fn(&mut OpeningFeeParams));

/// Every way to change one field of a sealed entry.
fn tamperings() -> Vec<Tampering> {
    vec![
        ("min_fee_msat", |p| p.min_fee_msat.0 -= 1),
        ("proportional", |p| p.proportional.0 += 1),
        ("valid_until", |p| p.valid_until = p.valid_until.checked_add_secs(1).unwrap()),
        ("valid_until millis", |p| {
            p.valid_until = DateTime::from_unix_millis(p.valid_until.unix_millis() + 1).unwrap()
        }),
        ("valid_until nanos", |p| p.valid_until = time("2025-06-01T13:00:00.511000001Z")),
        ("min_lifetime", |p| p.min_lifetime -= 1),
        ("max_client_to_self_delay", |p| p.max_client_to_self_delay += 1),
        ("min_payment_size_msat", |p| p.min_payment_size_msat.0 -= 1),
        ("max_payment_size_msat", |p| p.max_payment_size_msat.0 += 1),
        ("promise", |p| {
            let mut text = p.promise.as_str().to_owned();
            let last = if text.ends_with('0') { "1" } else { "0" };
            text.pop();
            text.push_str(last);
            p.promise = text.parse().unwrap();
        }),
    ]
}

#[test]
fn ldk_scheme_reproduces_the_vector() {
    let key = PromiseKey::lightning_liquidity(LDK_SECRET);
    let sealed = raw().seal(&key, &client());
    assert_eq!(sealed.promise.as_str(), "685c01e726b59c86faed50caec3744970996543f7aec96a512cb4dfcfc911453");
    assert_eq!(verify_promise(&sealed, &client(), &[key], before()), Ok(PromiseScheme::LightningLiquidity));
}

#[test]
fn v1_promises_have_the_documented_form() {
    let sealed = raw().seal(&PromiseKey::inbound_v1(0x2a, [7; 32]), &client());
    let text = sealed.promise.as_str();
    assert_eq!(text.len(), V1_LEN);
    assert!(text.starts_with("v1.2a."), "{text}");
    assert!(text[6..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn tampering_with_any_field_fails_in_both_schemes() {
    for key in [PromiseKey::inbound_v1(1, [7; 32]), PromiseKey::lightning_liquidity(LDK_SECRET)] {
        let sealed = raw().seal(&key, &client());
        for (field, tamper) in tamperings() {
            let mut changed = sealed.clone();
            tamper(&mut changed);
            assert_ne!(changed, sealed, "{field} tampering changed nothing");
            assert_eq!(
                verify_promise(&changed, &client(), std::slice::from_ref(&key), before()),
                Err(PromiseError::Mismatch),
                "{:?}: changing {field} must break the promise",
                key.scheme()
            );
        }
        let other: NodeId = OTHER_CLIENT.parse().unwrap();
        assert_eq!(verify_promise(&sealed, &other, &[key], before()), Err(PromiseError::Mismatch));
    }
}

#[test]
fn wrong_secret_fails() {
    let sealed = raw().seal(&PromiseKey::inbound_v1(1, [7; 32]), &client());
    assert_eq!(
        verify_promise(&sealed, &client(), &[PromiseKey::inbound_v1(1, [8; 32])], before()),
        Err(PromiseError::Mismatch)
    );
    let sealed = raw().seal(&PromiseKey::lightning_liquidity([7; 32]), &client());
    let keys = [PromiseKey::lightning_liquidity([8; 32])];
    assert_eq!(verify_promise(&sealed, &client(), &keys, before()), Err(PromiseError::Mismatch));
}

#[test]
fn rotation_keeps_old_keys_working_until_removed() {
    let old = PromiseKey::inbound_v1(1, [1; 32]);
    let new = PromiseKey::inbound_v1(2, [2; 32]);
    let issued_before_rotation = raw().seal(&old, &client());
    let issued_after_rotation = raw().seal(&new, &client());
    let grace = [new.clone(), old.clone()];
    assert_eq!(verify_promise(&issued_before_rotation, &client(), &grace, before()), Ok(PromiseScheme::InboundV1));
    assert_eq!(verify_promise(&issued_after_rotation, &client(), &grace, before()), Ok(PromiseScheme::InboundV1));
    let after_grace = [new];
    assert_eq!(
        verify_promise(&issued_before_rotation, &client(), &after_grace, before()),
        Err(PromiseError::UnknownKeyId(1))
    );
    assert_eq!(verify_promise(&issued_after_rotation, &client(), &after_grace, before()), Ok(PromiseScheme::InboundV1));
    // The key id is under the MAC: relabelling a promise to another key fails.
    let mut relabelled = issued_before_rotation.clone();
    relabelled.promise = relabelled.promise.as_str().replacen("v1.01.", "v1.02.", 1).parse().unwrap();
    assert_eq!(verify_promise(&relabelled, &client(), &grace, before()), Err(PromiseError::Mismatch));
}

#[test]
fn expiry_is_checked_after_the_mac() {
    let key = PromiseKey::inbound_v1(1, [7; 32]);
    let sealed = raw().seal(&key, &client());
    let valid_until = sealed.valid_until;
    let just_before = DateTime::from_unix_millis(valid_until.unix_millis() - 1).unwrap();
    assert!(verify_promise(&sealed, &client(), std::slice::from_ref(&key), just_before).is_ok());
    assert_eq!(
        verify_promise(&sealed, &client(), std::slice::from_ref(&key), valid_until),
        Err(PromiseError::Expired { valid_until })
    );
    let mut forged = sealed.clone();
    forged.min_fee_msat = MsatAmount(1);
    assert_eq!(verify_promise(&forged, &client(), &[key], valid_until), Err(PromiseError::Mismatch));
}

#[test]
fn sealing_v1_truncates_to_milliseconds() {
    let mut precise = raw();
    precise.valid_until = time("2025-06-01T13:00:00.511999999Z");
    let key = PromiseKey::inbound_v1(1, [7; 32]);
    let sealed = precise.seal(&key, &client());
    assert_eq!(sealed.valid_until.to_string(), "2025-06-01T13:00:00.511Z");
    assert!(verify_promise(&sealed, &client(), &[key], before()).is_ok());
}

#[test]
fn foreign_and_malformed_promises() {
    let v1 = [PromiseKey::inbound_v1(1, [7; 32])];
    let ldk = [PromiseKey::lightning_liquidity(LDK_SECRET)];
    let ldk_sealed = raw().seal(&ldk[0], &client());
    let v1_sealed = raw().seal(&v1[0], &client());
    assert_eq!(verify_promise(&ldk_sealed, &client(), &v1, before()), Err(PromiseError::UnknownFormat));
    assert_eq!(verify_promise(&v1_sealed, &client(), &ldk, before()), Err(PromiseError::UnknownFormat));
    for bad in ["", "v1.", "v1.01.", "v1.1.abcd", "v1.0g.", "hello", &"A".repeat(64), &"a".repeat(63)] {
        let mut params = v1_sealed.clone();
        params.promise = bad.parse().unwrap();
        let both = [v1[0].clone(), ldk[0].clone()];
        assert_eq!(verify_promise(&params, &client(), &both, before()), Err(PromiseError::UnknownFormat), "{bad:?}");
    }
    let mut upper = v1_sealed.clone();
    upper.promise = upper.promise.as_str().to_ascii_uppercase().replacen("V1.", "v1.", 1).parse().unwrap();
    assert_eq!(verify_promise(&upper, &client(), &v1, before()), Err(PromiseError::UnknownFormat));
    assert_eq!(verify_promise(&v1_sealed, &client(), &[], before()), Err(PromiseError::UnknownFormat));
}

#[test]
fn debug_hides_the_secret() {
    let text = format!("{:?}", PromiseKey::inbound_v1(9, [0xab; 32]));
    assert!(!text.contains("171") && !text.contains("ab, ab") && text.contains("redacted"), "{text}");
}

#[test]
fn raw_params_round_trip_through_sealed_ones() {
    let sealed = raw().seal(&PromiseKey::lightning_liquidity(LDK_SECRET), &client());
    assert_eq!(RawOpeningFeeParams::from(&sealed), raw());
}

proptest! {
    #[test]
    fn sealed_entries_verify_and_survive_json(
        min_fee in any::<u64>(), ppm in any::<u32>(), millis in 0u64..253_402_300_799_999,
        min_lifetime in any::<u32>(), delay in any::<u32>(), min_size in any::<u64>(), max_size in any::<u64>(),
        key_id in any::<u8>(), secret in any::<[u8; 32]>(), ldk in any::<bool>(),
    ) {
        let raw = RawOpeningFeeParams {
            min_fee_msat: MsatAmount(min_fee),
            proportional: Ppm(ppm),
            valid_until: DateTime::from_unix_millis(millis).unwrap(),
            min_lifetime,
            max_client_to_self_delay: delay,
            min_payment_size_msat: MsatAmount(min_size),
            max_payment_size_msat: MsatAmount(max_size),
        };
        let key = if ldk { PromiseKey::lightning_liquidity(secret) } else { PromiseKey::inbound_v1(key_id, secret) };
        let sealed = raw.seal(&key, &client());
        let json = serde_json::to_value(&sealed).unwrap();
        let decoded: OpeningFeeParams = serde_json::from_value(json).unwrap();
        prop_assert_eq!(&decoded, &sealed);
        let result = verify_promise(&decoded, &client(), &[key], DateTime::UNIX_EPOCH);
        if millis == 0 {
            let expired = matches!(result, Err(PromiseError::Expired { .. }));
            prop_assert!(expired);
        } else {
            prop_assert!(result.is_ok());
        }
    }
}
