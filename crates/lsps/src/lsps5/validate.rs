//! Checking `lsps5.set_webhook` params (bLIP-55, "`lsps5.set_webhook`").
//!
//! [`validate_set_webhook`] applies the spec's checks in the order the error codes suggest:
//!
//! 1. `app_name` over [`MAX_APP_NAME_BYTES`] as sent, or `webhook` over
//!    [`MAX_WEBHOOK_CHARS`] characters → 500 `too_long`;
//! 2. `webhook` not an absolute `scheme://host…` URL → 501 `url_parse_error`;
//! 3. a scheme other than `https` → 502 `unsupported_protocol`;
//! 4. (ours) userinfo (`user:pass@`) or an empty host → 501.
//!
//! Where the destination may point is a separate, later question: the LSP resolves the host
//! when it is about to POST and refuses private addresses with
//! [`is_forbidden_ip`](super::is_forbidden_ip).
//!
//! # Decisions where the spec is silent
//!
//! * **"64 bytes as sent".** The params object has already been parsed when this runs, so
//!   the bytes the client sent are gone. LSPS0's general string rule says every character
//!   that can appear unescaped must appear unescaped, so a conforming client sends the
//!   *minimally escaped* JSON form; [`app_name_len_as_sent`] measures exactly that form
//!   (without the quotes). A client that escapes more than it must is measured as if it had
//!   not, which errs on the side of accepting.
//! * **Non-ASCII webhooks** are 501, not 500: the limit is 1024 *ASCII* characters because a
//!   webhook must be a URI (RFC 3987 §3.1 says the client converts IRIs), so a non-ASCII
//!   string is not a URL at all. The length check counts characters and runs first.
//! * **Characters outside RFC 3986** (space, control characters, `"<>\^`{|}`), and `%` not
//!   followed by two hex digits, are 501. The `url` crate would silently strip or rewrite
//!   several of them, which would store a different URL from the one the client sent.
//! * **`https:` without `//`** is 501 (RFC 1738 §3.1 requires `//` before the host), although
//!   the WHATWG parser in the `url` crate would accept it.
//! * An **empty `app_name`** is accepted: the spec requires the field but sets no minimum.

use std::net::IpAddr;

use url::{Host, Url};

use super::{Lsps5Error, SetWebhookRequest};

/// The longest `app_name`, in bytes of its JSON form as sent (quotes excluded).
pub const MAX_APP_NAME_BYTES: usize = 64;

/// The longest `webhook`, in (ASCII) characters.
pub const MAX_WEBHOOK_CHARS: usize = 1024;

/// The only scheme LSPS5 allows.
const HTTPS: &str = "https";

/// A `set_webhook` request that passed every check: what the LSP stores and posts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidWebhook {
    app_name: String,
    webhook: String,
    url: Url,
}

impl ValidWebhook {
    /// The app name, exactly as received.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// The webhook exactly as received. Store and compare this string: `no_change` is about
    /// "this exact (app_name, webhook) pair".
    pub fn webhook(&self) -> &str {
        &self.webhook
    }

    /// The parsed URL to POST to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host's IP address when the URL names one literally (`https://[::1]/`), so the LSP
    /// can refuse a forbidden destination at registration already. DNS names return `None`
    /// and must be checked after resolution.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        match self.url.host()? {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        }
    }
}

/// Checks `lsps5.set_webhook` params and returns what the LSP should store, or the LSPS5
/// error to answer with. Limits on the number of webhooks (503) are the caller's.
pub fn validate_set_webhook(request: &SetWebhookRequest) -> Result<ValidWebhook, Lsps5Error> {
    validate_app_name(&request.app_name)?;
    let url = validate_webhook_url(&request.webhook)?;
    Ok(ValidWebhook { app_name: request.app_name.clone(), webhook: request.webhook.clone(), url })
}

/// 500 if `app_name` is longer than [`MAX_APP_NAME_BYTES`] as sent.
pub fn validate_app_name(app_name: &str) -> Result<(), Lsps5Error> {
    if app_name_len_as_sent(app_name) > MAX_APP_NAME_BYTES {
        return Err(Lsps5Error::TooLong);
    }
    Ok(())
}

/// The length in bytes of `text` as a minimally escaped JSON string, quotes excluded: `"`
/// and `\` count 2, the control characters with a short escape (`\b \f \n \r \t`) count 2,
/// other control characters below U+0020 count 6 (`\u001f`), and everything else counts its
/// UTF-8 length. This equals `serde_json::to_string(text).len() - 2`.
pub fn app_name_len_as_sent(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Checks a webhook URL: 500 if too long, 501 if not an absolute `https://host…` URL (see the
/// module docs for the exact rules), 502 if the scheme is not `https`.
pub fn validate_webhook_url(webhook: &str) -> Result<Url, Lsps5Error> {
    if webhook.chars().count() > MAX_WEBHOOK_CHARS {
        return Err(Lsps5Error::TooLong);
    }
    if !webhook.bytes().all(is_uri_byte) || !percent_escapes_are_complete(webhook) {
        return Err(Lsps5Error::UrlParseError);
    }
    let url = Url::parse(webhook).map_err(|_| Lsps5Error::UrlParseError)?;
    if url.scheme() != HTTPS {
        return Err(Lsps5Error::UnsupportedProtocol);
    }
    // The scheme parsed, so the text has a ':' and only ASCII before it.
    let after_scheme = webhook.split_once(':').map_or("", |(_, rest)| rest);
    let Some(hierarchical) = after_scheme.strip_prefix("//") else {
        return Err(Lsps5Error::UrlParseError);
    };
    let authority = hierarchical.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
        return Err(Lsps5Error::UrlParseError);
    }
    // The WHATWG parser skips extra slashes (`https:///host`), so look at the text itself.
    if authority.is_empty() || authority.starts_with(':') || url.host_str().is_none_or(str::is_empty) {
        return Err(Lsps5Error::UrlParseError);
    }
    Ok(url)
}

/// RFC 3986 §2: unreserved, reserved (gen-delims and sub-delims) and `%`.
fn is_uri_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&byte)
}

