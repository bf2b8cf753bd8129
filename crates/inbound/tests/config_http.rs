//! The `[http]` table: defaults, file values, variables and flags, and one test per kind of bad
//! value, each checking that the error names the key.

use std::collections::HashMap;
use std::time::Duration;

use inbound::config::{Config, ConfigError, FileConfig, Overrides, DEFAULT_HTTP_LISTEN};
use inbound_http::HttpConfig;

fn parse_with(text: &str, env: &Overrides, cli: &Overrides) -> Result<Config, ConfigError> {
    let file = FileConfig::parse(text, "test.toml")?;
    Config::resolve(file, "test.toml", env, cli)
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with(text, &Overrides::default(), &Overrides::default())
}

fn env(pairs: &[(&str, &str)]) -> Overrides {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Overrides::from_env(|name| map.get(name).cloned())
}

#[track_caller]
fn assert_rejected(result: Result<Config, ConfigError>, key: &str, needle: &str) {
    match result {
        Ok(config) => panic!("accepted {:?}", config.http),
        Err(error) => {
            assert_eq!(error.key(), Some(key), "wrong key in: {error}");
            let shown = error.to_string();
            assert!(shown.contains(&format!("`{key}`")), "the message does not name the key: {shown}");
            assert!(shown.contains(needle), "{shown:?} does not contain {needle:?}");
        }
    }
}

#[test]
fn http_is_off_by_default_with_the_transport_defaults() {
    let config = parse("").expect("defaults");
    assert!(!config.http.enabled);
    assert_eq!(config.http.listen.to_string(), DEFAULT_HTTP_LISTEN);
    assert_eq!(config.http.config, HttpConfig::default());
    assert!(config.http.config.trusted_proxies.is_empty());
    assert!(!config.http.config.require_node_signature);
}

#[test]
fn file_values_are_used() {
    let config = parse(
        r#"
        [http]
        enabled = true
        listen = "0.0.0.0:0"
        path = "/v1/lsps"
        max_body_bytes = 4096
        rate_burst = 3
        rate_per_second = 2
        max_tracked_ips = 50
        body_timeout_secs = 4
        cors_origins = ["https://wallet.example"]
        trust_forwarded_for = ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]
        require_node_signature = true
        "#,
    )
    .expect("valid [http]");
    let http = &config.http;
    assert!(http.enabled);
    assert_eq!(http.listen.to_string(), "0.0.0.0:0");
    assert_eq!(http.config.path, "/v1/lsps");
    assert_eq!(http.config.max_body_bytes, 4096);
    assert_eq!((http.config.rate_burst, http.config.rate_per_second, http.config.max_tracked_ips), (3, 2, 50));
    assert_eq!(http.config.body_timeout, Duration::from_secs(4));
    assert_eq!(http.config.cors_allowed_origins, vec!["https://wallet.example".to_string()]);
    assert_eq!(http.config.trusted_proxies.len(), 3);
    assert!(http.config.trusted_proxies[1].contains("10.20.30.40".parse().unwrap()));
    assert!(http.config.require_node_signature);
    // config-check prints it back, and the printed file means the same.
    let printed = config.to_redacted_toml();
    assert!(printed.contains("[http]") && printed.contains("trust_forwarded_for"), "{printed}");
    let reparsed = parse(&printed).expect("printed configuration parses");
    assert_eq!(reparsed.http, config.http);
}

#[test]
fn variables_override_the_file_and_flags_override_variables() {
    let file = "[http]\nenabled = false\nlisten = \"127.0.0.1:1111\"\n";
    let variables = env(&[("INBOUND_HTTP_ENABLED", "true"), ("INBOUND_HTTP_LISTEN", "127.0.0.1:2222")]);
    let config = parse_with(file, &variables, &Overrides::default()).expect("env");
    assert!(config.http.enabled);
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:2222");
    let flags = Overrides {
        http_enabled: Some("false".into()),
        http_listen: Some("127.0.0.1:3333".into()),
        ..Overrides::default()
    };
    let config = parse_with(file, &variables, &flags).expect("flags");
    assert!(!config.http.enabled);
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:3333");
}

#[test]
fn bad_values_name_their_key() {
    assert_rejected(
        parse("[http]\ntrust_forwarded_for = [\"10.0.0.1\", \"10.0.0.0/40\"]\n"),
        "http.trust_forwarded_for[1]",
        "CIDR",
    );
    assert_rejected(
        parse("[http]\ntrust_forwarded_for = [\"proxy.example\"]\n"),
        "http.trust_forwarded_for[0]",
        "proxy.example",
    );
    assert_rejected(parse("[http]\npath = \"lsps\"\n"), "http.path", "must start with '/'");
    assert_rejected(parse("[http]\nrate_burst = 0\n"), "http.rate_burst", "greater than zero");
    assert_rejected(parse("[http]\nmax_body_bytes = 0\n"), "http.max_body_bytes", "greater than zero");
    assert_rejected(parse("[http]\nbody_timeout_secs = 0\n"), "http.body_timeout_secs", "greater than zero");
    assert_rejected(
        parse("[http]\ncors_origins = [\"https://ok.example\", \"*\"]\n"),
        "http.cors_origins[1]",
        "not a valid origin",
    );
    assert_rejected(parse("[http]\nlisten = \"localhost\"\n"), "http.listen", "");
    assert_rejected(parse("[http]\nenabled = \"yes\"\n"), "http.enabled", "");
    assert_rejected(parse("[http]\nrequire_signature = true\n"), "http.require_signature", "unknown field");
    assert_rejected(
        parse_with("", &env(&[("INBOUND_HTTP_ENABLED", "yes")]), &Overrides::default()),
        "http.enabled",
        "INBOUND_HTTP_ENABLED",
    );
    let flags = Overrides { http_listen: Some("nowhere".into()), ..Overrides::default() };
    assert_rejected(parse_with("", &Overrides::default(), &flags), "http.listen", "--http-listen");
}
