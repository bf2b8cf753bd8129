//! LNURL-channel: the one wire format Inbound serves besides LSPS. A wallet scans a QR code
//! holding an LNURL (LUD-01: a URL in bech32 with the human-readable part `lnurl`), fetches a
//! [`ChannelRequest`] from it (LUD-02), connects to the node in its `uri`, and calls its
//! `callback` with the request's `k1`, its node id and whether the channel is to be private; the
//! service answers with an [`LnurlStatus`] and opens the channel.
//!
//! Everything here is pure: encoding and decoding, the JSON bodies, the callback's query.

use std::fmt;
use std::str::FromStr;

use bitcoin::bech32::primitives::decode::CheckedHrpstring;
use bitcoin::bech32::{self, Bech32, Hrp};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use url::Url;

use crate::schema::NodeId;

/// The `tag` of a LUD-02 channel request.
pub const CHANNEL_REQUEST_TAG: &str = "channelRequest";

/// The longest LNURL (or URL) accepted, in characters.
pub const MAX_LNURL_LEN: usize = 2048;

/// The longest `reason` kept from or put in an [`LnurlStatus::Error`], in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// What is wrong with an LNURL, a channel request or a callback.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LnurlError {
    /// Longer than [`MAX_LNURL_LEN`].
    #[error("longer than {MAX_LNURL_LEN} characters")]
    TooLong,
    /// Neither bech32 with the `lnurl` prefix, nor an `https://`, `http://` or `lnurlc://` URL.
    #[error("not an LNURL: {0}")]
    NotLnurl(String),
    /// The URL inside does not parse.
    #[error("the URL does not parse: {0}")]
    BadUrl(String),
    /// A `k1` that is not 32 bytes of hex.
    #[error("k1 is not 32 bytes of hex")]
    BadK1,
    /// A `remoteid` that is not a node id.
    #[error("remoteid is not a node id")]
    BadRemoteId,
    /// A `uri` that is not `<node id>@<host>:<port>`.
    #[error("uri is not <node id>@<host>:<port>")]
    BadUri,
    /// `private` is neither `0` nor `1`.
    #[error("private must be 0 or 1")]
    BadPrivate,
    /// A required query parameter is missing.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A query parameter appears twice.
    #[error("parameter {0} given twice")]
    Repeated(&'static str),
    /// The JSON is not a channel request.
    #[error("not a channel request: {0}")]
    NotChannelRequest(String),
}

/// Encodes `url` as an LNURL: bech32, upper case (the denser QR alphanumeric mode), `LNURL1…`.
pub fn encode(url: &Url) -> String {
    let hrp = Hrp::parse_unchecked("lnurl");
    // A URL is at most a few hundred bytes; bech32's limit (1,023 characters) is checked.
    bech32::encode_upper::<Bech32>(hrp, url.as_str().as_bytes()).unwrap_or_else(|_| url.to_string())
}

/// The `lightning:` URI of `url`'s LNURL.
pub fn lightning_uri(url: &Url) -> String {
    format!("lightning:{}", encode(url))
}

/// Reads what a wallet may be handed: an LNURL (any case, with or without `lightning:`), a
/// LUD-17 `lnurlc://` URL (read as `https://`), or a plain `https://`/`http://` URL. Whether
/// an `http://` URL may be fetched is the caller's decision ([`is_secure`]).
///
/// # Errors
/// [`LnurlError`] for anything else.
pub fn decode(text: &str) -> Result<Url, LnurlError> {
    let text = text.trim();
    if text.len() > MAX_LNURL_LEN {
        return Err(LnurlError::TooLong);
    }
    let text = strip_prefix_ignore_case(text, "lightning:").unwrap_or(text);
    if let Some(rest) = strip_prefix_ignore_case(text, "lnurlc://") {
        return parse_url(&format!("https://{rest}"));
    }
    if strip_prefix_ignore_case(text, "https://").is_some() || strip_prefix_ignore_case(text, "http://").is_some() {
        return parse_url(text);
    }
    let checked = CheckedHrpstring::new::<Bech32>(text).map_err(|e| LnurlError::NotLnurl(e.to_string()))?;
    if !checked.hrp().as_str().eq_ignore_ascii_case("lnurl") {
        return Err(LnurlError::NotLnurl(format!("prefix {} is not lnurl", checked.hrp())));
    }
    let bytes: Vec<u8> = checked.byte_iter().collect();
    let inner = String::from_utf8(bytes).map_err(|_| LnurlError::BadUrl("not UTF-8".into()))?;
    parse_url(&inner)
}

