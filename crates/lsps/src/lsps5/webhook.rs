//! Signing and verifying the webhook POST (bLIP-55, "Notification Delivery").
//!
//! ```text
//! LSP:      Notification ──SignedWebhookRequest::new(now, node key)──▶ body + headers ──▶ HTTPS POST
//! delivery: headers + raw body ──verify_webhook_request(lsp node id, now)──▶ Notification
//! ```
//!
//! The LSP signs, with `LSPS0.ln_signature` and its node key, the UTF-8 string
//!
//! ```text
//! LSPS5: DO NOT SIGN THIS MESSAGE MANUALLY: LSP: At ${timestamp} I notify ${body}
//! ```
//!
//! where `${body}` is the exact POST body and `${timestamp}` the exact `x-lsps5-timestamp`
//! header. Interop rules (digest §5.6, §8.1, §8.3):
//!
//! * we send `YYYY-MM-DDThh:mm:ss.mmmZ`, but LDK sends chrono's `…+00:00` form; the verifier
//!   therefore checks the signature over the header string **verbatim** and only parses it for the
//!   freshness check;
//! * the verifier checks the **raw body bytes**, never a re-serialisation;
//! * the 2023 lsp-repo spelling `x-api-timestamp` / `x-api-signature` is used when
//!   `x-lsps5-signature` is absent (never mixed: both headers come from the same spelling);
//! * the bLIP dropped the ±10 min freshness rule, relying on HTTPS; we keep it
//!   ([`DEFAULT_MAX_SKEW_SECS`]) as a cheap replay bound.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use thiserror::Error;

use super::{Notification, NotificationError};
use crate::schema::{DateTime, SchemaError};
use crate::signature::{sign_message, verify, SignatureError};

/// The content type header name (lowercase, as HTTP/2 requires).
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// The content type of every notification body.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The bLIP-55 timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-lsps5-timestamp";
/// The bLIP-55 signature header.
pub const SIGNATURE_HEADER: &str = "x-lsps5-signature";
/// The timestamp header of the 2023 lsp-repo LSPS5, still accepted.
pub const LEGACY_TIMESTAMP_HEADER: &str = "x-api-timestamp";
/// The signature header of the 2023 lsp-repo LSPS5, still accepted.
pub const LEGACY_SIGNATURE_HEADER: &str = "x-api-signature";

/// How far a timestamp may be from the verifier's clock, either way: 10 minutes, the window
/// the 2023 LSPS5 required.
pub const DEFAULT_MAX_SKEW_SECS: u64 = 600;

/// The fixed text before the timestamp in the signed message.
const MESSAGE_PREFIX: &[u8] = b"LSPS5: DO NOT SIGN THIS MESSAGE MANUALLY: LSP: At ";
/// The fixed text between the timestamp and the body.
const MESSAGE_INFIX: &[u8] = b" I notify ";

/// The bytes the LSP signs for a POST with this timestamp header and body.
pub fn signing_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(MESSAGE_PREFIX.len() + timestamp.len() + MESSAGE_INFIX.len() + body.len());
    message.extend_from_slice(MESSAGE_PREFIX);
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(MESSAGE_INFIX);
    message.extend_from_slice(body);
    message
}

/// A notification ready to POST: the exact body and the three headers to send with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedWebhookRequest {
    /// The POST body; send these bytes unchanged.
    pub body: Vec<u8>,
    /// `content-type`, `x-lsps5-timestamp` and `x-lsps5-signature`, in that order.
    pub headers: [(&'static str, String); 3],
}

/// How the LSP writes the `x-lsps5-timestamp` header it signs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimestampForm {
    /// `LSPS0.datetime`: milliseconds and `Z` (`2026-12-03T10:26:09.030Z`), as bLIP-55 says.
    #[default]
    Lsps0,
    /// chrono's `to_rfc3339()` form (`2026-12-03T10:26:09.030+00:00`; no fraction on a whole
    /// second). lightning-liquidity 0.2.7's `LSPS5Validator` re-serialises the received header
    /// in this form before checking the signature, so it accepts only timestamps already
    /// written so.
    ChronoRfc3339,
}

