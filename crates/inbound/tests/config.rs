//! Configuration: defaults, layering (flags > environment > file > defaults), and one test per
//! kind of bad configuration, each checking that the error names the key. Pure: no process
//! environment is read, the environment layer is a map. The README table and the annotated
//! example are checked against the defaults in `config_docs.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use inbound::config::{
    default_chain_url, ChainAuth, Config, ConfigError, FileConfig, Overrides, DEFAULT_ALIAS,
    DEFAULT_CHAIN_POLL_INTERVAL_SECS, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_LSPS_QUEUE_PER_PEER,
    DEFAULT_LSPS_QUEUE_TOTAL, DEFAULT_MAX_PENDING_PER_PEER, DEFAULT_MAX_PENDING_TOTAL, DEFAULT_NETWORK,
    DEFAULT_STORE_FILE, REDACTED,
};
use inbound_node::bitcoin::Network;
use inbound_service::lsps1::config::{DEFAULT_FEE_PPM, DEFAULT_PAYMENT_WINDOW_SECS};
use inbound_service::lsps1::Lsps1Config;
use inbound_service::lsps2::config::{default_tiers, DEFAULT_MAX_CHANNEL_SAT, DEFAULT_VALID_FOR_SECS};
use inbound_service::lsps2::session::DEFAULT_MPP_TIMEOUT_SECS;
use inbound_service::lsps2::{FeeTier, Lsps2Config, TrustMode};
use inbound_service::lsps5::Lsps5Config;
use inbound_service::{Compat, ErrorData};
use lsps::method::Protocol;

fn parse(text: &str) -> Result<Config, ConfigError> {
    let file = FileConfig::parse(text, "test.toml")?;
    Config::resolve(file, "test.toml", &Overrides::default(), &Overrides::default())
}

fn env(pairs: &[(&str, &str)]) -> Overrides {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Overrides::from_env(|name| map.get(name).cloned())
}

/// Asserts that `text` is rejected with an error about `key` whose message contains `needle`.
#[track_caller]
fn assert_rejected(text: &str, key: &str, needle: &str) {
    match parse(text) {
        Ok(config) => panic!("accepted {text:?} as {config:?}"),
        Err(error) => {
            assert_eq!(error.key(), Some(key), "wrong key in: {error}");
            let shown = error.to_string();
            assert!(shown.contains(&format!("`{key}`")), "the message does not name the key: {shown}");
            assert!(shown.contains(needle), "{shown:?} does not contain {needle:?}");
        }
    }
}

#[test]
fn empty_file_gives_every_default() {
    let config = parse("").expect("empty file");
    assert_eq!(config.network, DEFAULT_NETWORK);
    assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(config.node.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.node.alias, DEFAULT_ALIAS);
    assert_eq!(config.chain.url.as_str(), default_chain_url(DEFAULT_NETWORK));
    assert_eq!(config.chain.auth, ChainAuth::None);
    assert_eq!(config.chain.poll_interval_secs, DEFAULT_CHAIN_POLL_INTERVAL_SECS);
    assert!(config.lsps.enabled.is_empty());
    assert_eq!(config.limits.max_pending_per_peer, DEFAULT_MAX_PENDING_PER_PEER);
    assert_eq!(config.limits.max_pending_total, DEFAULT_MAX_PENDING_TOTAL);
    assert_eq!(config.limits.lsps_queue_per_peer, DEFAULT_LSPS_QUEUE_PER_PEER);
    assert_eq!(config.limits.lsps_queue_total, DEFAULT_LSPS_QUEUE_TOTAL);
    assert_eq!(config.store.url, Path::new(DEFAULT_DATA_DIR).join(DEFAULT_STORE_FILE).display().to_string());
    assert_eq!(config.lsps2, Lsps2Config::default());
    assert_eq!(config.lsps2.public_menu, default_tiers());
    assert_eq!(config.lsps2.valid_for_secs, DEFAULT_VALID_FOR_SECS);
    assert_eq!(config.lsps2.policy.mpp_timeout_secs, DEFAULT_MPP_TIMEOUT_SECS);
    assert!(!config.lsps2_enabled());
    assert_eq!(config.lsps1, Lsps1Config::default());
    assert_eq!(config.lsps1.fee_ppm, DEFAULT_FEE_PPM);
    assert_eq!(config.lsps1.payment_window_secs, DEFAULT_PAYMENT_WINDOW_SECS);
    assert!(!config.lsps1_enabled());
    // No file at all is the same as an empty one.
    assert_eq!(Config::load(None, &Overrides::default(), &Overrides::default()).expect("no file"), config);
}

