use super::*;

/// LUD-01's example LNURL and the URL inside it.
const LUD01_LNURL: &str = "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS";
const LUD01_URL: &str = "https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df";

fn node(byte: u8) -> NodeId {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let secret = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).expect("key");
    NodeId(bitcoin::secp256k1::PublicKey::from_secret_key(&secp, &secret))
}

#[test]
fn lud01_example_decodes_and_encodes_back() {
    let url = decode(LUD01_LNURL).expect("decode");
    assert_eq!(url.as_str(), LUD01_URL);
    assert_eq!(encode(&url), LUD01_LNURL);
    assert_eq!(decode(&LUD01_LNURL.to_lowercase()).expect("lower case"), url);
    assert_eq!(decode(&format!("lightning:{LUD01_LNURL}")).expect("uri"), url);
    assert_eq!(decode(&format!("LIGHTNING:{}", LUD01_LNURL.to_lowercase())).expect("uri"), url);
    assert_eq!(lightning_uri(&url), format!("lightning:{LUD01_LNURL}"));
}

#[test]
fn lud17_and_plain_urls_are_read_and_security_is_the_callers_call() {
    let url = decode("lnurlc://lsp.example/lnurlc/ab?x=1").expect("lud17");
    assert_eq!(url.as_str(), "https://lsp.example/lnurlc/ab?x=1");
    assert!(is_secure(&url));
    let local = decode("http://127.0.0.1:9780/lnurlc/ab").expect("http");
    assert!(is_secure(&local));
    assert!(is_secure(&decode("http://abc.onion/x").expect("onion")));
    assert!(!is_secure(&decode("http://lsp.example/x").expect("http")));
    assert!(!is_secure(&decode("http://10.0.0.1/x").expect("http")));
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let mut tampered = LUD01_LNURL.to_owned();
    tampered.replace_range(20..21, "Q");
    assert!(matches!(decode(&tampered), Err(LnurlError::NotLnurl(_))));
    let other_hrp = bech32::encode::<Bech32>(Hrp::parse_unchecked("lnbc"), b"https://x.example").expect("encode");
    assert!(matches!(decode(&other_hrp), Err(LnurlError::NotLnurl(_))));
    let not_url = bech32::encode::<Bech32>(Hrp::parse_unchecked("lnurl"), b"ftp://x.example").expect("encode");
    assert!(matches!(decode(&not_url), Err(LnurlError::BadUrl(_))));
    let not_utf8 = bech32::encode::<Bech32>(Hrp::parse_unchecked("lnurl"), &[0xff, 0xfe]).expect("encode");
    assert!(matches!(decode(&not_utf8), Err(LnurlError::BadUrl(_))));
    assert_eq!(decode(&"a".repeat(MAX_LNURL_LEN + 1)), Err(LnurlError::TooLong));
    assert!(decode("").is_err());
    assert!(decode("lightning:").is_err());
    assert!(decode("javascript:alert(1)").is_err());
}

#[test]
fn channel_request_round_trips_and_is_checked() {
    let request = ChannelRequest {
        uri: format!("{}@lsp.example:9735", node(1)).parse().expect("uri"),
        callback: Url::parse("https://lsp.example/lnurlc/callback").expect("url"),
        k1: K1([7; 32]),
    };
    let json = serde_json::to_value(&request).expect("json");
    assert_eq!(json["tag"], "channelRequest");
    assert_eq!(json["k1"], "07".repeat(32));
    let read = ChannelRequest::from_json(json.to_string().as_bytes()).expect("read");
    assert_eq!(read, request);

    let mut wrong_tag = json.clone();
    wrong_tag["tag"] = "withdrawRequest".into();
    assert!(matches!(
        ChannelRequest::from_json(wrong_tag.to_string().as_bytes()),
        Err(LnurlError::NotChannelRequest(_))
    ));
    let mut bad_k1 = json.clone();
    bad_k1["k1"] = "zz".into();
    assert_eq!(ChannelRequest::from_json(bad_k1.to_string().as_bytes()), Err(LnurlError::BadK1));
    let mut bad_uri = json.clone();
    bad_uri["uri"] = "lsp.example:9735".into();
    assert_eq!(ChannelRequest::from_json(bad_uri.to_string().as_bytes()), Err(LnurlError::BadUri));
    let error = br#"{"status":"ERROR","reason":"voucher expired"}"#;
    match ChannelRequest::from_json(error) {
        Err(LnurlError::NotChannelRequest(reason)) => assert!(reason.contains("voucher expired"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(ChannelRequest::from_json(b"[1,2]").is_err());
}

#[test]
fn callback_urls_are_read_back_by_the_service() {
    let request = ChannelRequest {
        uri: format!("{}@127.0.0.1:9735", node(1)).parse().expect("uri"),
        callback: Url::parse("https://lsp.example/lnurlc/callback?svc=1").expect("url"),
        k1: K1([9; 32]),
    };
    let wallet = node(2);
    let open = request.open_url(&wallet, false);
    let pairs: Vec<(String, String)> = open.query_pairs().into_owned().collect();
    let read = Callback::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("open");
    assert_eq!(read, Callback::Open { k1: K1([9; 32]), remote_id: wallet, private: false });
    let cancel = request.cancel_url(&wallet);
    let pairs: Vec<(String, String)> = cancel.query_pairs().into_owned().collect();
    let read = Callback::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("cancel");
    assert_eq!(read, Callback::Cancel { k1: K1([9; 32]), remote_id: wallet });
}

#[test]
fn bad_callbacks_name_the_parameter() {
    let k1 = "ab".repeat(32);
    let id = node(3).to_string();
    let read = |pairs: &[(&str, &str)]| Callback::from_query(pairs.iter().copied());
    assert_eq!(read(&[("remoteid", &id)]), Err(LnurlError::Missing("k1")));
    assert_eq!(read(&[("k1", &k1)]), Err(LnurlError::Missing("remoteid")));
    assert_eq!(read(&[("k1", &k1), ("k1", &k1), ("remoteid", &id)]), Err(LnurlError::Repeated("k1")));
    assert_eq!(read(&[("k1", "00"), ("remoteid", &id)]), Err(LnurlError::BadK1));
    assert_eq!(read(&[("k1", &k1), ("remoteid", "02zz")]), Err(LnurlError::BadRemoteId));
    assert_eq!(read(&[("k1", &k1), ("remoteid", &id), ("private", "yes")]), Err(LnurlError::BadPrivate));
    let unspecified = read(&[("k1", &k1), ("remoteid", &id)]).expect("private defaults");
    assert!(matches!(unspecified, Callback::Open { private: true, .. }));
}

#[test]
fn statuses_have_lud_shapes_and_reasons_are_bounded() {
    assert_eq!(serde_json::to_string(&LnurlStatus::Ok).expect("json"), r#"{"status":"OK"}"#);
    let error = LnurlStatus::error("é".repeat(MAX_REASON_BYTES));
    let LnurlStatus::Error { reason } = &error else { panic!() };
    assert!(reason.len() <= MAX_REASON_BYTES);
    let json = serde_json::to_value(&error).expect("json");
    assert_eq!(json["status"], "ERROR");
    assert_eq!(serde_json::from_value::<LnurlStatus>(json).expect("back"), error);
}

#[test]
fn k1_debug_hides_the_secret() {
    let k1 = K1([0xab; 32]);
    assert_eq!(format!("{k1:?}"), "K1(abab…)");
    assert_eq!(k1.to_string().parse::<K1>().expect("parse"), k1);
}