impl SignedWebhookRequest {
    /// Encodes and signs `notification` at `now` with the LSP's node key. The timestamp is
    /// `now` as an `LSPS0.datetime` (milliseconds, `Z`).
    pub fn new(notification: &Notification, now: DateTime, lsp_secret_key: &SecretKey) -> SignedWebhookRequest {
        SignedWebhookRequest::new_in(notification, now, TimestampForm::Lsps0, lsp_secret_key)
    }

    /// [`new`](Self::new) with the timestamp (truncated to milliseconds) written in `form`.
    pub fn new_in(
        notification: &Notification,
        now: DateTime,
        form: TimestampForm,
        lsp_secret_key: &SecretKey,
    ) -> SignedWebhookRequest {
        let body = notification.body_bytes();
        let now = now.truncated_to_millis();
        let timestamp = match form {
            TimestampForm::Lsps0 => now.to_string(),
            TimestampForm::ChronoRfc3339 => now.to_rfc3339_plus_offset(),
        };
        let signature = sign_message(lsp_secret_key, &signing_message(&timestamp, &body));
        SignedWebhookRequest {
            body,
            headers: [
                (CONTENT_TYPE_HEADER, CONTENT_TYPE_JSON.to_owned()),
                (TIMESTAMP_HEADER, timestamp),
                (SIGNATURE_HEADER, signature),
            ],
        }
    }

    /// The `x-lsps5-timestamp` value.
    pub fn timestamp(&self) -> &str {
        &self.headers[1].1
    }

    /// The `x-lsps5-signature` value.
    pub fn signature(&self) -> &str {
        &self.headers[2].1
    }
}

/// Why a delivery service refused a webhook POST.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum WebhookVerifyError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header appears more than once, so which value was signed is ambiguous.
    #[error("header {0} appears more than once")]
    DuplicateHeader(&'static str),
    /// The timestamp header is not an RFC 3339 datetime.
    #[error("bad timestamp header: {0}")]
    BadTimestamp(SchemaError),
    /// The timestamp is too far from the verifier's clock (a replay, or a broken clock).
    #[error("timestamp is {skew_secs} s away from now, more than {max_skew_secs} s")]
    OutsideWindow {
        /// How far off it is, either way, in whole seconds.
        skew_secs: u64,
        /// The allowed skew.
        max_skew_secs: u64,
    },
    /// The signature is malformed or was not made by the LSP over this timestamp and body.
    #[error("signature does not verify: {0}")]
    Signature(#[from] SignatureError),
    /// Signed correctly, but the body is not an LSPS5 notification.
    #[error("bad body: {0}")]
    Body(#[from] NotificationError),
}

/// Checks a webhook POST as a notification delivery service must (bLIP-55, "Notification
/// Delivery Service Requirements"), and returns the notification.
///
/// `headers` are (name, value) pairs as received; names match case-insensitively and values
/// are used verbatim. `lsp_node_id` is the LSP the URL authorises (the service knows it from
/// the URL or its token). The checks run cheapest first: headers, freshness
/// (`|now - timestamp| <= max_skew_secs`), signature over the raw `body`, and only then the
/// JSON. An unknown method is not an error: it comes back as [`Notification::Unknown`], to
/// be ignored. [`verify_webhook_request_detailed`] also returns the timestamp.
pub fn verify_webhook_request<I, N, V>(
    headers: I,
    body: &[u8],
    lsp_node_id: &PublicKey,
    now: DateTime,
    max_skew_secs: u64,
) -> Result<Notification, WebhookVerifyError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    verify_webhook_request_detailed(headers, body, lsp_node_id, now, max_skew_secs)
        .map(|verified| verified.notification)
}

/// A webhook POST that [`verify_webhook_request_detailed`] accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedWebhookRequest {
    /// The notification the body carries.
    pub notification: Notification,
    /// The timestamp header, verbatim (the signed text).
    pub timestamp: String,
    /// The timestamp, parsed.
    pub sent_at: DateTime,
}

