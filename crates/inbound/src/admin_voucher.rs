//! `inbound admin voucher create|list|revoke`: prepaid channel vouchers. `create` writes, per
//! voucher, its LNURL-channel QR code as SVG and PNG (`LIGHTNING:LNURL1…`, upper case for the
//! QR alphanumeric mode) and one `vouchers.csv` line. These files are the only copy of the
//! vouchers' secrets (the LSP stores their hashes): they are written with mode 0600 into a new
//! or empty directory, never over an existing file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use inbound_admin::{AdminClient, IssuedView};
use qrcode::{EcLevel, QrCode};
use serde_json::{json, Value};

/// `inbound admin voucher …`.
#[derive(Debug, Subcommand)]
pub enum VoucherCommand {
    /// Issue vouchers and write their QR codes and a CSV into --out.
    Create {
        /// The LSP's side of each channel.
        #[arg(long)]
        lsp_balance_sat: u64,
        /// How long the LSP keeps each channel open, in blocks.
        #[arg(long)]
        expiry_blocks: u32,
        /// How many vouchers.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Days each stays claimable.
        #[arg(long, default_value_t = 30)]
        valid_days: u32,
        /// A label for the batch (kept with each voucher).
        #[arg(long, default_value = "")]
        batch: String,
        /// A new or empty directory for the files.
        #[arg(long)]
        out: PathBuf,
    },
    /// Vouchers, newest first.
    List {
        /// Only this state: issued, claimed, revoked, expired.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Withdraw an issued voucher (its id, as `list` or the CSV shows it).
    Revoke {
        /// The voucher id.
        id: String,
    },
}

/// Runs one voucher command: the answer and how to show it as a table.
pub async fn run(client: &AdminClient, command: &VoucherCommand) -> Result<(Value, fn(&Value) -> String)> {
    match command {
        VoucherCommand::Create { lsp_balance_sat, expiry_blocks, count, valid_days, batch, out } => {
            prepare_dir(out)?;
            let body = json!({
                "count": count, "lsp_balance_sat": lsp_balance_sat, "channel_expiry_blocks": expiry_blocks,
                "valid_days": valid_days, "batch": batch,
            });
            let answer = client.post_json("/v1/vouchers", &body).await?;
            let issued: Vec<IssuedView> =
                serde_json::from_value(answer).context("the admin API's answer is not a list of vouchers")?;
            let files = write_batch(out, &issued)?;
            Ok((json!({ "out": out.display().to_string(), "vouchers": files }), crate::admin_tables::fields))
        }
        VoucherCommand::List { state, limit, offset } => {
            let mut query = vec![("limit", limit.to_string()), ("offset", offset.to_string())];
            query.extend(state.clone().map(|state| ("state", state)));
            Ok((client.get_json("/v1/vouchers", &query).await?, crate::admin_tables::vouchers))
        }
        VoucherCommand::Revoke { id } => {
            Ok((client.post_json(&format!("/v1/vouchers/{id}/revoke"), &json!({})).await?, crate::admin_tables::fields))
        }
    }
}

/// Creates `dir`, or checks that it is empty, before anything is issued.
fn prepare_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if entries.next().is_some() {
        bail!("{} is not empty: give a new or empty directory (vouchers are never written over files)", dir.display());
    }
    Ok(())
}

/// Writes each voucher's SVG and PNG and `vouchers.csv`; returns the number of vouchers.
fn write_batch(dir: &Path, issued: &[IssuedView]) -> Result<usize> {
    let mut csv = String::from("id,batch,lnurl,url,lsp_balance_sat,channel_expiry_blocks,expires_at_unix_ms,svg,png\n");
    for (n, item) in issued.iter().enumerate() {
        let stem = format!("voucher-{:04}-{}", n + 1, item.voucher.id.get(..12).unwrap_or(&item.voucher.id));
        let content = format!("LIGHTNING:{}", item.lnurl.to_uppercase());
        let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
            .with_context(|| format!("the QR code of voucher {}", item.voucher.id))?;
        let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(320, 320).build();
        write_secret(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
        let image = code.render::<image::Luma<u8>>().min_dimensions(400, 400).build();
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(image)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .context("encoding a PNG")?;
        write_secret(&dir.join(format!("{stem}.png")), &png)?;
        let fields = [
            item.voucher.id.clone(),
            item.voucher.batch.clone(),
            item.lnurl.clone(),
            item.url.clone(),
            item.voucher.lsp_balance_sat.to_string(),
            item.voucher.channel_expiry_blocks.to_string(),
            item.voucher.expires_at_unix_ms.to_string(),
            format!("{stem}.svg"),
            format!("{stem}.png"),
        ];
        csv.push_str(&fields.iter().map(|field| csv_field(field)).collect::<Vec<_>>().join(","));
        csv.push('\n');
    }
    write_secret(&dir.join("vouchers.csv"), csv.as_bytes())?;
    Ok(issued.len())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes a new file readable by its owner only.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("LNURL1ABC"), "LNURL1ABC");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
