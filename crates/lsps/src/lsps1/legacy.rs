//! Client-side tolerance for LSPS1 results in the shapes used before 2024-06-21 (lsp repo
//! PR #101), which some deployments still send (digest §8.1):
//!
//! * `get_info` wrapped in `{"options": {...}}`;
//! * an order whose `payment` is one flat object (`state`, `fee_total_sat`,
//!   `order_total_sat`, `bolt11_invoice`, `onchain_address`,
//!   `min_onchain_payment_confirmations`, `min_fee_for_0conf`, `onchain_payment`) and whose
//!   expiry is the order-level `expires_at`.
//!
//! Both are converted into the current types while decoding, so
//! `Response::decode(Method::Lsps1GetOrder, …)` accepts either shape; the LSP always emits
//! the current one. The old flat payment becomes [`PaymentInfo`] with a `bolt11` option (if
//! `bolt11_invoice` is set) and an `onchain` option (if `onchain_address` is set), each with
//! the single old `state`, fee and total, and the order-level `expires_at`. As with the
//! current shape, the client must key its logic off the option it actually paid. The old
//! `onchain_payment` details have no counterpart and are dropped.
//!
//! A `payment` object is read in the current shape as soon as it has a `bolt11`, `bolt12` or
//! `onchain` key; old keys next to them are then ignored like any unknown key.

use serde::Deserialize;

use super::msgs::{
    Bolt11Payment, Bolt12Payment, ChannelInfo, GetInfoResponse, OnchainPayment, Order, OrderState, PaymentInfo,
    PaymentState,
};
use crate::schema::{DateTime, FeeRate, OnchainAddress, SatAmount};