/// [`verify_webhook_request`], returning the timestamp as well (a replay cache keys on it).
pub fn verify_webhook_request_detailed<I, N, V>(
    headers: I,
    body: &[u8],
    lsp_node_id: &PublicKey,
    now: DateTime,
    max_skew_secs: u64,
) -> Result<VerifiedWebhookRequest, WebhookVerifyError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let [timestamp, signature, legacy_timestamp, legacy_signature] = find_headers(headers)?;
    let (timestamp, signature) = match (timestamp, signature, legacy_timestamp, legacy_signature) {
        (Some(timestamp), Some(signature), _, _) => (timestamp, signature),
        (None, Some(_), _, _) => return Err(WebhookVerifyError::MissingHeader(TIMESTAMP_HEADER)),
        (_, None, Some(timestamp), Some(signature)) => (timestamp, signature),
        (_, None, Some(_), None) => return Err(WebhookVerifyError::MissingHeader(LEGACY_SIGNATURE_HEADER)),
        (_, None, None, _) => return Err(WebhookVerifyError::MissingHeader(SIGNATURE_HEADER)),
    };
    let sent_at: DateTime = timestamp.parse().map_err(WebhookVerifyError::BadTimestamp)?;
    let skew_millis = now.unix_millis().abs_diff(sent_at.unix_millis());
    if skew_millis > max_skew_secs.saturating_mul(1000) {
        return Err(WebhookVerifyError::OutsideWindow { skew_secs: skew_millis / 1000, max_skew_secs });
    }
    verify(&signing_message(&timestamp, body), &signature, lsp_node_id)?;
    let notification = Notification::from_body(body)?;
    Ok(VerifiedWebhookRequest { notification, timestamp, sent_at })
}