#[test]
fn file_values_are_used() {
    let config = parse(
        r#"
        network = "signet"
        data_dir = "/var/lib/inbound"
        [node]
        listen = "127.0.0.1:9999"
        alias = "lsp-1"
        [chain]
        user = "rpc"
        password = "hunter2"
        poll_interval_secs = 2
        [lsps]
        enabled = ["lsps0", "lsps0"]
        [limits]
        max_pending_per_peer = 3
        max_pending_total = 30
        lsps_queue_per_peer = 4
        lsps_queue_total = 40
        "#,
    )
    .expect("valid file");
    assert_eq!(config.network, Network::Signet);
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/inbound"));
    assert_eq!(config.node.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(config.node.alias, "lsp-1");
    // The default URL follows the network.
    assert_eq!(config.chain.url.as_str(), "http://127.0.0.1:38332/");
    assert_eq!(config.chain.auth, ChainAuth::UserPassword { user: "rpc".into(), password: "hunter2".into() });
    assert_eq!(config.chain.poll_interval_secs, 2);
    // LSPS0 is implied and never listed.
    assert!(config.lsps.enabled.is_empty());
    assert_eq!(
        (
            config.limits.max_pending_per_peer,
            config.limits.max_pending_total,
            config.limits.lsps_queue_per_peer,
            config.limits.lsps_queue_total
        ),
        (3, 30, 4, 40)
    );
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let file_text = r#"
        network = "signet"
        data_dir = "from-file"
        [node]
        listen = "127.0.0.1:1111"
        [chain]
        url = "http://file:1/"
    "#;
    let file = || FileConfig::parse(file_text, "test.toml").expect("file");
    let environment = env(&[
        ("INBOUND_NETWORK", "testnet"),
        ("INBOUND_DATA_DIR", "from-env"),
        ("INBOUND_LISTEN", "127.0.0.1:2222"),
        ("INBOUND_CHAIN_URL", "http://env:2/"),
    ]);
    let flags = Overrides {
        network: Some("bitcoin".into()),
        data_dir: Some("from-flag".into()),
        listen: Some("127.0.0.1:3333".into()),
        chain_url: Some("http://flag:3/".into()),
        ..Overrides::default()
    };
    let none = Overrides::default();

    let from_file = Config::resolve(file(), "test.toml", &none, &none).expect("file only");
    assert_eq!(
        (from_file.network, from_file.data_dir.as_path(), from_file.node.listen.port(), from_file.chain.url.as_str()),
        (Network::Signet, Path::new("from-file"), 1111, "http://file:1/")
    );
    let from_env = Config::resolve(file(), "test.toml", &environment, &none).expect("env over file");
    assert_eq!(
        (from_env.network, from_env.data_dir.as_path(), from_env.node.listen.port(), from_env.chain.url.as_str()),
        (Network::Testnet, Path::new("from-env"), 2222, "http://env:2/")
    );
    let from_flags = Config::resolve(file(), "test.toml", &environment, &flags).expect("flags over env");
    assert_eq!(
        (
            from_flags.network,
            from_flags.data_dir.as_path(),
            from_flags.node.listen.port(),
            from_flags.chain.url.as_str()
        ),
        (Network::Bitcoin, Path::new("from-flag"), 3333, "http://flag:3/")
    );
    // Keys without a flag or variable keep their file value under every layer.
    assert_eq!(from_flags.node.alias, DEFAULT_ALIAS);
    // An empty variable counts as unset.
    let empty = env(&[("INBOUND_NETWORK", "")]);
    assert_eq!(Config::resolve(file(), "test.toml", &empty, &none).expect("empty var").network, Network::Signet);
}

#[test]
fn bad_overrides_name_the_key_and_the_variable_or_flag() {
    let none = Overrides::default();
    let error = Config::resolve(FileConfig::default(), "f", &env(&[("INBOUND_NETWORK", "mainnet")]), &none)
        .expect_err("bad env network");
    assert_eq!(error.key(), Some("network"));
    assert!(error.to_string().contains("INBOUND_NETWORK"), "{error}");
    let flags = Overrides { listen: Some("localhost".into()), ..Overrides::default() };
    let error = Config::resolve(FileConfig::default(), "f", &none, &flags).expect_err("bad flag listen");
    assert_eq!(error.key(), Some("node.listen"));
    assert!(error.to_string().contains("--listen"), "{error}");
    let error = Config::resolve(FileConfig::default(), "f", &env(&[("INBOUND_CHAIN_URL", "ftp://x/")]), &none)
        .expect_err("bad env url");
    assert_eq!(error.key(), Some("chain.url"));
    assert!(error.to_string().contains("INBOUND_CHAIN_URL"), "{error}");
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    assert_rejected("colour = \"blue\"", "colour", "unknown field");
    assert_rejected("[chain]\nurll = \"http://x/\"", "chain.urll", "unknown field");
    assert_rejected("[metrics]\nport = 1", "metrics", "unknown field");
    assert_rejected("[limits]\nmax_pending = 1", "limits.max_pending", "unknown field");
}

#[test]
fn values_of_the_wrong_type_are_rejected_by_name() {
    assert_rejected("data_dir = 5", "data_dir", "invalid type");
    assert_rejected("[chain]\npoll_interval_secs = \"five\"", "chain.poll_interval_secs", "invalid type");
    assert_rejected("[limits]\nmax_pending_total = -1", "limits.max_pending_total", "invalid value");
    assert_rejected("[lsps]\nenabled = \"lsps2\"", "lsps.enabled", "invalid type");
    // The line is part of the message.
    assert_rejected("\n\n[node]\nalias = 7", "node.alias", "line 4");
}

#[test]
fn misspelt_names_are_rejected_by_name() {
    assert_rejected("network = \"mainnet\"", "network", "expected one of `regtest`, `signet`, `testnet`, `bitcoin`");
    assert_rejected("[chain]\nbackend = \"esplora\"", "chain.backend", "unknown variant");
    assert_rejected("[lsps]\nenabled = [\"lsps0\", \"lsps9\"]", "lsps.enabled[1]", "unknown variant `lsps9`");
    assert_rejected("[node]\nlisten = \"localhost:9735\"", "node.listen", "socket address");
}

#[test]
fn lsps5_can_be_enabled_and_its_values_are_used_and_checked() {
    let config = parse("[lsps]\nenabled = [\"lsps0\", \"lsps5\", \"lsps2\"]").expect("lsps5 is available");
    assert_eq!(config.lsps.enabled, vec![Protocol::Lsps2, Protocol::Lsps5]);
    assert!(config.lsps5_enabled());
    assert_eq!(config.lsps5, Lsps5Config::default());
    let config = parse("[lsps5]\nmax_webhooks_per_client = 3\nrequire_channel_or_flow = false").expect("valid");
    assert_eq!((config.lsps5.max_webhooks_per_client, config.lsps5.require_channel_or_flow), (3, false));
    assert_rejected("[lsps5]\nmax_webhooks_per_client = 0", "lsps5.max_webhooks_per_client", "at least 1");
    assert_rejected("[lsps5]\nwebhook_retention_days = 3", "lsps5.webhook_retention_days", "at least 7");
    assert_rejected(
        "[lsps5]\ndelivery_retry_max_secs = 1",
        "lsps5.delivery_retry_max_secs",
        "delivery_retry_base_secs",
    );
    assert_rejected("[lsps5]\nextra_ca_file = \"/nonexistent/ca.pem\"", "lsps5.extra_ca_file", "not a readable file");
    assert_rejected("[lsps5]\nwebhooks = 3", "lsps5.webhooks", "unknown field");
    assert_rejected("[lsps5]\ncooldown = 3", "lsps5.cooldown", "unknown field");
}

#[test]
fn lsps1_can_be_enabled_and_its_values_are_used_and_checked() {
    let config = parse("[lsps]\nenabled = [\"lsps1\", \"lsps2\"]").expect("lsps1 is available");
    assert_eq!(config.lsps.enabled, vec![Protocol::Lsps1, Protocol::Lsps2]);
    assert!(config.lsps1_enabled());
    assert_eq!(config.lsps1, Lsps1Config::default());
    let config = parse("[lsps1]\nfee_base_sat = 2000\npayment_window_secs = 1800\ntokens = [\"VIP\"]").expect("valid");
    assert_eq!((config.lsps1.fee_base_sat, config.lsps1.payment_window_secs), (2_000, 1_800));
    assert_eq!(config.lsps1.tokens, vec!["VIP".to_string()]);
    assert_rejected("[lsps1]\nmin_lsp_balance_sat = 5\nmax_lsp_balance_sat = 4", "lsps1.min_lsp_balance_sat", "above");
    assert_rejected("[lsps1]\ninvoice_cltv_delta = 20", "lsps1.invoice_cltv_delta", "cannot hold");
    assert_rejected("[lsps1]\nmin_fee_for_0conf = 253", "lsps1.min_fee_for_0conf", "onchain_payment_confirmations");
    assert_rejected("[lsps1]\nfee_pmm = 1", "lsps1.fee_pmm", "unknown field");
    // The effective configuration renders [lsps1] and reads back the same.
    let rendered = parse("[lsps1]\nfee_ppm = 1234").expect("valid").to_redacted_toml();
    assert!(rendered.contains("[lsps1]") && rendered.contains("fee_ppm = 1234"), "{rendered}");
}

#[test]
fn compat_is_spec_by_default_and_ldk_on_request() {
    assert_eq!(parse("").expect("defaults").lsps.compat, Compat::Spec);
    let config = parse("[lsps]\ncompat = \"ldk\"").expect("valid");
    assert_eq!(config.lsps.compat, Compat::Ldk);
    assert_eq!(config.lsps.compat.error_data(), ErrorData::LdkCompat, "LSPS2's string error data comes with it");
    assert_eq!(parse("[lsps]\ncompat = \"spec\"").expect("valid").lsps.compat, Compat::Spec);
    assert_rejected("[lsps]\ncompat = \"ldk_compat\"", "lsps.compat", "unknown variant `ldk_compat`");
    assert_rejected("[lsps]\ncompat = true", "lsps.compat", "wanted string");
    // The effective configuration renders the switch and reads back the same.
    let rendered = config.to_redacted_toml();
    assert!(rendered.contains("compat = \"ldk\"") && !rendered.contains("error_data"), "{rendered}");
    assert_eq!(parse(&rendered).expect("rendered config parses").lsps.compat, Compat::Ldk);
}

#[test]
fn the_replaced_error_data_key_is_an_error_naming_lsps_compat() {
    for value in ["\"ldk_compat\"", "\"spec\"", "1"] {
        assert_rejected(&format!("[lsps]\nerror_data = {value}"), "lsps.error_data", "`lsps.compat`");
    }
    assert_rejected("[lsps]\nerror_data = \"ldk_compat\"", "lsps.error_data", "compat = \"ldk\"");
}

#[test]
fn lsps2_can_be_enabled() {
    let config = parse("[lsps]\nenabled = [\"lsps2\", \"lsps0\", \"lsps2\"]").expect("lsps2 is available");
    assert_eq!(config.lsps.enabled, vec![Protocol::Lsps2]);
    assert!(config.lsps2_enabled());
}

#[test]
fn store_url_defaults_into_the_data_dir_and_accepts_sqlite_and_postgres() {
    let config = parse("data_dir = \"/var/lib/inbound\"").expect("valid");
    assert_eq!(config.store.url, "/var/lib/inbound/inbound.sqlite");
    // The default follows a data_dir given by flag.
    let flags = Overrides { data_dir: Some("/srv/lsp".into()), ..Overrides::default() };
    let config = Config::resolve(FileConfig::default(), "test.toml", &Overrides::default(), &flags).expect("valid");
    assert_eq!(config.store.url, "/srv/lsp/inbound.sqlite");
    for url in ["/tmp/other.db", "sqlite:///tmp/x.db", "postgres://u:p@db.example/inbound", "postgresql://db/x"] {
        let config = parse(&format!("[store]\nurl = {url:?}")).expect("valid store.url");
        assert_eq!(config.store.url, url);
    }
}

#[test]
fn bad_store_urls_are_rejected_by_name() {
    assert_rejected("[store]\nurl = \"\"", "store.url", "must not be empty");
    assert_rejected("[store]\nurl = \"mysql://u:secret@db/x\"", "store.url", "\"mysql\" is not supported");
    assert_rejected("[store]\nurl = \"postgres://[bad\"", "store.url", "postgres://");
    assert_rejected("[store]\nurl = 5", "store.url", "invalid type");
    assert_rejected("[store]\npath = \"x\"", "store.path", "unknown field");
    // The rejected URL's password is not echoed.
    let error = parse("[store]\nurl = \"mysql://u:secret@db/x\"").expect_err("rejected");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn lsps2_values_are_used() {
    let config = parse(
        r#"
        [lsps2]
        valid_for_secs = 900
        min_lifetime_blocks = 1008
        max_client_to_self_delay_blocks = 144
        lsp_cltv_expiry_delta = 80
        trust = "never"
        overprovisioning_ppm = 0
        headroom_sat = 5000
        min_channel_sat = 50000
        max_channel_sat = 2000000
        min_fee_open_weight_wu = 800
        min_fee_multiplier = 3
        max_open_buys_per_client = 2
        max_unpaid_channels_per_client = 1
        mpp_timeout_secs = 120
        client_wait_secs = 10
        open_timeout_secs = 30
        claim_timeout_secs = 60
        unpaid_channel_grace_secs = 3600
        max_open_attempts = 2
        max_parts = 8
        [[lsps2.fee_tiers]]
        min_fee_msat = 1000000
        proportional_ppm = 1000
        min_payment_size_msat = 1000000
        max_payment_size_msat = 50000000
        [[lsps2.token_menus.vip]]
        min_fee_msat = 500000
        proportional_ppm = 500
        min_payment_size_msat = 1000000
        max_payment_size_msat = 50000000
        "#,
    )
    .expect("valid [lsps2]");
    let lsps2 = &config.lsps2;
    let tier = |min_fee_msat, proportional| FeeTier {
        min_fee_msat,
        proportional,
        min_payment_size_msat: 1_000_000,
        max_payment_size_msat: 50_000_000,
    };
    assert_eq!(lsps2.public_menu, vec![tier(1_000_000, 1000)]);
    assert_eq!(lsps2.token_menus.get("vip"), Some(&vec![tier(500_000, 500)]));
    assert_eq!(
        (lsps2.valid_for_secs, lsps2.min_lifetime_blocks, lsps2.max_client_to_self_delay_blocks),
        (900, 1008, 144)
    );
    assert_eq!((lsps2.lsp_cltv_expiry_delta, lsps2.trust), (80, TrustMode::Never));
    let sizing = &lsps2.sizing;
    assert_eq!(
        (sizing.overprovisioning_ppm, sizing.headroom_sat, sizing.min_channel_sat, sizing.max_channel_sat),
        (0, 5000, 50_000, 2_000_000)
    );
    assert_eq!((lsps2.min_fee_open_weight_wu, lsps2.min_fee_multiplier), (800, 3));
    assert_eq!((lsps2.max_open_buys_per_client, lsps2.max_unpaid_channels_per_client), (2, 1));
    let policy = &lsps2.policy;
    assert_eq!(
        (
            policy.mpp_timeout_secs,
            policy.client_wait_secs,
            policy.open_timeout_secs,
            policy.claim_timeout_secs,
            policy.unpaid_channel_grace_secs,
            policy.max_open_attempts,
            policy.max_parts
        ),
        (120, 10, 30, 60, 3600, 2, 8)
    );
    // Keys left out keep their defaults.
    let partial = parse("[lsps2]\ntrust = \"always\"").expect("valid");
    assert_eq!(partial.lsps2, Lsps2Config { trust: TrustMode::Always, ..Lsps2Config::default() });
}

#[test]
fn bad_lsps2_values_are_rejected_by_name() {
    // Unknown keys, wrong types, misspelt names.
    assert_rejected("[lsps2]\nvalid_for = 900", "lsps2.valid_for", "unknown field");
    assert_rejected("[lsps2]\nvalid_for_secs = \"long\"", "lsps2.valid_for_secs", "invalid type");
    assert_rejected("[lsps2]\nmax_channel_sat = -1", "lsps2.max_channel_sat", "invalid value");
    assert_rejected("[lsps2]\ntrust = \"sometimes\"", "lsps2.trust", "unknown variant `sometimes`");
    assert_rejected(
        "[[lsps2.fee_tiers]]\nmin_fee_msat = 1\nproportional_ppm = 1\nmin_payment_size_msat = 1",
        "lsps2.fee_tiers[0]",
        "missing field `max_payment_size_msat`",
    );
    assert_rejected(
        "[[lsps2.fee_tiers]]\nmin_fee_msat = 1\nproportional = 1\nmin_payment_size_msat = 1\nmax_payment_size_msat = 2",
        "lsps2.fee_tiers[0].proportional",
        "unknown field",
    );
    // Out of range, checked here or by the service's own validation.
    assert_rejected("[lsps2]\nvalid_for_secs = 599", "lsps2.valid_for_secs", "at least 600");
    assert_rejected("[lsps2]\nlsp_cltv_expiry_delta = 70000", "lsps2.lsp_cltv_expiry_delta", "16 bits");
    assert_rejected("[lsps2]\nlsp_cltv_expiry_delta = 0", "lsps2.lsp_cltv_expiry_delta", "at least 1");
    assert_rejected(
        "[lsps2]\nmax_client_to_self_delay_blocks = 70000",
        "lsps2.max_client_to_self_delay_blocks",
        "16 bits",
    );
    assert_rejected("[lsps2]\nmin_channel_sat = 0", "lsps2.min_channel_sat", "min_channel_sat");
    assert_rejected(
        &format!("[lsps2]\nmin_channel_sat = {}", DEFAULT_MAX_CHANNEL_SAT + 1),
        "lsps2.min_channel_sat",
        "max_channel_sat",
    );
    assert_rejected("[lsps2]\nmpp_timeout_secs = 89", "lsps2.mpp_timeout_secs", "at least 90");
    assert_rejected("[lsps2]\nmax_parts = 0", "lsps2.max_parts", "at least 1");
    assert_rejected("[lsps2]\nopen_timeout_secs = 0", "lsps2.open_timeout_secs", "at least 1");
    assert_rejected("[lsps2]\nmax_open_buys_per_client = 0", "lsps2.max_open_buys_per_client", "at least 1");
    // Tiers: an empty size range, and a menu out of bLIP-52's order.
    let tier = |min_fee: u64, ppm: u32, min: u64, max: u64| {
        format!(
            "min_fee_msat = {min_fee}\nproportional_ppm = {ppm}\nmin_payment_size_msat = {min}\nmax_payment_size_msat = {max}\n"
        )
    };
    assert_rejected(
        &format!("[[lsps2.fee_tiers]]\n{}", tier(1_000, 1, 5_000_000, 1_000_000)),
        "lsps2.fee_tiers[0].min_payment_size_msat",
        "exceeds max_payment_size_msat",
    );
    assert_rejected(
        &format!(
            "[[lsps2.fee_tiers]]\n{}[[lsps2.fee_tiers]]\n{}",
            tier(5_000_000, 5_000, 1_000_000, 100_000_000),
            tier(2_000_000, 4_000, 1_000_000, 100_000_000)
        ),
        "lsps2.fee_tiers",
        "menu public",
    );
    assert_rejected(
        &format!(
            "[[lsps2.token_menus.vip]]\n{}[[lsps2.token_menus.vip]]\n{}",
            tier(5_000_000, 5_000, 1_000_000, 100_000_000),
            tier(2_000_000, 4_000, 1_000_000, 100_000_000)
        ),
        "lsps2.token_menus.vip",
        "menu vip",
    );
    assert_rejected("[lsps2.token_menus]\nvip = []", "lsps2.token_menus.vip", "at least one tier");
}

#[test]
fn out_of_range_values_are_rejected_by_name() {
    assert_rejected("[chain]\npoll_interval_secs = 0", "chain.poll_interval_secs", "at least 1");
    assert_rejected("[limits]\nlsps_queue_total = 0", "limits.lsps_queue_total", "at least 1");
    assert_rejected(
        "[limits]\nmax_pending_per_peer = 11\nmax_pending_total = 10",
        "limits.max_pending_per_peer",
        "limits.max_pending_total",
    );
    assert_rejected("[limits]\nlsps_queue_per_peer = 5000", "limits.lsps_queue_per_peer", "limits.lsps_queue_total");
    assert_rejected("[node]\nalias = \"\"", "node.alias", "1 to 32 bytes");
    assert_rejected(&format!("[node]\nalias = \"{}\"", "x".repeat(33)), "node.alias", "1 to 32 bytes");
    assert_rejected(
        "[node]\nmax_inbound_htlc_in_flight_percent = 0",
        "node.max_inbound_htlc_in_flight_percent",
        "1 to 100",
    );
    assert_rejected(
        "[node]\nmax_inbound_htlc_in_flight_percent = 101",
        "node.max_inbound_htlc_in_flight_percent",
        "1 to 100",
    );
    assert_eq!(parse("").expect("defaults").node.max_inbound_htlc_in_flight_percent, 100);
    assert_eq!(
        parse("[node]\nmax_inbound_htlc_in_flight_percent = 25").expect("set").node.max_inbound_htlc_in_flight_percent,
        25
    );
    assert_rejected("data_dir = \"\"", "data_dir", "empty");
}

#[test]
fn chain_urls_and_credentials_are_checked() {
    assert_rejected("[chain]\nurl = \"https://node:8332/\"", "chain.url", "http://");
    assert_rejected("[chain]\nurl = \"not a url\"", "chain.url", "not a URL");
    assert_rejected("[chain]\nuser = \"rpc\"", "chain.user", "chain.password");
    assert_rejected("[chain]\npassword = \"secret\"", "chain.password", "chain.user");
    assert_rejected(
        "[chain]\nuser = \"rpc\"\npassword = \"secret\"\ncookie_file = \"/c\"",
        "chain.cookie_file",
        "cannot be combined",
    );
    assert_rejected("[chain]\nurl = \"http://a:b@host:1/\"\nuser = \"rpc\"", "chain.url", "carries credentials");
    let in_url = parse("[chain]\nurl = \"http://a:b@host:1/\"").expect("credentials in the URL");
    assert_eq!(in_url.chain.auth, ChainAuth::InUrl);
    let cookie = parse("[chain]\ncookie_file = \"/c\"").expect("cookie");
    assert_eq!(cookie.chain.auth, ChainAuth::CookieFile("/c".into()));
}

#[test]
fn syntax_errors_and_missing_files_are_reported() {
    match parse("network = ") {
        Err(ConfigError::Syntax { message, .. }) => assert!(message.contains("line 1"), "{message}"),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let missing = Path::new("/nonexistent/inbound.toml");
    match Config::load(Some(missing), &Overrides::default(), &Overrides::default()) {
        Err(error @ ConfigError::Read { .. }) => assert!(error.to_string().contains("/nonexistent/inbound.toml")),
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn printed_configuration_hides_secrets_and_reads_back() {
    let with_password = parse("[chain]\nuser = \"rpc\"\npassword = \"hunter2\"").expect("valid");
    let printed = with_password.to_redacted_toml();
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains(REDACTED) && printed.contains("user = \"rpc\""), "{printed}");
    assert!(!format!("{with_password:?}").contains("hunter2"), "Debug leaks the password");

    let in_url = parse("[chain]\nurl = \"http://rpc:hunter2@127.0.0.1:18443/\"").expect("valid");
    let printed = in_url.to_redacted_toml();
    assert!(!printed.contains("hunter2") && printed.contains("rpc:REDACTED@"), "{printed}");

    let postgres = parse("[store]\nurl = \"postgres://inbound:hunter2@db.example:5432/inbound\"").expect("valid");
    let printed = postgres.to_redacted_toml();
    assert!(!printed.contains("hunter2") && printed.contains("inbound:REDACTED@db.example"), "{printed}");
    assert!(!format!("{postgres:?}").contains("hunter2"), "Debug leaks the store password");

    // Without secrets, the printed configuration is a file that means the same thing.
    let config =
        parse("network = \"bitcoin\"\n[chain]\ncookie_file = \"/c\"\n[limits]\nlsps_queue_total = 77").expect("valid");
    assert_eq!(parse(&config.to_redacted_toml()).expect("printed config parses"), config);
    let with_lsps2 = parse(
        "[lsps]\nenabled = [\"lsps2\"]\n[lsps2]\ntrust = \"always\"\n[[lsps2.token_menus.\"a b\"]]\n\
         min_fee_msat = 1\nproportional_ppm = 1\nmin_payment_size_msat = 2\nmax_payment_size_msat = 3",
    )
    .expect("valid");
    assert_eq!(parse(&with_lsps2.to_redacted_toml()).expect("printed config parses"), with_lsps2);
}

#[test]
fn the_admin_api_stays_on_loopback_unless_allowed() {
    let default = parse("").expect("defaults");
    assert!(default.admin.enabled);
    assert_eq!(default.admin.listen.to_string(), inbound_admin::DEFAULT_LISTEN);
    assert_eq!(default.admin_key_path(), default.data_dir.join("admin.key"));
    assert_rejected("[admin]\nlisten = \"0.0.0.0:9781\"", "admin.listen", "not a loopback address");
    let allowed = parse("[admin]\nlisten = \"0.0.0.0:9781\"\nallow_remote = true\nkey_file = \"/etc/inbound/key\"")
        .expect("allowed");
    assert_eq!(allowed.admin_key_path(), std::path::PathBuf::from("/etc/inbound/key"));
    assert_rejected("[admin]\nlisten = \"127.0.0.1:1\"\nport = 2", "admin.port", "unknown field");
    let flagged = Config::resolve(
        FileConfig::default(),
        "test.toml",
        &env(&[("INBOUND_ADMIN_LISTEN", "127.0.0.1:4444")]),
        &Overrides { admin_listen: Some("[::1]:5555".into()), ..Overrides::default() },
    )
    .expect("flags");
    assert_eq!(flagged.admin.listen.to_string(), "[::1]:5555", "the flag beats the variable");
    let from_env = Config::resolve(
        FileConfig::default(),
        "test.toml",
        &env(&[("INBOUND_ADMIN_LISTEN", "10.0.0.1:1")]),
        &Overrides::default(),
    );
    let error = from_env.expect_err("a remote address from the environment");
    assert_eq!(error.key(), Some("admin.listen"));
    assert!(error.to_string().contains("INBOUND_ADMIN_LISTEN"), "names where it came from: {error}");
}

#[test]
fn every_key_can_come_from_the_environment_and_secrets_from_files() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("inbound.toml");
    std::fs::write(&file, "[lsps1]\nfee_ppm = 100\n[chain]\nuser = \"rpc\"\npassword = \"from-the-file\"\n")
        .expect("write");
    let secret = dir.path().join("rpc-password");
    std::fs::write(&secret, "hunter2\n").expect("write");
    let keys = |pairs: &[(&str, &str)]| {
        Overrides::default().with_keys(pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())))
    };
    let generic = [
        ("INBOUND__LSPS1__FEE_PPM", "7000"),
        ("INBOUND__CHAIN__PASSWORD__FILE", secret.to_str().expect("utf-8")),
        ("INBOUND__ADMIN__MAX_CHAIN_LAG_BLOCKS", "5"),
        ("INBOUND__LSPS__ENABLED", "[\"lsps1\"]"),
        ("INBOUND__NODE__LISTEN", "127.0.0.1:1111"),
    ];
    let env = env(&[("INBOUND_LISTEN", "127.0.0.1:2222")])
        .with_keys(generic.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
    let config = Config::load(Some(&file), &env, &Overrides::default()).expect("loads");
    assert_eq!(config.lsps1.fee_ppm, 7000, "the environment beats the file");
    assert_eq!(config.admin.max_chain_lag_blocks, 5);
    assert_eq!(config.lsps.enabled, [Protocol::Lsps1]);
    assert_eq!(config.node.listen.port(), 2222, "a named variable beats the generic one");
    assert!(
        matches!(&config.chain.auth, ChainAuth::UserPassword { password, .. } if password == "hunter2"),
        "the secret comes from its file: {:?}",
        config.chain.auth
    );
    // Without a file, the environment alone.
    let alone = Config::load(None, &keys(&[("INBOUND__HTTP__ENABLED", "true")]), &Overrides::default()).expect("loads");
    assert!(alone.http.enabled);
    // A bad value names its key and its variable.
    let error = Config::load(Some(&file), &keys(&[("INBOUND__LSPS1__FEE_PPM", "lots")]), &Overrides::default())
        .expect_err("not a number");
    assert_eq!(error.key(), Some("lsps1.fee_ppm"));
    assert!(error.to_string().contains("INBOUND__LSPS1__FEE_PPM"), "{error}");
    let unknown = Config::load(None, &keys(&[("INBOUND__LSPS1__COLOUR", "red")]), &Overrides::default());
    assert!(unknown.expect_err("unknown key").to_string().contains("INBOUND__LSPS1__COLOUR"));
}

#[test]
fn lnurl_needs_both_keys_http_and_lsps1_and_checks_them() {
    let served = "[lsps]\nenabled = [\"lsps1\"]\n[http]\nenabled = true\n";
    let config = parse(&format!(
        "{served}[lnurl]\npublic_url = \"https://lsp.example/base\"\nnode_address = \"lsp.example:9735\""
    ))
    .expect("a complete [lnurl]");
    assert_eq!(config.lnurl.public_url.as_ref().map(|url| url.as_str()), Some("https://lsp.example/base"));
    assert_eq!(config.lnurl.node_address.as_deref(), Some("lsp.example:9735"));
    assert_eq!(parse(served).expect("no [lnurl]").lnurl, inbound::config::LnurlSettings::default());
    let address = "node_address = \"lsp.example:9735\"";
    assert_rejected(
        &format!("{served}[lnurl]\npublic_url = \"https://lsp.example\""),
        "lnurl.public_url",
        "or neither",
    );
    assert_rejected(&format!("{served}[lnurl]\n{address}"), "lnurl.public_url", "or neither");
    assert_rejected(
        &format!("{served}[lnurl]\npublic_url = \"ftp://lsp.example\"\n{address}"),
        "lnurl.public_url",
        "https://",
    );
    assert_rejected(
        &format!("{served}[lnurl]\npublic_url = \"https://lsp.example/?a=1\"\n{address}"),
        "lnurl.public_url",
        "no query",
    );
    assert_rejected(
        &format!("{served}[lnurl]\npublic_url = \"not a url\"\n{address}"),
        "lnurl.public_url",
        "not a url",
    );
    assert_rejected(
        &format!("{served}[lnurl]\npublic_url = \"https://lsp.example\"\nnode_address = \"lsp.example\""),
        "lnurl.node_address",
        "host:port",
    );
    let lnurl = format!("[lnurl]\npublic_url = \"https://lsp.example\"\n{address}");
    assert_rejected(&format!("[http]\nenabled = true\n{lnurl}"), "lnurl.public_url", "lsps1");
    assert_rejected(&format!("[lsps]\nenabled = [\"lsps1\"]\n{lnurl}"), "lnurl.public_url", "[http] enabled");
    assert_rejected(&format!("{served}[lnurl]\npublic = \"x\""), "lnurl.public", "unknown field");
}

#[test]
fn the_widget_needs_http_lsps1_and_no_signatures_and_checks_its_origins() {
    let served = "[lsps]\nenabled = [\"lsps1\"]\n[http]\nenabled = true\n";
    let config = parse(&format!("{served}[web]\nenabled = true\nframe_ancestors = [\"https://shop.example\"]"))
        .expect("a widget");
    assert!(config.web.enabled);
    assert_eq!(config.web.config.frame_ancestors, ["https://shop.example"]);
    assert!(!parse(served).expect("no [web]").web.enabled, "off by default");
    assert_rejected("[lsps]\nenabled = [\"lsps1\"]\n[web]\nenabled = true", "web.enabled", "[http] enabled");
    assert_rejected("[http]\nenabled = true\n[web]\nenabled = true", "web.enabled", "lsps1");
    assert_rejected(
        &format!("{served}require_node_signature = true\n[web]\nenabled = true"),
        "web.enabled",
        "cannot sign",
    );
    for bad in
        ["*", "https://shop.example/", "https://a.example; script-src *", "shop.example", "https://x.example/path"]
    {
        assert_rejected(
            &format!("{served}[web]\nenabled = true\nframe_ancestors = [\"https://ok.example\", {bad:?}]"),
            "web.frame_ancestors[1]",
            "not an origin",
        );
    }
}
