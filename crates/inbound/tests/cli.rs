//! The binary's configuration commands, run as child processes: `config-check` prints the
//! effective configuration with secrets redacted and applies the layers; bad input exits non-zero
//! with a message naming the key, the variable or the flag.

mod common;

use common::{inbound, write_file};

fn stdout_of(output: &std::process::Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn config_check_prints_the_layered_configuration_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        "network = \"signet\"\n[chain]\nuser = \"rpc\"\npassword = \"hunter2\"\n[node]\nlisten = \"127.0.0.1:1\"\n",
    );
    let output = inbound()
        .arg("config-check")
        .arg("--config")
        .arg(&config)
        .env("INBOUND_NETWORK", "testnet")
        .env("INBOUND_LISTEN", "127.0.0.1:2")
        .args(["--listen", "127.0.0.1:3"])
        .output()
        .expect("run config-check");
    let printed = stdout_of(&output);
    assert!(printed.contains("network = \"testnet\""), "the variable beats the file:\n{printed}");
    assert!(printed.contains("listen = \"127.0.0.1:3\""), "the flag beats the variable:\n{printed}");
    assert!(printed.contains("url = \"http://127.0.0.1:18332/\""), "default URL follows the network:\n{printed}");
    assert!(printed.contains("password = \"REDACTED\"") && !printed.contains("hunter2"), "{printed}");
}

#[test]
fn config_check_takes_the_file_from_inbound_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(dir.path(), "inbound.toml", "[node]\nalias = \"from-env-file\"\n");
    let output = inbound().arg("config-check").env("INBOUND_CONFIG", &config).output().expect("run config-check");
    assert!(stdout_of(&output).contains("alias = \"from-env-file\""));
}

/// One bad invocation of `config-check` and what its error must mention.
struct BadCase {
    file: &'static str,
    variables: &'static [(&'static str, &'static str)],
    flags: &'static [&'static str],
    needles: &'static [&'static str],
}

#[test]
fn config_check_rejects_bad_input_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        BadCase {
            file: "[chain]\npoll_interval_secs = \"often\"\n",
            variables: &[],
            flags: &[],
            needles: &["`chain.poll_interval_secs`", "line 2"],
        },
        BadCase {
            file: "[node]\nlisten = \"127.0.0.1:1\"\nport = 2\n",
            variables: &[],
            flags: &[],
            needles: &["`node.port`", "unknown field"],
        },
        BadCase {
            file: "",
            variables: &[("INBOUND_NETWORK", "mainnet")],
            flags: &[],
            needles: &["`network`", "INBOUND_NETWORK"],
        },
        BadCase {
            file: "",
            variables: &[],
            flags: &["--chain-url", "https://x/"],
            needles: &["`chain.url`", "--chain-url"],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let config = write_file(dir.path(), &format!("bad{index}.toml"), case.file);
        let mut command = inbound();
        command.arg("config-check").arg("--config").arg(&config).args(case.flags);
        for (name, value) in case.variables {
            command.env(name, value);
        }
        let output = command.output().expect("run config-check");
        assert!(!output.status.success(), "case {index} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for needle in case.needles {
            assert!(stderr.contains(needle), "case {index}: {needle:?} not in {stderr:?}");
        }
    }
}

#[test]
fn client_rejects_a_malformed_lsp_address() {
    let output =
        inbound().args(["client", "list-protocols", "--lsp", "not-a-node@127.0.0.1:9735"]).output().expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a node id"));
}