/// The four header values we read, each at most once: bLIP timestamp and signature, then the
/// legacy pair.
fn find_headers<I, N, V>(headers: I) -> Result<[Option<String>; 4], WebhookVerifyError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    const NAMES: [&str; 4] = [TIMESTAMP_HEADER, SIGNATURE_HEADER, LEGACY_TIMESTAMP_HEADER, LEGACY_SIGNATURE_HEADER];
    let mut found: [Option<String>; 4] = Default::default();
    for (name, value) in headers {
        let Some(index) = NAMES.iter().position(|known| known.eq_ignore_ascii_case(name.as_ref())) else {
            continue;
        };
        if found[index].is_some() {
            return Err(WebhookVerifyError::DuplicateHeader(NAMES[index]));
        }
        found[index] = Some(value.as_ref().to_owned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::Secp256k1;

    fn lsp_key() -> (SecretKey, PublicKey) {
        let secret_key = SecretKey::from_slice(&[0x42; 32]).unwrap();
        (secret_key, secret_key.public_key(&Secp256k1::signing_only()))
    }

    fn at(text: &str) -> DateTime {
        text.parse().unwrap()
    }

    fn verify_signed(
        signed: &SignedWebhookRequest,
        node_id: &PublicKey,
        now: DateTime,
    ) -> Result<Notification, WebhookVerifyError> {
        verify_webhook_request(
            signed.headers.iter().map(|(name, value)| (*name, value)),
            &signed.body,
            node_id,
            now,
            DEFAULT_MAX_SKEW_SECS,
        )
    }

    #[test]
    fn both_timestamp_forms_sign_and_verify() {
        let (secret_key, node_id) = lsp_key();
        for (now, lsps0, chrono) in [
            ("2026-12-03T10:26:09.030456Z", "2026-12-03T10:26:09.030Z", "2026-12-03T10:26:09.030+00:00"),
            ("2026-12-03T10:26:09Z", "2026-12-03T10:26:09.000Z", "2026-12-03T10:26:09+00:00"),
        ] {
            let now = at(now);
            let spec = SignedWebhookRequest::new(&Notification::PaymentIncoming, now, &secret_key);
            let ldk = SignedWebhookRequest::new_in(
                &Notification::PaymentIncoming,
                now,
                TimestampForm::ChronoRfc3339,
                &secret_key,
            );
            assert_eq!((spec.timestamp(), ldk.timestamp()), (lsps0, chrono));
            assert_eq!(spec.body, ldk.body);
            for signed in [&spec, &ldk] {
                assert_eq!(verify_signed(signed, &node_id, now), Ok(Notification::PaymentIncoming));
            }
        }
    }

    #[test]
    fn the_message_template_is_exact() {
        let message =
            signing_message("2023-05-04T10:52:58.395Z", br#"{"jsonrpc":"2.0","method":"lsps5.goodbye","params":{}}"#);
        assert_eq!(message.len(), 138);
        assert!(message
            .starts_with(b"LSPS5: DO NOT SIGN THIS MESSAGE MANUALLY: LSP: At 2023-05-04T10:52:58.395Z I notify {"));
    }

    #[test]
    fn signed_requests_verify() {
        let (secret_key, node_id) = lsp_key();
        let now = at("2025-06-01T12:00:00.123456Z");
        let signed = SignedWebhookRequest::new(&Notification::ExpirySoon { timeout: 900_000 }, now, &secret_key);
        assert_eq!(signed.timestamp(), "2025-06-01T12:00:00.123Z");
        assert_eq!(signed.headers[0], ("content-type", "application/json".to_owned()));
        assert_eq!(verify_signed(&signed, &node_id, now), Ok(Notification::ExpirySoon { timeout: 900_000 }));
        let other = SecretKey::from_slice(&[0x43; 32]).unwrap().public_key(&Secp256k1::signing_only());
        assert!(matches!(
            verify_signed(&signed, &other, now),
            Err(WebhookVerifyError::Signature(SignatureError::WrongSigner { .. }))
        ));
    }

    #[test]
    fn the_freshness_window_is_inclusive_both_ways() {
        let (secret_key, node_id) = lsp_key();
        let sent = at("2025-06-01T12:00:00.000Z");
        let signed = SignedWebhookRequest::new(&Notification::PaymentIncoming, sent, &secret_key);
        assert!(verify_signed(&signed, &node_id, at("2025-06-01T12:10:00.000Z")).is_ok());
        assert!(verify_signed(&signed, &node_id, at("2025-06-01T11:50:00.000Z")).is_ok());
        assert_eq!(
            verify_signed(&signed, &node_id, at("2025-06-01T12:10:00.001Z")),
            Err(WebhookVerifyError::OutsideWindow { skew_secs: 600, max_skew_secs: 600 })
        );
        assert!(matches!(
            verify_signed(&signed, &node_id, at("2025-06-01T11:49:59.999Z")),
            Err(WebhookVerifyError::OutsideWindow { .. })
        ));
    }

    #[test]
    fn ldk_timestamps_are_verified_verbatim() {
        let (secret_key, node_id) = lsp_key();
        let body = Notification::PaymentIncoming.body_bytes();
        let timestamp = at("2025-06-01T12:00:00.5Z").to_rfc3339_plus_offset();
        assert_eq!(timestamp, "2025-06-01T12:00:00.500+00:00");
        let signature = sign_message(&secret_key, &signing_message(&timestamp, &body));
        let headers = [("X-LSPS5-Timestamp", timestamp.as_str()), ("X-Lsps5-Signature", signature.as_str())];
        let now = at("2025-06-01T12:01:00Z");
        assert_eq!(verify_webhook_request(headers, &body, &node_id, now, 600), Ok(Notification::PaymentIncoming));
        // The same instant written differently is a different signed message.
        let reformatted =
            [("x-lsps5-timestamp", "2025-06-01T12:00:00.500Z"), ("x-lsps5-signature", signature.as_str())];
        assert!(matches!(
            verify_webhook_request(reformatted, &body, &node_id, now, 600),
            Err(WebhookVerifyError::Signature(_))
        ));
    }

    #[test]
    fn legacy_header_names_are_accepted() {
        let (secret_key, node_id) = lsp_key();
        let now = at("2025-06-01T12:00:00Z");
        let signed = SignedWebhookRequest::new(&Notification::OnionMessageIncoming, now, &secret_key);
        let headers = [("x-api-timestamp", signed.timestamp()), ("x-api-signature", signed.signature())];
        assert_eq!(
            verify_webhook_request(headers, &signed.body, &node_id, now, 600),
            Ok(Notification::OnionMessageIncoming)
        );
        // The bLIP pair wins when both spellings are present.
        let headers = [
            ("x-api-timestamp", "garbage"),
            ("x-api-signature", "garbage"),
            ("x-lsps5-timestamp", signed.timestamp()),
            ("x-lsps5-signature", signed.signature()),
        ];
        assert!(verify_webhook_request(headers, &signed.body, &node_id, now, 600).is_ok());
    }

    #[test]
    fn header_faults() {
        let (secret_key, node_id) = lsp_key();
        let now = at("2025-06-01T12:00:00Z");
        let signed = SignedWebhookRequest::new(&Notification::PaymentIncoming, now, &secret_key);
        let (timestamp, signature) = (signed.timestamp(), signed.signature());
        let check = |headers: &[(&str, &str)]| {
            verify_webhook_request(headers.iter().copied(), &signed.body, &node_id, now, 600)
        };
        assert_eq!(check(&[]), Err(WebhookVerifyError::MissingHeader(SIGNATURE_HEADER)));
        assert_eq!(
            check(&[("x-lsps5-signature", signature)]),
            Err(WebhookVerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            check(&[("x-lsps5-timestamp", timestamp)]),
            Err(WebhookVerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(&[("x-api-timestamp", timestamp)]),
            Err(WebhookVerifyError::MissingHeader(LEGACY_SIGNATURE_HEADER))
        );
        // Never mix the two spellings.
        assert_eq!(
            check(&[("x-lsps5-timestamp", timestamp), ("x-api-signature", signature)]),
            Err(WebhookVerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(&[
                ("x-lsps5-timestamp", timestamp),
                ("x-lsps5-signature", signature),
                ("X-LSPS5-SIGNATURE", signature)
            ]),
            Err(WebhookVerifyError::DuplicateHeader(SIGNATURE_HEADER))
        );
        assert!(matches!(
            check(&[("x-lsps5-timestamp", "yesterday"), ("x-lsps5-signature", signature)]),
            Err(WebhookVerifyError::BadTimestamp(_))
        ));
        assert!(matches!(
            check(&[("x-lsps5-timestamp", timestamp), ("x-lsps5-signature", "")]),
            Err(WebhookVerifyError::Signature(_))
        ));
        let huge = "y".repeat(100_000);
        assert!(matches!(
            check(&[("x-lsps5-timestamp", timestamp), ("x-lsps5-signature", &huge)]),
            Err(WebhookVerifyError::Signature(_))
        ));
    }

    #[test]
    fn a_signed_non_notification_is_a_body_error() {
        let (secret_key, node_id) = lsp_key();
        let now = at("2025-06-01T12:00:00Z");
        let body = br#"{"jsonrpc":"2.0","id":"x","method":"lsps5.payment_incoming","params":{}}"#;
        let timestamp = now.to_string();
        let signature = sign_message(&secret_key, &signing_message(&timestamp, body));
        let headers = [("x-lsps5-timestamp", timestamp.as_str()), ("x-lsps5-signature", signature.as_str())];
        assert!(matches!(verify_webhook_request(headers, body, &node_id, now, 600), Err(WebhookVerifyError::Body(_))));
    }
}
