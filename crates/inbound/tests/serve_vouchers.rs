//! Prepaid channel vouchers end to end, as an operator and a wallet use them: `inbound serve`
//! (LSPS1, the HTTP front end, `[lnurl]`) on a bcoin regtest chain; `inbound admin voucher
//! create` writes QR codes; a voucher's PNG is decoded and claimed by `inbound client
//! lnurl-channel`, which gets its channel; the same voucher is refused to a second wallet, a
//! revoked one with its reason; guessed and malformed LNURL requests get LUD errors and a flood
//! gets 429.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::inbound;
use common::lsp::{regtest_config, Serve};
use inbound_regtest::Bcoin;
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// The text of the QR code in a PNG file.
fn decode_qr(path: &Path) -> String {
    let image = image::open(path).expect("the PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in {}", path.display());
    grids[0].decode().expect("a readable QR code").1
}

/// Runs `inbound client lnurl-channel` to completion while mining a block a second, so that the
/// channel it waits for confirms.
async fn claim(bcoin: &Bcoin, lnurl: &str, data_dir: &Path) -> Output {
    let mut command = inbound();
    command
        .args(["client", "lnurl-channel", lnurl, "--chain-url", bcoin.rpc_url(), "--wait-secs", "120", "--data-dir"])
        .arg(data_dir);
    let mut run = tokio::task::spawn_blocking(move || command.output().expect("run inbound client"));
    loop {
        tokio::select! {
            output = &mut run => return output.expect("the client thread"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                bcoin.mine(1, None).await.expect("a block");
            }
        }
    }
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON line: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_qr_code_buys_one_channel_and_nothing_else() {
    let bcoin = Bcoin::start().await.expect("bcoin regtest node");
    let dir = tempfile::tempdir().expect("tempdir");
    let (http_port, node_port) = (free_port(), free_port());
    let extra = format!(
        "[lsps]\nenabled = [\"lsps1\"]\n[http]\nenabled = true\nlisten = \"127.0.0.1:{http_port}\"\n\
         [lnurl]\npublic_url = \"http://127.0.0.1:{http_port}\"\nnode_address = \"127.0.0.1:{node_port}\"\n"
    );
    let config = regtest_config(dir.path(), bcoin.rpc_url(), &extra);
    let text =
        std::fs::read_to_string(&config).expect("config").replace("127.0.0.1:0", &format!("127.0.0.1:{node_port}"));
    std::fs::write(&config, text).expect("config");
    let lsp = Serve::start(dir.path(), &config);
    lsp.fund(&bcoin).await;

    // The operator prints three vouchers.
    let out = dir.path().join("vouchers");
    let created = lsp.admin_json(&[
        "voucher",
        "create",
        "--lsp-balance-sat",
        "200000",
        "--expiry-blocks",
        "144",
        "--count",
        "3",
        "--valid-days",
        "7",
        "--batch",
        "meetup, december",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(created["vouchers"], 3, "{created}");
    let csv = std::fs::read_to_string(out.join("vouchers.csv")).expect("the CSV");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(csv.contains("\"meetup, december\""), "the label is quoted: {csv}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("vouchers.csv")).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secrets are readable by the owner only");
    }
    // id, batch (two fields, quoted with a comma), lnurl, url, …, svg, png.
    let voucher = |row: &[&str]| (row[0].to_owned(), row[3].to_owned(), row[row.len() - 1].to_owned());
    let (first_id, first_lnurl, first_png) = voucher(&rows[0]);
    let scanned = decode_qr(&out.join(&first_png));
    assert_eq!(scanned, format!("LIGHTNING:{first_lnurl}"));
    assert!(std::fs::read_to_string(out.join(first_png.replace(".png", ".svg"))).expect("svg").contains("<svg"));
    // The admin list shows them issued; a second create into the same directory is refused
    // before anything is issued.
    let listed = lsp.admin_json(&["voucher", "list", "--state", "issued"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    let again = lsp.admin(&[
        "voucher",
        "create",
        "--lsp-balance-sat",
        "200000",
        "--expiry-blocks",
        "144",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    assert_eq!(lsp.admin_json(&["voucher", "list"]).as_array().map(Vec::len), Some(3));

    // A wallet scans the first voucher and gets its channel.
    let wallet = dir.path().join("wallet");
    let output = claim(&bcoin, &scanned, &wallet).await;
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    let accepted = lines.iter().find(|line| line["event"] == "accepted").expect("accepted");
    assert_eq!(accepted["lsp"], lsp.node_id.to_string());
    let ready = lines.last().expect("a line");
    assert_eq!(
        (ready["event"].as_str(), ready["ready"].as_bool(), ready["capacity_sat"].as_u64()),
        (Some("channel"), Some(true), Some(200_000))
    );
    let claimed = lsp.admin_json(&["voucher", "list", "--state", "claimed"]);
    let claimed = &claimed.as_array().expect("list")[0];
    assert_eq!((claimed["id"].as_str(), &claimed["client"]), (Some(first_id.as_str()), &accepted["node_id"]));
    let order = lsp.admin_json(&["order", claimed["order_id"].as_str().expect("order id")]);
    assert_eq!(order["state"], "completed", "{order}");
    assert_eq!(order["payment"], "voucher", "{order}");

    // The same QR code again, from another wallet: refused, nothing opened.
    let output = claim(&bcoin, &scanned, &dir.path().join("thief")).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("already been claimed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A revoked voucher is refused with its reason; revoking twice is a conflict (exit 4).
    let (second_id, second_lnurl, _) = voucher(&rows[1]);
    assert_eq!(lsp.admin_json(&["voucher", "revoke", &second_id])["state"], "revoked");
    assert_eq!(lsp.admin(&["voucher", "revoke", &second_id]).status.code(), Some(4));
    let output = claim(&bcoin, &second_lnurl, &dir.path().join("late")).await;
    assert!(String::from_utf8_lossy(&output.stderr).contains("revoked"), "{}", String::from_utf8_lossy(&output.stderr));

    // Hostile requests: a guessed k1, a malformed callback, then a flood.
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http_port}");
    let guess: Value =
        http.get(format!("{base}/lnurlc/{}", "ab".repeat(32))).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(guess, serde_json::json!({ "status": "ERROR", "reason": "unknown voucher" }));
    let bad: Value = http
        .get(format!("{base}/lnurlc/callback?k1=zz&remoteid=02"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(bad["status"], "ERROR");
    let mut limited = false;
    for _ in 0..60 {
        let status = http.get(format!("{base}/lnurlc/{}", "cd".repeat(32))).send().await.expect("GET").status();
        limited |= status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "a flood from one IP is rate limited");
    // The third voucher is untouched by all of it.
    let issued = lsp.admin_json(&["voucher", "list", "--state", "issued"]);
    assert_eq!(issued.as_array().map(Vec::len), Some(1), "{issued}");
}