/// Whether a wallet may fetch `url`: HTTPS, or HTTP to an onion service (LUD-01) or to the
/// wallet's own machine (loopback: a local test LSP).
pub fn is_secure(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.ends_with(".onion") || domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn parse_url(text: &str) -> Result<Url, LnurlError> {
    let url = Url::parse(text).map_err(|e| LnurlError::BadUrl(e.to_string()))?;
    match (url.scheme(), url.host()) {
        ("https" | "http", Some(_)) => Ok(url),
        _ => Err(LnurlError::BadUrl("not an http(s) URL with a host".into())),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// LUD-02's `k1`: 32 random bytes, hex on the wire; whoever holds it may claim the channel.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct K1(pub [u8; 32]);

impl fmt::Display for K1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for K1 {
    // A k1 is a bearer secret: logs show a prefix only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "K1({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

impl FromStr for K1 {
    type Err = LnurlError;

    fn from_str(text: &str) -> Result<K1, LnurlError> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LnurlError::BadK1);
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| LnurlError::BadK1)?;
        }
        Ok(K1(bytes))
    }
}

impl Serialize for K1 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for K1 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<K1, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// LUD-02's `uri`: where the wallet connects before it calls back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUri {
    /// The LSP's node id.
    pub node_id: NodeId,
    /// `host:port`.
    pub address: String,
}

impl fmt::Display for NodeUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.node_id, self.address)
    }
}

impl FromStr for NodeUri {
    type Err = LnurlError;

    fn from_str(text: &str) -> Result<NodeUri, LnurlError> {
        let (node, address) = text.split_once('@').ok_or(LnurlError::BadUri)?;
        let node_id = node.parse().map_err(|_| LnurlError::BadUri)?;
        check_address(address)?;
        Ok(NodeUri { node_id, address: address.to_owned() })
    }
}

/// Checks a `uri`'s `host:port`: a non-empty host of at most 255 bytes without spaces, and a
/// port number.
///
/// # Errors
/// [`LnurlError::BadUri`].
pub fn check_address(address: &str) -> Result<(), LnurlError> {
    let (host, port) = address.rsplit_once(':').ok_or(LnurlError::BadUri)?;
    if host.is_empty() || host.len() > 255 || port.parse::<u16>().is_err() || address.contains(char::is_whitespace) {
        return Err(LnurlError::BadUri);
    }
    Ok(())
}

/// LUD-02's answer to the LNURL's GET: `{"tag":"channelRequest","uri":…,"callback":…,"k1":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRequest {
    /// The LSP's node, to connect to first.
    pub uri: NodeUri,
    /// Where the wallet sends `k1`, its node id and `private`.
    pub callback: Url,
    /// The secret that names this channel.
    pub k1: K1,
}

#[derive(Serialize, Deserialize)]
struct ChannelRequestWire {
    tag: String,
    uri: String,
    callback: String,
    k1: String,
}

impl Serialize for ChannelRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ChannelRequestWire {
            tag: CHANNEL_REQUEST_TAG.to_owned(),
            uri: self.uri.to_string(),
            callback: self.callback.to_string(),
            k1: self.k1.to_string(),
        }
        .serialize(serializer)
    }
}

