//! The catalogue: every check the checker runs, with the bLIP, the section and the requirement
//! level it verifies. This one table is the source of `docs/check.md` ([`markdown`]); a test
//! keeps the two equal, so the documentation cannot drift from the code.

use std::fmt;

use serde::Serialize;

/// How strongly the spec asks for what a check verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Broken → FAIL, and the checker exits non-zero.
    Must,
    /// Broken → WARN.
    Should,
    /// Optional: reported as PASS when present, SKIP when not.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// Which check.
    pub check: Check,
    /// Stable name, `lsps<N>.<area>.<what>`.
    pub name: &'static str,
    /// The LSPS number the check belongs to (0, 1, 2 or 5).
    pub protocol: u16,
    /// The bLIP and section, e.g. `bLIP-50 §"Bad message format"`.
    pub source: &'static str,
    /// The requirement level.
    pub level: Level,
    /// The requirement, in the spec's words as far as a sentence allows.
    pub requirement: &'static str,
}

macro_rules! catalogue {
    ($($variant:ident => $name:literal, $protocol:literal, $source:literal, $level:ident, $requirement:literal;)*) => {
        /// Every check, in the order they run and are reported.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Check {
            $(
                #[doc = $requirement]
                $variant,
            )*
        }

        /// The catalogue, in [`Check`] order.
        pub const CATALOGUE: &[CheckSpec] = &[
            $(CheckSpec {
                check: Check::$variant,
                name: $name,
                protocol: $protocol,
                source: $source,
                level: Level::$level,
                requirement: $requirement,
            },)*
        ];
    };
}