/// `lsps1.get_info` as it may arrive: flat (current) or inside `options` (before 2024-06).
#[derive(Deserialize)]
pub(super) struct GetInfoWire {
    /// Kept as raw JSON and read only when the flat fields are absent, so that a current
    /// LSP adding some unrelated `options` key is not refused.
    #[serde(default)]
    options: Option<serde_json::Value>,
    #[serde(default)]
    min_required_channel_confirmations: Option<u16>,
    #[serde(default)]
    min_funding_confirms_within_blocks: Option<u16>,
    #[serde(default)]
    supports_zero_channel_reserve: Option<bool>,
    #[serde(default)]
    max_channel_expiry_blocks: Option<u32>,
    #[serde(default)]
    min_initial_client_balance_sat: Option<SatAmount>,
    #[serde(default)]
    max_initial_client_balance_sat: Option<SatAmount>,
    #[serde(default)]
    min_initial_lsp_balance_sat: Option<SatAmount>,
    #[serde(default)]
    max_initial_lsp_balance_sat: Option<SatAmount>,
    #[serde(default)]
    min_channel_balance_sat: Option<SatAmount>,
    #[serde(default)]
    max_channel_balance_sat: Option<SatAmount>,
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{name}`"))
}

impl TryFrom<GetInfoWire> for GetInfoResponse {
    type Error = String;

    fn try_from(wire: GetInfoWire) -> Result<GetInfoResponse, String> {
        // The old wrapper is used only when the flat fields are absent, so a current LSP
        // that happens to add an `options` key is still read flat.
        if let (Some(options), None) = (wire.options, wire.min_required_channel_confirmations) {
            return serde_path_to_error::deserialize::<_, GetInfoResponse>(options)
                .map_err(|error| format!("options.{}: {}", error.path(), error.inner()));
        }
        Ok(GetInfoResponse {
            min_required_channel_confirmations: required(
                wire.min_required_channel_confirmations,
                "min_required_channel_confirmations",
            )?,
            min_funding_confirms_within_blocks: required(
                wire.min_funding_confirms_within_blocks,
                "min_funding_confirms_within_blocks",
            )?,
            supports_zero_channel_reserve: required(
                wire.supports_zero_channel_reserve,
                "supports_zero_channel_reserve",
            )?,
            max_channel_expiry_blocks: required(wire.max_channel_expiry_blocks, "max_channel_expiry_blocks")?,
            min_initial_client_balance_sat: required(
                wire.min_initial_client_balance_sat,
                "min_initial_client_balance_sat",
            )?,
            max_initial_client_balance_sat: required(
                wire.max_initial_client_balance_sat,
                "max_initial_client_balance_sat",
            )?,
            min_initial_lsp_balance_sat: required(wire.min_initial_lsp_balance_sat, "min_initial_lsp_balance_sat")?,
            max_initial_lsp_balance_sat: required(wire.max_initial_lsp_balance_sat, "max_initial_lsp_balance_sat")?,
            min_channel_balance_sat: required(wire.min_channel_balance_sat, "min_channel_balance_sat")?,
            max_channel_balance_sat: required(wire.max_channel_balance_sat, "max_channel_balance_sat")?,
        })
    }
}

/// An order as it may arrive: the current fields, plus the old order-level `expires_at`,
/// with a `payment` in either shape.
#[derive(Deserialize)]
pub(super) struct OrderWire {
    order_id: String,
    lsp_balance_sat: SatAmount,
    client_balance_sat: SatAmount,
    required_channel_confirmations: u16,
    funding_confirms_within_blocks: u16,
    channel_expiry_blocks: u32,
    #[serde(default)]
    token: Option<String>,
    created_at: DateTime,
    announce_channel: bool,
    order_state: OrderState,
    payment: PaymentWire,
    channel: Option<ChannelInfo>,
    /// Before 2024-06 the whole order expired at once.
    #[serde(default)]
    expires_at: Option<DateTime>,
}

/// The `payment` object in either shape; see the module doc for how the shape is chosen.
#[derive(Deserialize)]
struct PaymentWire {
    #[serde(default)]
    bolt11: Option<Bolt11Payment>,
    #[serde(default)]
    bolt12: Option<Bolt12Payment>,
    #[serde(default)]
    onchain: Option<OnchainPayment>,
    #[serde(default)]
    state: Option<PaymentState>,
    #[serde(default)]
    fee_total_sat: Option<SatAmount>,
    #[serde(default)]
    order_total_sat: Option<SatAmount>,
    #[serde(default)]
    bolt11_invoice: Option<String>,
    #[serde(default)]
    onchain_address: Option<OnchainAddress>,
    #[serde(default)]
    min_onchain_payment_confirmations: Option<u16>,
    #[serde(default)]
    min_fee_for_0conf: Option<FeeRate>,
}

impl PaymentWire {
    fn is_current(&self) -> bool {
        self.bolt11.is_some() || self.bolt12.is_some() || self.onchain.is_some()
    }

    fn is_legacy(&self) -> bool {
        self.state.is_some() || self.bolt11_invoice.is_some() || self.onchain_address.is_some()
    }

    /// Converts the flat pre-2024-06 payment, given the order-level expiry.
    fn into_payment_info(self, order_expires_at: Option<DateTime>) -> Result<PaymentInfo, String> {
        if self.is_current() || !self.is_legacy() {
            return Ok(PaymentInfo { bolt11: self.bolt11, bolt12: self.bolt12, onchain: self.onchain });
        }
        let expires_at = order_expires_at.ok_or("an old-style payment needs the order-level `expires_at`")?;
        let state = required(self.state, "payment.state")?;
        let fee_total_sat = required(self.fee_total_sat, "payment.fee_total_sat")?;
        let order_total_sat = required(self.order_total_sat, "payment.order_total_sat")?;
        let bolt11 = self.bolt11_invoice.map(|invoice| Bolt11Payment {
            state,
            expires_at,
            fee_total_sat,
            order_total_sat,
            invoice,
        });
        let onchain = match self.onchain_address {
            None => None,
            Some(address) => Some(OnchainPayment {
                state,
                expires_at,
                fee_total_sat,
                order_total_sat,
                address,
                min_onchain_payment_confirmations: required(
                    self.min_onchain_payment_confirmations,
                    "payment.min_onchain_payment_confirmations",
                )?,
                min_fee_for_0conf: self.min_fee_for_0conf,
                refund_onchain_address: None,
            }),
        };
        Ok(PaymentInfo { bolt11, bolt12: None, onchain })
    }
}

impl TryFrom<OrderWire> for Order {
    type Error = String;

    fn try_from(wire: OrderWire) -> Result<Order, String> {
        Ok(Order {
            payment: wire.payment.into_payment_info(wire.expires_at)?,
            order_id: wire.order_id,
            lsp_balance_sat: wire.lsp_balance_sat,
            client_balance_sat: wire.client_balance_sat,
            required_channel_confirmations: wire.required_channel_confirmations,
            funding_confirms_within_blocks: wire.funding_confirms_within_blocks,
            channel_expiry_blocks: wire.channel_expiry_blocks,
            token: wire.token,
            created_at: wire.created_at,
            announce_channel: wire.announce_channel,
            order_state: wire.order_state,
            channel: wire.channel,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info_fields() -> serde_json::Value {
        json!({
            "min_required_channel_confirmations": 0,
            "min_funding_confirms_within_blocks": 6,
            "supports_zero_channel_reserve": true,
            "max_channel_expiry_blocks": 52560,
            "min_initial_client_balance_sat": "0",
            "max_initial_client_balance_sat": "1000000",
            "min_initial_lsp_balance_sat": "100000",
            "max_initial_lsp_balance_sat": "10000000",
            "min_channel_balance_sat": "100000",
            "max_channel_balance_sat": "11000000"
        })
    }

    #[test]
    fn get_info_flat_or_wrapped() {
        let flat: GetInfoResponse = serde_json::from_value(info_fields()).unwrap();
        let mut old = json!({ "options": info_fields() });
        old["options"]["min_onchain_payment_confirmations"] = json!(null);
        old["options"]["min_onchain_payment_size_sat"] = json!(null);
        assert_eq!(serde_json::from_value::<GetInfoResponse>(old).unwrap(), flat);
        let mut with_extra_options = info_fields();
        with_extra_options["options"] = json!({"unrelated": true});
        assert_eq!(serde_json::from_value::<GetInfoResponse>(with_extra_options).unwrap(), flat);
        let mut missing = info_fields();
        missing.as_object_mut().unwrap().remove("max_channel_balance_sat");
        let error = serde_json::from_value::<GetInfoResponse>(missing).unwrap_err().to_string();
        assert!(error.contains("max_channel_balance_sat"), "{error}");
        assert_eq!(serde_json::to_value(&flat).unwrap(), info_fields(), "always emitted flat");
    }

    fn old_order(payment: serde_json::Value, expires_at: Option<&str>) -> serde_json::Value {
        let mut order = json!({
            "order_id": "o", "lsp_balance_sat": "2", "client_balance_sat": "1",
            "required_channel_confirmations": 0, "funding_confirms_within_blocks": 6,
            "channel_expiry_blocks": 10, "token": null, "created_at": "2025-06-01T12:00:00Z",
            "announce_channel": false, "order_state": "CREATED", "payment": payment, "channel": null
        });
        if let Some(expires_at) = expires_at {
            order["expires_at"] = json!(expires_at);
        }
        order
    }

    #[test]
    fn flat_payment_becomes_options() {
        let payment = json!({
            "state": "HOLD", "fee_total_sat": "5", "order_total_sat": "6", "bolt11_invoice": "lnbc1",
            "onchain_address": null, "min_onchain_payment_confirmations": null, "min_fee_for_0conf": null,
            "onchain_payment": null
        });
        let order: Order = serde_json::from_value(old_order(payment, Some("2025-06-01T13:00:00Z"))).unwrap();
        let bolt11 = order.payment.bolt11.unwrap();
        assert_eq!(
            (bolt11.state, bolt11.order_total_sat, bolt11.invoice.as_str()),
            (PaymentState::Hold, SatAmount(6), "lnbc1")
        );
        assert_eq!(bolt11.expires_at.to_string(), "2025-06-01T13:00:00.000Z");
        assert!(order.payment.onchain.is_none() && order.payment.bolt12.is_none());
        assert_eq!(order.token, None);
    }

    #[test]
    fn flat_payment_needs_what_it_cannot_invent() {
        let payment = json!({"state": "PAID", "fee_total_sat": "5", "order_total_sat": "6", "bolt11_invoice": "lnbc1"});
        assert!(serde_json::from_value::<Order>(old_order(payment.clone(), None)).is_err());
        let mut no_fee = payment;
        no_fee.as_object_mut().unwrap().remove("fee_total_sat");
        assert!(serde_json::from_value::<Order>(old_order(no_fee, Some("2025-06-01T13:00:00Z"))).is_err());
        let onchain = json!({
            "state": "EXPECT_PAYMENT", "fee_total_sat": "5", "order_total_sat": "6",
            "onchain_address": "bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan"
        });
        assert!(serde_json::from_value::<Order>(old_order(onchain, Some("2025-06-01T13:00:00Z"))).is_err());
    }

    #[test]
    fn current_and_empty_payments_are_untouched() {
        let order: Order = serde_json::from_value(old_order(json!({}), None)).unwrap();
        assert_eq!(order.payment, PaymentInfo::default());
        let current = json!({"bolt12": {
            "state": "EXPECT_PAYMENT", "expires_at": "2025-06-01T13:00:00Z",
            "fee_total_sat": "5", "order_total_sat": "6", "offer": "lno1"
        }, "state": "PAID"});
        let order: Order = serde_json::from_value(old_order(current, Some("2025-06-01T14:00:00Z"))).unwrap();
        assert_eq!(order.payment.bolt12.unwrap().state, PaymentState::ExpectPayment);
        assert!(order.payment.bolt11.is_none());
    }

    mod round_trip {
        use super::super::*;
        use crate::lsps1::msgs::{Bolt11Payment, Bolt12Payment, ChannelInfo, OnchainPayment};
        use proptest::prelude::*;

        const ADDRESSES: [&str; 3] = [
            "bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan",
            "bc1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsq2gp3gp",
            "bc1pd2wx0dfflnl5pz9jsjak48jhjk4g6vnkwq0d4jzrxnlpke4le4nq6zk2tv",
        ];

        fn datetime() -> impl Strategy<Value = DateTime> {
            (0u64..253_402_300_799_999).prop_map(|millis| DateTime::from_unix_millis(millis).unwrap())
        }

        fn address() -> impl Strategy<Value = OnchainAddress> {
            (0usize..3).prop_map(|index| ADDRESSES[index].parse().unwrap())
        }

        fn state() -> impl Strategy<Value = PaymentState> {
            prop_oneof![
                Just(PaymentState::ExpectPayment),
                Just(PaymentState::Hold),
                Just(PaymentState::Paid),
                Just(PaymentState::Refunded)
            ]
        }

        fn payment() -> impl Strategy<Value = PaymentInfo> {
            let bolt11 = (state(), datetime(), any::<u64>(), any::<u64>(), "[ -~]{0,40}").prop_map(
                |(state, expires_at, fee, total, invoice)| Bolt11Payment {
                    state,
                    expires_at,
                    fee_total_sat: SatAmount(fee),
                    order_total_sat: SatAmount(total),
                    invoice,
                },
            );
            let bolt12 = (state(), datetime(), any::<u64>(), any::<u64>(), "[ -~]{0,40}").prop_map(
                |(state, expires_at, fee, total, offer)| Bolt12Payment {
                    state,
                    expires_at,
                    fee_total_sat: SatAmount(fee),
                    order_total_sat: SatAmount(total),
                    offer,
                },
            );
            let onchain = (
                (state(), datetime(), any::<u64>(), any::<u64>()),
                (address(), any::<u16>(), proptest::option::of(any::<u64>()), proptest::option::of(address())),
            )
                .prop_map(
                    |((state, expires_at, fee, total), (address, confirmations, fee_rate, refund))| OnchainPayment {
                        state,
                        expires_at,
                        fee_total_sat: SatAmount(fee),
                        order_total_sat: SatAmount(total),
                        address,
                        min_onchain_payment_confirmations: confirmations,
                        min_fee_for_0conf: fee_rate.map(FeeRate),
                        refund_onchain_address: refund,
                    },
                );
            (proptest::option::of(bolt11), proptest::option::of(bolt12), proptest::option::of(onchain))
                .prop_map(|(bolt11, bolt12, onchain)| PaymentInfo { bolt11, bolt12, onchain })
        }

        fn channel() -> impl Strategy<Value = Option<ChannelInfo>> {
            proptest::option::of((datetime(), "[0-9a-f]{64}", any::<u32>(), datetime()).prop_map(
                |(funded_at, txid, vout, expires_at)| ChannelInfo {
                    funded_at,
                    funding_outpoint: format!("{txid}:{vout}").parse().unwrap(),
                    expires_at,
                },
            ))
        }

        fn order() -> impl Strategy<Value = Order> {
            (
                ("[ -~]{0,64}", any::<u64>(), any::<u64>(), any::<u16>(), any::<u16>(), any::<u32>()),
                (proptest::option::of("[ -~]{0,20}"), datetime(), any::<bool>(), 0u8..3, payment(), channel()),
            )
                .prop_map(
                    |(
                        (order_id, lsp, client, confirmations, within, expiry),
                        (token, created_at, announce, state, payment, channel),
                    )| Order {
                        order_id,
                        lsp_balance_sat: SatAmount(lsp),
                        client_balance_sat: SatAmount(client),
                        required_channel_confirmations: confirmations,
                        funding_confirms_within_blocks: within,
                        channel_expiry_blocks: expiry,
                        token,
                        created_at,
                        announce_channel: announce,
                        order_state: [OrderState::Created, OrderState::Completed, OrderState::Failed]
                            [usize::from(state)],
                        payment,
                        channel,
                    },
                )
        }

        proptest! {
            #[test]
            fn orders_round_trip_through_json(order in order()) {
                let json = serde_json::to_value(&order).unwrap();
                prop_assert!(json.get("expires_at").is_none(), "the old order-level expiry is never emitted");
                let decoded: Order = serde_json::from_value(json).unwrap();
                prop_assert_eq!(decoded, order);
            }

            #[test]
            fn get_info_round_trips_through_json(numbers in any::<(u16, u16, bool, u32)>(), amounts in any::<[u64; 6]>()) {
                let info = GetInfoResponse {
                    min_required_channel_confirmations: numbers.0,
                    min_funding_confirms_within_blocks: numbers.1,
                    supports_zero_channel_reserve: numbers.2,
                    max_channel_expiry_blocks: numbers.3,
                    min_initial_client_balance_sat: SatAmount(amounts[0]),
                    max_initial_client_balance_sat: SatAmount(amounts[1]),
                    min_initial_lsp_balance_sat: SatAmount(amounts[2]),
                    max_initial_lsp_balance_sat: SatAmount(amounts[3]),
                    min_channel_balance_sat: SatAmount(amounts[4]),
                    max_channel_balance_sat: SatAmount(amounts[5]),
                };
                let json = serde_json::to_value(&info).unwrap();
                prop_assert_eq!(serde_json::from_value::<GetInfoResponse>(json.clone()).unwrap(), info.clone());
                let wrapped = serde_json::json!({ "options": json });
                prop_assert_eq!(serde_json::from_value::<GetInfoResponse>(wrapped).unwrap(), info);
            }
        }
    }
}
