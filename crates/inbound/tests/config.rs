//! Configuration: defaults, the annotated example, layering (flags > environment > file >
//! defaults), and one test per kind of bad configuration, each checking that the error names
//! the key. Pure: no process environment is read, the environment layer is a map.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use inbound::config::{
    default_chain_url, ChainAuth, Config, ConfigError, FileConfig, Overrides, DEFAULT_ALIAS,
    DEFAULT_CHAIN_POLL_INTERVAL_SECS, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_LSPS_QUEUE_PER_PEER,
    DEFAULT_LSPS_QUEUE_TOTAL, DEFAULT_MAX_PENDING_PER_PEER, DEFAULT_MAX_PENDING_TOTAL, DEFAULT_NETWORK, REDACTED,
};
use inbound_node::bitcoin::Network;

const EXAMPLE: &str = include_str!("../inbound.example.toml");

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
    // No file at all is the same as an empty one.
    assert_eq!(Config::load(None, &Overrides::default(), &Overrides::default()).expect("no file"), config);
}

#[test]
fn annotated_example_states_exactly_the_defaults() {
    assert_eq!(parse(EXAMPLE).expect("example parses"), parse("").expect("defaults"));
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
fn protocols_without_a_server_are_rejected_with_a_clear_reason() {
    for (name, issue) in [("lsps1", "issue 5"), ("lsps2", "issue 4"), ("lsps5", "issues 4 and 5")] {
        assert_rejected(&format!("[lsps]\nenabled = [\"{name}\"]"), "lsps.enabled[0]", "not available yet");
        assert_rejected(&format!("[lsps]\nenabled = [\"lsps0\", \"{name}\"]"), "lsps.enabled[1]", issue);
    }
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

    // Without secrets, the printed configuration is a file that means the same thing.
    let config =
        parse("network = \"bitcoin\"\n[chain]\ncookie_file = \"/c\"\n[limits]\nlsps_queue_total = 77").expect("valid");
    assert_eq!(parse(&config.to_redacted_toml()).expect("printed config parses"), config);
}

#[test]
fn readme_table_states_the_defaults() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).expect("README");
    let defaults = parse("").expect("defaults");
    let rows = [
        ("network", "\"regtest\"".to_string()),
        ("data_dir", format!("{:?}", defaults.data_dir.display().to_string())),
        ("node.listen", format!("\"{}\"", defaults.node.listen)),
        ("node.alias", format!("{:?}", defaults.node.alias)),
        ("chain.backend", "\"bitcoind\"".to_string()),
        ("chain.poll_interval_secs", defaults.chain.poll_interval_secs.to_string()),
        ("lsps.enabled", "[]".to_string()),
        ("limits.max_pending_per_peer", defaults.limits.max_pending_per_peer.to_string()),
        ("limits.max_pending_total", defaults.limits.max_pending_total.to_string()),
        ("limits.lsps_queue_per_peer", defaults.limits.lsps_queue_per_peer.to_string()),
        ("limits.lsps_queue_total", defaults.limits.lsps_queue_total.to_string()),
    ];
    for (key, value) in rows {
        let row = format!("| `{key}` | `{value}` |");
        assert!(readme.contains(&row), "README.md's Configuration table lacks {row:?}");
    }
}
