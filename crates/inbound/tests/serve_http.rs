//! `inbound serve` with `[http]` enabled, as a real child process against a bcoin regtest chain:
//! it logs the bound HTTP address (port 0), answers `lsps0.list_protocols` over a real HTTP POST
//! and refuses a bound method without a node id, and stops cleanly on SIGTERM.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{field, inbound, write_file, Daemon};
use inbound_regtest::Bcoin;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 POST over a fresh connection; the status line and the body.
async fn post(address: SocketAddr, path: &str, body: &Value) -> (String, String) {
    let body = serde_json::to_vec(body).expect("json");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect to the HTTP endpoint");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&body).await.expect("write body");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read answer");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_over_http_and_stops_on_sigterm() {
    let started = Instant::now();
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
             [chain]\nurl = {:?}\npoll_interval_secs = 1\n\
             [http]\nenabled = true\nlisten = \"127.0.0.1:0\"\npath = \"/v1/lsps\"\ntrust_forwarded_for = [\"127.0.0.1\"]\n\
             require_node_signature = true\n",
            dir.path().join("lsp").display().to_string(),
            bcoin.rpc_url()
        ),
    );
    let mut command = inbound();
    command.arg("serve").arg("--config").arg(&config);
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("HTTP endpoint listening", START_TIMEOUT);
    let address: SocketAddr = field(&line, "http_listen")
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no http_listen= in {line:?}"));
    assert_ne!(address.port(), 0, "the bound port is logged, not the configured 0");
    let started_line = daemon.wait_for_line("LSP started", START_TIMEOUT);
    let lsp = format!(
        "{}@{}",
        field(&started_line, "node_id").expect("node_id="),
        field(&started_line, "listen").expect("listen=")
    );

    let (status, body) = post(
        address,
        "/v1/lsps",
        &json!({"jsonrpc": "2.0", "id": "h1", "method": "lsps0.list_protocols", "params": {}}),
    )
    .await;
    assert!(status.contains("200"), "{status} {body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON-RPC answer");
    assert_eq!(answer, json!({"jsonrpc": "2.0", "id": "h1", "result": {"protocols": []}}));
    // LSPS2 is not served, so lsps2.get_info is -32601 even without a node id.
    let (_, body) =
        post(address, "/v1/lsps", &json!({"jsonrpc": "2.0", "id": "h2", "method": "lsps2.get_info", "params": {}}))
            .await;
    let answer: Value = serde_json::from_str(&body).expect("JSON-RPC answer");
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    // `inbound client order --http`: a wallet node connects, then signs its HTTP calls. A bad
    // proof would be -32602; the LSP answers -32601 (LSPS1 is not served), so the proof passed.
    let url = format!("http://{address}/v1/lsps");
    let output = inbound()
        .args(["client", "order", "--lsp", &lsp, "--http", &url, "--lsp-balance-sat", "100000"])
        .args(["--chain-url", bcoin.rpc_url()])
        .output()
        .expect("run inbound client order");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("lsps1.get_info") && stderr.contains("-32601"), "{stderr}");

    daemon.terminate();
    let status = daemon.wait_exit(STOP_TIMEOUT);
    let log = daemon.log.join("\n");
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(daemon.log.iter().any(|line| line.contains("HTTP endpoint stopped")), "{log}");
    assert!(daemon.log.iter().any(|line| line.contains("LSP stopped, state persisted")), "{log}");
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the HTTP port is closed after exit");
    println!("serve_answers_over_http_and_stops_on_sigterm took {:?}", started.elapsed());
}

#[test]
fn serve_refuses_a_bad_http_configuration_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(dir.path(), "inbound.toml", "[http]\ntrust_forwarded_for = [\"not-an-ip\"]\n");
    let output = inbound().arg("serve").arg("--config").arg(&config).output().expect("run inbound serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`http.trust_forwarded_for[0]`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_endpoint_even_with_an_idle_connection_open() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(
        dir.path(),
        "inbound.toml",
        &format!(
            "data_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n[chain]\nurl = {:?}\npoll_interval_secs = 1\n",
            dir.path().join("lsp").display().to_string(),
            bcoin.rpc_url()
        ),
    );
    // Enabled by the flags this time.
    let mut command = inbound();
    command.arg("serve").arg("--config").arg(&config).args(["--http", "true", "--http-listen", "127.0.0.1:0"]);
    let mut daemon = Daemon::spawn(command);
    let line = daemon.wait_for_line("HTTP endpoint listening", START_TIMEOUT);
    let address: SocketAddr = field(&line, "http_listen").and_then(|text| text.parse().ok()).expect("http_listen=");
    daemon.wait_for_line("LSP started", START_TIMEOUT);
    let (status, _) =
        post(address, "/lsps", &json!({"jsonrpc": "2.0", "id": 1, "method": "lsps0.list_protocols", "params": {}}))
            .await;
    assert!(status.contains("200"), "{status}");
    let _idle = tokio::net::TcpStream::connect(address).await.expect("an idle connection");

    let pid = libc::pid_t::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped) touches no memory.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "kill -INT {pid}");
    let status = daemon.wait_exit(STOP_TIMEOUT);
    let log = daemon.log.join("\n");
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("signal=SIGINT") || log.contains("SIGINT"), "{log}");
    assert!(log.contains("HTTP endpoint stopped"), "drained without hitting the timeout:\n{log}");
    assert!(!log.contains("did not finish in time"), "{log}");
}