impl ChannelRequest {
    /// Reads a service's answer to the LNURL's GET. An answer `{"status":"ERROR",…}` is
    /// returned as `Err` with its reason.
    ///
    /// # Errors
    /// [`LnurlError::NotChannelRequest`] with what is wrong.
    pub fn from_json(body: &[u8]) -> Result<ChannelRequest, LnurlError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| LnurlError::NotChannelRequest(e.to_string()))?;
        if let Ok(LnurlStatus::Error { reason }) = serde_json::from_value::<LnurlStatus>(value.clone()) {
            return Err(LnurlError::NotChannelRequest(format!("the service answered ERROR: {reason}")));
        }
        let wire: ChannelRequestWire =
            serde_json::from_value(value).map_err(|e| LnurlError::NotChannelRequest(e.to_string()))?;
        if wire.tag != CHANNEL_REQUEST_TAG {
            return Err(LnurlError::NotChannelRequest(format!("tag {:?}", truncate(&wire.tag))));
        }
        let callback = parse_url(&wire.callback)?;
        Ok(ChannelRequest { uri: wire.uri.parse()?, callback, k1: wire.k1.parse()? })
    }

    /// The callback URL a wallet calls to open the channel to `remote_id`.
    pub fn open_url(&self, remote_id: &NodeId, private: bool) -> Url {
        let mut url = self.callback.clone();
        url.query_pairs_mut()
            .append_pair("k1", &self.k1.to_string())
            .append_pair("remoteid", &remote_id.to_string())
            .append_pair("private", if private { "1" } else { "0" });
        url
    }

    /// The callback URL a wallet calls to say it will not claim the channel.
    pub fn cancel_url(&self, remote_id: &NodeId) -> Url {
        let mut url = self.callback.clone();
        url.query_pairs_mut()
            .append_pair("k1", &self.k1.to_string())
            .append_pair("remoteid", &remote_id.to_string())
            .append_pair("cancel", "1");
        url
    }
}

/// What a wallet's callback asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    /// Open the channel to `remote_id`.
    Open {
        /// The secret of the request.
        k1: K1,
        /// The wallet's node.
        remote_id: NodeId,
        /// A private (unannounced) channel.
        private: bool,
    },
    /// The wallet will not claim it (`cancel=1`).
    Cancel {
        /// The secret of the request.
        k1: K1,
        /// The wallet's node.
        remote_id: NodeId,
    },
}

impl Callback {
    /// Reads a callback's query parameters (unknown ones are ignored: a callback URL may carry
    /// the service's own).
    ///
    /// # Errors
    /// A missing, repeated or malformed `k1`, `remoteid`, `private` or `cancel`.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Callback, LnurlError> {
        let (mut k1, mut remote_id, mut private, mut cancel) = (None, None, None, None);
        for (key, value) in pairs {
            match key {
                "k1" => set_once(&mut k1, "k1", value.parse::<K1>()?)?,
                "remoteid" => {
                    set_once(&mut remote_id, "remoteid", value.parse::<NodeId>().map_err(|_| LnurlError::BadRemoteId)?)?
                }
                "private" => set_once(&mut private, "private", flag(value)?)?,
                "cancel" => set_once(&mut cancel, "cancel", flag(value)?)?,
                _ => {}
            }
        }
        let k1 = k1.ok_or(LnurlError::Missing("k1"))?;
        let remote_id = remote_id.ok_or(LnurlError::Missing("remoteid"))?;
        if cancel == Some(true) {
            return Ok(Callback::Cancel { k1, remote_id });
        }
        // LUD-02 makes `private` required; a wallet that leaves it out gets a private channel,
        // the safe reading for a phone wallet.
        Ok(Callback::Open { k1, remote_id, private: private.unwrap_or(true) })
    }

    /// The request's secret.
    pub fn k1(&self) -> &K1 {
        match self {
            Callback::Open { k1, .. } | Callback::Cancel { k1, .. } => k1,
        }
    }
}

fn flag(value: &str) -> Result<bool, LnurlError> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(LnurlError::BadPrivate),
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), LnurlError> {
    match slot.replace(value) {
        Some(_) => Err(LnurlError::Repeated(name)),
        None => Ok(()),
    }
}

/// LUD-02's (and every LUD's) status answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum LnurlStatus {
    /// `{"status":"OK"}`.
    #[serde(rename = "OK")]
    Ok,
    /// `{"status":"ERROR","reason":…}`.
    #[serde(rename = "ERROR")]
    Error {
        /// Why, for the person holding the wallet.
        reason: String,
    },
}

impl LnurlStatus {
    /// An error with `reason`, cut to [`MAX_REASON_BYTES`].
    pub fn error(reason: impl Into<String>) -> LnurlStatus {
        LnurlStatus::Error { reason: truncate(&reason.into()) }
    }
}

fn truncate(text: &str) -> String {
    let mut end = text.len().min(MAX_REASON_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests;