catalogue! {
    Lsps0FeatureBit => "lsps0.init.feature_bit", 0, "bLIP-50 §\"Feature bit\"", May,
        "The LSP MAY set feature bit 729 (option_supports_lsps) in its init message.";
    Lsps0ListProtocols => "lsps0.list_protocols.result", 0, "bLIP-50 §\"lsps0.list_protocols\"", Must,
        "lsps0.list_protocols answers {\"protocols\": [...]}: an array of LSPS numbers that never contains 0.";
    Lsps0IdStringEcho => "lsps0.id.string_echo", 0, "bLIP-50 §\"JSON-RPC\"", Must,
        "A response carries the id of the request it answers.";
    Lsps0IdNumberEcho => "lsps0.id.number_echo", 0, "bLIP-50 §\"JSON-RPC\" (JSON-RPC 2.0 §5)", Should,
        "A response echoes the request's id whatever its JSON type: clients send strings, but a numeric id is valid JSON-RPC 2.0.";
    Lsps0MethodUnknown => "lsps0.method.unknown", 0, "bLIP-50 §\"Extensions\"", Must,
        "An unknown method gets error -32601 (method not found) with the request's id.";
    Lsps0ParamsUnknown => "lsps0.params.unknown", 0, "bLIP-50 §\"Extensions\"", Must,
        "A known method with an unknown parameter gets error -32602 whose data.unrecognized lists the parameter's name.";
    Lsps0ErrorData => "lsps0.error.data", 0, "bLIP-50 §\"Errors\"", Must,
        "An error's data, when present, is a JSON object (each code defines the object's members).";
    Lsps0MaxPayload => "lsps0.size.max_payload", 0, "bLIP-50 §\"Framing\"", Should,
        "A payload of up to 65,533 bytes is a valid message: the LSP reads and answers it.";
    Lsps0FormatIncomplete => "lsps0.format.incomplete", 0, "bLIP-50 §\"Bad message format\"", Must,
        "A payload that is not a complete JSON value gets error -32700 with id null.";
    Lsps0FormatNotObject => "lsps0.format.not_object", 0, "bLIP-50 §\"Bad message format\"", Must,
        "A payload that is JSON but not an object gets error -32700 with id null.";
    Lsps0FormatBatch => "lsps0.format.batch", 0, "bLIP-50 §\"JSON-RPC\"", Must,
        "A JSON-RPC batch (an array of requests) is not allowed: error -32700 with id null.";
    Lsps0FormatTwoValues => "lsps0.format.two_values", 0, "bLIP-50 §\"Bad message format\"", Must,
        "A payload holding more than one JSON value gets error -32700 with id null.";
    Lsps0FormatNul => "lsps0.format.nul", 0, "bLIP-50 §\"Bad message format\"", Must,
        "A payload containing a 0x00 byte gets error -32700 with id null.";
    Lsps0FormatNotRequest => "lsps0.format.not_request", 0, "bLIP-50 §\"Bad message format\"", Must,
        "A payload that is not a JSON-RPC 2.0 request (here a response object) gets error -32700 with id null.";
    Lsps0FormatByPosition => "lsps0.format.by_position", 0, "bLIP-50 §\"JSON-RPC\"", Must,
        "params must be by name: params by position (an array) is a bad message format, error -32700 with id null.";
    Lsps0KeepsServing => "lsps0.keeps_serving", 0, "bLIP-50 §\"Bad message format\"", Should,
        "After answering a malformed message with -32700, the LSP drops it and goes on answering requests on the same connection.";
    Lsps0ResponseFormat => "lsps0.response.format", 0, "bLIP-50 §\"Bad message format\"", Must,
        "Every message the LSP sends is one JSON object without 0x00 bytes and a JSON-RPC 2.0 response (exactly one of result and error, result an object) or notification.";
    Lsps1GetInfo => "lsps1.get_info.result", 1, "bLIP-51 §\"lsps1.get_info\"", Must,
        "lsps1.get_info answers the flat object with every field in its type (sat amounts as decimal strings).";
    Lsps1GetInfoLimits => "lsps1.get_info.limits", 1, "bLIP-51 §\"lsps1.get_info\"", Must,
        "Every min is at most its max; min_funding_confirms_within_blocks and max_channel_expiry_blocks are at least 1.";
    Lsps1CreateOrder => "lsps1.create_order.accepted", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "An order within every get_info limit is created: the result is an order object.";
    Lsps1OrderMirror => "lsps1.order.mirror", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "The order mirrors the request's balances, confirmations, expiry, announce_channel and token (\"\" when none was sent); order_id is at most 64 characters.";
    Lsps1OrderInitialState => "lsps1.order.initial_state", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "A new order is CREATED, its channel is null and each payment option is EXPECT_PAYMENT.";
    Lsps1OrderTotals => "lsps1.order.totals", 1, "bLIP-51 §\"Payment\"", Must,
        "Each payment option's order_total_sat is fee_total_sat + client_balance_sat.";
    Lsps1OrderInvoice => "lsps1.order.bolt11_invoice", 1, "bLIP-51 §\"Payment\"", Must,
        "payment.bolt11.invoice is a BOLT11 invoice of at most 2048 characters, for exactly order_total_sat, on the LSP's network.";
    Lsps1OrderExpiresAt => "lsps1.order.expires_at", 1, "bLIP-51 §\"Payment\"", Must,
        "Each payment option's expires_at lies in the future when the order is created.";
    Lsps1OrderNoOnchainWithoutRefund => "lsps1.order.no_onchain_without_refund", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "If refund_onchain_address is omitted, the LSP MUST NOT offer on-chain payment.";
    Lsps1GetOrderSame => "lsps1.get_order.same_order", 1, "bLIP-51 §\"lsps1.get_order\"", Must,
        "lsps1.get_order returns the order lsps1.create_order created.";
    Lsps1GetOrderUnknown => "lsps1.get_order.unknown", 1, "bLIP-51 §\"lsps1.get_order\"", Must,
        "lsps1.get_order for an unknown order_id gets error 101 (Not found).";
    Lsps1UnknownToken => "lsps1.create_order.unknown_token", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "An invalid or expired token gets error 102 (Unrecognized or stale token).";
    Lsps1RangeLspBalance => "lsps1.create_order.range.lsp_balance", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "lsp_balance_sat above max_initial_lsp_balance_sat gets error 100 (Option mismatch) with data.property naming a get_info field.";
    Lsps1RangeClientBalance => "lsps1.create_order.range.client_balance", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "client_balance_sat above max_initial_client_balance_sat gets error 100 with data.property naming a get_info field.";
    Lsps1RangeExpiry => "lsps1.create_order.range.expiry", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "channel_expiry_blocks above max_channel_expiry_blocks gets error 100 with data.property naming a get_info field.";
    Lsps1RangeConfirmations => "lsps1.create_order.range.confirmations", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "required_channel_confirmations below min_required_channel_confirmations gets error 100 with data.property naming a get_info field.";
    Lsps1RangeFundingTarget => "lsps1.create_order.range.funding_target", 1, "bLIP-51 §\"lsps1.create_order\"", Must,
        "funding_confirms_within_blocks below min_funding_confirms_within_blocks gets error 100 with data.property naming a get_info field.";
    Lsps1PaidOrder => "lsps1.pay.order_completed", 1, "bLIP-51 §\"Channel object and opening duties\"", Must,
        "An order paid with its BOLT11 invoice becomes COMPLETED with its channel, and the client gets a channel of the ordered size (needs --pay).";
    Lsps1Refund => "lsps1.pay.refund", 1, "bLIP-51 §\"Refunds and failure handling\"", Must,
        "A Lightning-paid order the LSP cannot fulfil (the client refuses every channel) is refunded: the held payment is failed back and the order ends FAILED with bolt11 REFUNDED; the payment is never taken (needs --pay; skipped if neither happens within --refund-wait-secs).";
    Lsps2GetInfo => "lsps2.get_info.result", 2, "bLIP-52 §\"lsps2.get_info\"", Must,
        "lsps2.get_info answers opening_fee_params_menu; each entry has exactly the spec's keys, in their types.";
    Lsps2MenuOrder => "lsps2.get_info.menu_order", 2, "bLIP-52 §\"lsps2.get_info\"", Must,
        "Each menu entry is strictly more expensive than the one before it.";
    Lsps2ValidUntil => "lsps2.get_info.valid_until", 2, "bLIP-52 §\"lsps2.get_info\"", Should,
        "valid_until is at least 10 minutes in the future.";
    Lsps2Promise => "lsps2.get_info.promise", 2, "bLIP-52 §\"promise\"", Must,
        "promise is at most 512 bytes of printable ASCII that needs no escaping in JSON.";
    Lsps2UnknownToken => "lsps2.get_info.unknown_token", 2, "bLIP-52 §\"lsps2.get_info\"", Must,
        "A token the LSP does not recognise gets error 200 (unrecognized_or_stale_token).";
    Lsps2BuyMpp => "lsps2.buy.mpp", 2, "bLIP-52 §\"lsps2.buy\"", Must,
        "buy with a payment_size_msat in the entry's range (MPP, fixed invoice) answers jit_channel_scid as an SCID, lsp_cltv_expiry_delta at most 65535 and client_trusts_lsp, if present, as a boolean.";
    Lsps2BuyNoMpp => "lsps2.buy.no_mpp", 2, "bLIP-52 §\"lsps2.buy\"", Must,
        "buy without payment_size_msat (no MPP, variable-amount invoice) is answered the same way.";
    Lsps2ScidUnique => "lsps2.buy.scid_unique", 2, "bLIP-52 §\"lsps2.buy\"", Must,
        "Each buy gets its own jit_channel_scid.";
    Lsps2TamperedPromise => "lsps2.buy.tampered_promise", 2, "bLIP-52 §\"lsps2.buy\"", Must,
        "opening_fee_params whose promise does not verify get error 201 (invalid_opening_fee_params).";
    Lsps2TamperedParams => "lsps2.buy.tampered_params", 2, "bLIP-52 §\"promise\"", Must,
        "The promise commits to every field: a lowered min_fee_msat with the original promise gets error 201.";
    Lsps2Expired => "lsps2.buy.expired", 2, "bLIP-52 §\"lsps2.buy\"", Must,
        "opening_fee_params whose valid_until has passed get error 201.";
    Lsps2SizeBelowMin => "lsps2.buy.size_below_min", 2, "bLIP-52 §\"lsps2.buy\"", Should,
        "payment_size_msat below min_payment_size_msat is refused with 202 (payment_size_too_small); the spec names no code for it, 202 is what implementations send.";
    Lsps2SizeAboveMax => "lsps2.buy.size_above_max", 2, "bLIP-52 §\"lsps2.buy\"", Should,
        "payment_size_msat above max_payment_size_msat is refused with 203 (payment_size_too_large); the spec names no code for it, 203 is what implementations send.";
    Lsps2FeeOverflow => "lsps2.buy.fee_overflow", 2, "bLIP-52 §\"Computing the opening fee\"", Must,
        "A payment_size_msat whose opening fee overflows 64 bits gets error 203.";
    Lsps2JitPayment => "lsps2.pay.jit_payment", 2, "bLIP-52 §\"Forwarding with the fee deducted\"", Must,
        "A payment to a JIT invoice reaches the client over a new channel, less exactly the opening fee of the promised formula (needs --pay).";
    Lsps2MppShort => "lsps2.pay.mpp_short", 2, "bLIP-52 §\"LSP HTLC interception\"", Must,
        "Parts of a fixed-amount JIT payment that stop short of payment_size_msat are kept at least 90 s from the first part, and no channel is opened for them (needs --pay; the checker waits up to 150 s for them to fail back).";
    Lsps5SetWebhook => "lsps5.set_webhook.registered", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "set_webhook with a new app_name and an https URL answers num_webhooks counting it, max_webhooks, and no_change false.";
    Lsps5WebhookRegistered => "lsps5.webhook_registered.posted", 5, "bLIP-55 §\"LSP persistence and obligations\"", Must,
        "After a set_webhook that adds a webhook, the LSP POSTs lsps5.webhook_registered to that webhook, signed with its node key (x-lsps5-timestamp, x-lsps5-signature).";
    Lsps5NoChange => "lsps5.set_webhook.no_change", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "Setting the same app_name and webhook again answers no_change true and does not count it twice.";
    Lsps5List => "lsps5.list_webhooks.names", 5, "bLIP-55 §\"lsps5.list_webhooks\"", Must,
        "list_webhooks answers the registered app names (never the URLs) and max_webhooks.";
    Lsps5TooLong => "lsps5.set_webhook.too_long", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "An app_name longer than 64 bytes, or a webhook longer than 1024 characters, gets error 500 (too_long).";
    Lsps5UrlParseError => "lsps5.set_webhook.url_parse_error", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "A webhook that is not a URL gets error 501 (url_parse_error).";
    Lsps5UnsupportedProtocol => "lsps5.set_webhook.unsupported_protocol", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "A webhook whose scheme is not supported (http) gets error 502 (unsupported_protocol).";
    Lsps5TooMany => "lsps5.set_webhook.too_many", 5, "bLIP-55 §\"lsps5.set_webhook\"", Must,
        "A new app_name beyond max_webhooks gets error 503 (too_many_webhooks) with data.max_webhooks.";
    Lsps5Remove => "lsps5.remove_webhook.removed", 5, "bLIP-55 §\"lsps5.remove_webhook\"", Must,
        "remove_webhook of a registered app_name answers {} and the name leaves the list.";
    Lsps5RemoveUnknown => "lsps5.remove_webhook.unknown", 5, "bLIP-55 §\"lsps5.remove_webhook\"", Must,
        "remove_webhook of an app_name that is not registered gets error 1010 (app_name_not_found).";
}