/// Every `%` starts a `%XX` escape.
fn percent_escapes_are_complete(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter(|(_, &byte)| byte == b'%').all(|(index, _)| {
        matches!(bytes.get(index + 1..index + 3), Some([high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "https://notify.example-wallet.com/v1/lsps5?l=02e6411d8e0ae3b7&t=3a1f9c0d6b7e4a25";

    fn request(app_name: &str, webhook: &str) -> SetWebhookRequest {
        SetWebhookRequest { app_name: app_name.into(), webhook: webhook.into() }
    }

    #[test]
    fn a_good_request_passes_unchanged() {
        let valid = validate_set_webhook(&request("Example Wallet (iPhone)", GOOD)).unwrap();
        assert_eq!(valid.app_name(), "Example Wallet (iPhone)");
        assert_eq!(valid.webhook(), GOOD);
        assert_eq!(valid.url().host_str(), Some("notify.example-wallet.com"));
        assert_eq!(valid.literal_ip(), None);
        assert!(validate_set_webhook(&request("", "HTTPS://Example.COM")).is_ok());
        assert!(validate_set_webhook(&request("a", "https://example.com:8443/p%2Fq#frag")).is_ok());
    }

    #[test]
    fn app_name_is_measured_as_sent() {
        assert_eq!(app_name_len_as_sent("abc"), 3);
        assert_eq!(app_name_len_as_sent("a\"b\\c"), 7);
        assert_eq!(app_name_len_as_sent("\n\u{7}"), 8);
        assert_eq!(app_name_len_as_sent("é€😀"), 2 + 3 + 4);
        assert_eq!(app_name_len_as_sent("\u{7f}"), 1, "DEL needs no escape");
        assert!(validate_app_name(&"a".repeat(64)).is_ok());
        assert_eq!(validate_app_name(&"a".repeat(65)), Err(Lsps5Error::TooLong));
        // 32 quotes are 64 bytes as sent; 33 are 66.
        assert!(validate_app_name(&"\"".repeat(32)).is_ok());
        assert_eq!(validate_app_name(&"\"".repeat(33)), Err(Lsps5Error::TooLong));
        // 16 four-byte characters are 64 bytes; one more ASCII character tips it over.
        assert!(validate_app_name(&"😀".repeat(16)).is_ok());
        assert_eq!(validate_app_name(&format!("{}a", "😀".repeat(16))), Err(Lsps5Error::TooLong));
        assert_eq!(validate_set_webhook(&request(&"a".repeat(65), GOOD)), Err(Lsps5Error::TooLong));
    }

    #[test]
    fn webhook_length_limit() {
        let base = "https://example.com/";
        let exact = format!("{base}{}", "a".repeat(MAX_WEBHOOK_CHARS - base.len()));
        assert!(validate_webhook_url(&exact).is_ok());
        assert_eq!(validate_webhook_url(&format!("{exact}a")), Err(Lsps5Error::TooLong));
        // Too long wins over every other fault.
        assert_eq!(validate_webhook_url(&"é".repeat(2000)), Err(Lsps5Error::TooLong));
    }

    #[test]
    fn not_urls_are_501() {
        for bad in [
            "https//missing-colon",
            "",
            "notify.example.com/x",
            "https://",
            "https:///path",
            "https:////example.com/",
            "https://:443/",
            "https://example.com:99999/",
            "https://exa mple.com/",
            "https://example.com/a b",
            " https://example.com/",
            "https://example.com/\n",
            "https://exa\tmple.com/",
            "https:\\\\example.com\\x",
            "https://example.com/<script>",
            "https://example.com/%zz",
            "https://example.com/%4",
            "https://bücher.example/",
            "https://example.com/ü",
            "https:example.com",
            "https:/example.com",
            "https://user@example.com/",
            "https://user:pass@example.com/",
            "https://@example.com/",
            "https://:pass@example.com/",
            "https://[::1/",
        ] {
            assert_eq!(validate_webhook_url(bad), Err(Lsps5Error::UrlParseError), "{bad:?}");
        }
    }

    #[test]
    fn other_schemes_are_502() {
        for bad in [
            "http://notify.example.com/x",
            "ftp://example.com/",
            "mailto:someone@example.com",
            "file:///etc/passwd",
            "wss://example.com/",
        ] {
            assert_eq!(validate_webhook_url(bad), Err(Lsps5Error::UnsupportedProtocol), "{bad:?}");
        }
    }

    #[test]
    fn literal_ips_are_exposed_for_the_ssrf_check() {
        let valid = validate_set_webhook(&request("a", "https://[::1]:8443/")).unwrap();
        assert_eq!(valid.literal_ip(), Some("::1".parse().unwrap()));
        let valid = validate_set_webhook(&request("a", "https://10.0.0.1/")).unwrap();
        assert_eq!(valid.literal_ip(), Some("10.0.0.1".parse().unwrap()));
    }

    proptest! {
        #[test]
        fn length_matches_serde_json(text in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(app_name_len_as_sent(&text), serde_json::to_string(&text).unwrap().len() - 2);
        }

        #[test]
        fn validation_never_panics(app_name in "\\PC{0,80}", webhook in "\\PC{0,80}|https://[ -~]{0,80}") {
            let _ = validate_set_webhook(&request(&app_name, &webhook));
        }
    }
}