impl Check {
    /// Its catalogue entry.
    pub fn spec(self) -> &'static CheckSpec {
        // The table is generated in variant order, so the discriminant is the index.
        &CATALOGUE[self as usize]
    }

    /// Its stable name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The check with this name.
    pub fn from_name(name: &str) -> Option<Check> {
        CATALOGUE.iter().find(|spec| spec.name == name).map(|spec| spec.check)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The catalogue as the Markdown tables of `docs/check.md`: one table per protocol.
pub fn markdown() -> String {
    let mut out = String::new();
    for (protocol, title) in [(0, "LSPS0"), (1, "LSPS1"), (2, "LSPS2"), (5, "LSPS5")] {
        out.push_str(&format!("### {title}\n\n| Check | Level | Source | Requirement |\n|---|---|---|---|\n"));
        for spec in CATALOGUE.iter().filter(|spec| spec.protocol == protocol) {
            let requirement = spec.requirement.replace('|', "\\|");
            out.push_str(&format!("| `{}` | {} | {} | {} |\n", spec.name, spec.level, spec.source, requirement));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_table_is_in_variant_order_with_unique_names_under_their_protocol() {
        let mut names = HashSet::new();
        for (index, spec) in CATALOGUE.iter().enumerate() {
            assert_eq!(spec.check as usize, index);
            assert_eq!(spec.check.spec(), spec);
            assert!(names.insert(spec.name), "{} twice", spec.name);
            assert!(spec.name.starts_with(&format!("lsps{}.", spec.protocol)), "{}", spec.name);
            assert_eq!(Check::from_name(spec.name), Some(spec.check));
            assert!(spec.requirement.ends_with('.'), "{}", spec.name);
        }
        assert_eq!(Check::from_name("lsps9.nothing"), None);
    }
}
