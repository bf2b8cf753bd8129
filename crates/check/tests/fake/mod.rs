//! A small in-process LSP for the checker's tests: LSPS0/1/2/5 on `inbound-lsps`' own server
//! pipeline and validation, answering as the spec says unless a planted [`Fault`] makes it
//! answer wrongly in one chosen way, or a [`Hostility`] makes it hostile.

// Each test crate uses part of the double.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;
use inbound_check::{
    inbox, Inbox, InboxSender, JitPayment, Link, LinkError, LinkFuture, LiveFuture, LivePayments, PaidOrder, PayerSaw,
    Received, ReceivedFuture, RefusedOrder, ShortMpp, WebhookReceiver, MPP_HOLD,
};
use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};
use lsps::jsonrpc::RpcError;
use lsps::lsps0::ListProtocolsResponse;
use lsps::lsps1::{
    validate_create_order, Bolt11Payment, GetInfoResponse, Lsps1Error, OnchainPayment, Order, OrderState, PaymentInfo,
    PaymentState,
};
use lsps::lsps2::{
    validate_buy, BuyPolicy, BuyResponse, GetInfoResponse as MenuResponse, Lsps2Error, PromiseKey, RawOpeningFeeParams,
};
use lsps::lsps5::{validate_set_webhook, ListWebhooksResponse, Lsps5Error, RemoveWebhookResponse, SetWebhookResponse};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{DateTime, MsatAmount, NodeId, OnchainAddress, Ppm, SatAmount, Scid};
use serde_json::{json, Value};

/// One wrong answer the fake can be made to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    NoFeatureBit,
    ZeroInProtocols,
    UnknownMethodAsParseError,
    IgnoreUnknownParams,
    StringDataOnNotFound,
    NumberIdAsString,
    AnswerBatch,
    AcceptTrailingNul,
    DeafAfterGarbage,
    MalformedExtraMessage,
    TotalOffByOne,
    InvoiceAmountWrong,
    OnchainWithoutRefund,
    IgnoreToken,
    OptionMismatchWithoutProperty,
    MenuUnsorted,
    MenuExtraKey,
    ShortValidity,
    SameScid,
    TooLargeForBelowMin,
    AcceptHttpWebhook,
    NoMaxWebhooksData,
    RemoveUnknownAnswersOk,
    NoWebhookRegistered,
    SkimTooMuch,
    PaidOrderFails,
    ShortMppFailedAtOnce,
    RefundTaken,
}

/// A hostile LSP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostility {
    /// Never answers.
    Silent,
    /// Answers every request with bytes that are not JSON.
    Garbage,
    /// Sends 100 unrelated well-formed messages before each answer.
    Flood,
    /// Answers with payloads larger than a BOLT8 message.
    Oversized,
}

pub const NETWORK: Network = Network::Regtest;
const MAX_WEBHOOKS: u32 = 4;

#[derive(Default)]
struct State {
    orders: BTreeMap<String, Order>,
    webhooks: BTreeMap<String, String>,
    next_scid: u64,
    deaf: bool,
}

/// The receiver the fake LSP "POSTs" its `webhook_registered` notifications to.
pub struct FakeReceiver {
    sender: tokio::sync::mpsc::UnboundedSender<Received>,
    receiver: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Received>>,
}

const RECEIVER_URL: &str = "https://receiver.fake.test";

impl WebhookReceiver for FakeReceiver {
    fn url(&self, path: &str) -> String {
        format!("{RECEIVER_URL}{path}")
    }

    fn next_until(&self, deadline: tokio::time::Instant) -> ReceivedFuture<'_> {
        Box::pin(async move {
            let mut receiver = self.receiver.lock().await;
            tokio::time::timeout_at(deadline, receiver.recv()).await.ok().flatten()
        })
    }

    fn refused(&self) -> u64 {
        0
    }
}

pub struct FakeLsp {
    pub receiver: Arc<FakeReceiver>,
    faults: HashSet<Fault>,
    hostility: Option<Hostility>,
    sender: InboxSender,
    state: Mutex<State>,
    promise_key: PromiseKey,
    client: NodeId,
    invoice_key: SecretKey,
    reconnected: AtomicBool,
}

impl FakeLsp {
    pub fn new(faults: &[Fault], hostility: Option<Hostility>) -> (FakeLsp, Inbox) {
        let (sender, inbox) = inbox();
        let secp = Secp256k1::new();
        let client_key = SecretKey::from_slice(&[7; 32]).expect("a valid key");
        let (sender_half, receiver_half) = tokio::sync::mpsc::unbounded_channel();
        let receiver = Arc::new(FakeReceiver { sender: sender_half, receiver: tokio::sync::Mutex::new(receiver_half) });
        let fake = FakeLsp {
            receiver,
            faults: faults.iter().copied().collect(),
            hostility,
            sender,
            state: Mutex::new(State::default()),
            promise_key: PromiseKey::inbound_v1(1, [9; 32]),
            client: NodeId(PublicKey::from_secret_key(&secp, &client_key)),
            invoice_key: SecretKey::from_slice(&[8; 32]).expect("a valid key"),
            reconnected: AtomicBool::new(false),
        };
        (fake, inbox)
    }

    pub fn reconnected(&self) -> bool {
        self.reconnected.load(Ordering::Relaxed)
    }

    fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    fn answer(&self, payload: &[u8]) {
        match self.hostility {
            Some(Hostility::Silent) => return,
            Some(Hostility::Garbage) => return self.sender.push(b"\x00\xffnot json at all".to_vec()),
            Some(Hostility::Oversized) => return self.sender.push(vec![b' '; 70_000]),
            Some(Hostility::Flood) => {
                for index in 0..100 {
                    self.sender.push(format!(r#"{{"jsonrpc":"2.0","id":"flood-{index}","result":{{}}}}"#).into_bytes());
                }
            }
            None => {}
        }
        let mut state = self.state.lock().expect("not poisoned");
        if state.deaf {
            return;
        }
        let value: Option<Value> = serde_json::from_slice(payload).ok();
        if self.has(Fault::AnswerBatch) {
            if let Some(Value::Array(requests)) = &value {
                if let Some(first) = requests.first() {
                    let first = serde_json::to_vec(first).unwrap_or_default();
                    drop(state);
                    return self.answer(&first);
                }
            }
        }
        let payload = match payload.split_last() {
            Some((0, rest)) if self.has(Fault::AcceptTrailingNul) => rest,
            _ => payload,
        };
        if self.has(Fault::NumberIdAsString) {
            if let Some(number) = value.as_ref().and_then(|v| v.get("id")).and_then(Value::as_u64) {
                return self.sender.push(
                    serde_json::to_vec(
                        &json!({ "jsonrpc": "2.0", "id": number.to_string(), "result": { "protocols": [1, 2, 5] } }),
                    )
                    .unwrap_or_default(),
                );
            }
        }
        let method =
            value.as_ref().and_then(|v| v.get("method")).and_then(Value::as_str).unwrap_or_default().to_owned();
        if self.has(Fault::UnknownMethodAsParseError) && method.starts_with("lsps0.inbound_check") {
            return self.sender.push(lsps::server::parse_error_response());
        }
        let has_params =
            value.as_ref().and_then(|v| v.get("params")).and_then(Value::as_object).is_some_and(|p| !p.is_empty());
        if self.has(Fault::IgnoreUnknownParams) && method == "lsps0.list_protocols" && has_params {
            if let Some(mut request) = value.clone() {
                request["params"] = json!({});
                drop(state);
                return self.answer(&serde_json::to_vec(&request).unwrap_or_default());
            }
        }
        let enabled = [Protocol::Lsps1, Protocol::Lsps2, Protocol::Lsps5];
        let answer = lsps::server::handle_payload(payload, &enabled, |request| self.handle(&mut state, request));
        if let Some(mut answer) = answer {
            if self.has(Fault::MenuExtraKey) && method == "lsps2.get_info" {
                answer = with_extra_menu_key(&answer);
            }
            if answer == lsps::server::parse_error_response() && self.has(Fault::DeafAfterGarbage) {
                state.deaf = true;
            }
            self.sender.push(answer);
            if self.has(Fault::MalformedExtraMessage) && method == "lsps0.list_protocols" {
                self.sender.push(br#"{"jsonrpc":"2.0"}"#.to_vec());
            }
        }
    }

    fn handle(&self, state: &mut State, request: Request) -> Result<Response, RpcError> {
        match request {
            Request::Lsps0ListProtocols(_) => {
                let mut protocols = vec![1, 2, 5];
                if self.has(Fault::ZeroInProtocols) {
                    protocols.insert(0, 0);
                }
                Ok(Response::Lsps0ListProtocols(ListProtocolsResponse { protocols }))
            }
            Request::Lsps1GetInfo(_) => Ok(Response::Lsps1GetInfo(lsps1_info())),
            Request::Lsps1CreateOrder(request) => {
                validate_create_order(&request, &lsps1_info(), NETWORK).map_err(|error| self.strip_property(error))?;
                if request.token.as_deref().is_some_and(|token| !token.is_empty()) && !self.has(Fault::IgnoreToken) {
                    return Err(Lsps1Error::UnrecognizedOrStaleToken.to_rpc_error());
                }
                let order = self.order(state.orders.len(), &request);
                state.orders.insert(order.order_id.clone(), order.clone());
                Ok(Response::Lsps1CreateOrder(order))
            }
            Request::Lsps1GetOrder(request) => match state.orders.get(&request.order_id) {
                Some(order) => Ok(Response::Lsps1GetOrder(order.clone())),
                None if self.has(Fault::StringDataOnNotFound) => {
                    Err(RpcError::with_data(101, "Not found", Value::String("no such order".into())))
                }
                None => Err(Lsps1Error::NotFound.to_rpc_error()),
            },
            Request::Lsps2GetInfo(request) => {
                if request.token.is_some() {
                    return Err(Lsps2Error::UnrecognizedOrStaleToken.into());
                }
                Ok(Response::Lsps2GetInfo(self.menu()))
            }
            Request::Lsps2Buy(request) => {
                let now = now();
                let validated = validate_buy(
                    &request,
                    &self.client,
                    std::slice::from_ref(&self.promise_key),
                    now,
                    &BuyPolicy::default(),
                );
                match validated {
                    Err(Lsps2Error::PaymentSizeTooSmall) if self.has(Fault::TooLargeForBelowMin) => {
                        return Err(Lsps2Error::PaymentSizeTooLarge.into())
                    }
                    Err(error) => return Err(error.into()),
                    Ok(_) => {}
                }
                if !self.has(Fault::SameScid) {
                    state.next_scid += 1;
                }
                let scid = Scid::from_parts(800_000, 1, u16::try_from(state.next_scid).unwrap_or(0)).expect("in range");
                Ok(Response::Lsps2Buy(BuyResponse {
                    jit_channel_scid: scid,
                    lsp_cltv_expiry_delta: 144,
                    client_trusts_lsp: false,
                }))
            }
            Request::Lsps5SetWebhook(request) => {
                let accepted = if self.has(Fault::AcceptHttpWebhook) && request.webhook.starts_with("http://") {
                    Ok(())
                } else {
                    validate_set_webhook(&request).map(drop)
                };
                accepted.map_err(RpcError::from)?;
                let no_change = state.webhooks.get(&request.app_name) == Some(&request.webhook);
                if !state.webhooks.contains_key(&request.app_name) && state.webhooks.len() >= MAX_WEBHOOKS as usize {
                    let max_webhooks = (!self.has(Fault::NoMaxWebhooksData)).then_some(MAX_WEBHOOKS);
                    return Err(Lsps5Error::TooManyWebhooks { max_webhooks }.into());
                }
                let posts =
                    !no_change && request.webhook.starts_with(RECEIVER_URL) && !self.has(Fault::NoWebhookRegistered);
                if posts {
                    let path = request.webhook[RECEIVER_URL.len()..].to_owned();
                    let _ = self.receiver.sender.send(Received { path, method: "lsps5.webhook_registered".into() });
                }
                state.webhooks.insert(request.app_name, request.webhook);
                let num_webhooks = u32::try_from(state.webhooks.len()).unwrap_or(u32::MAX);
                Ok(Response::Lsps5SetWebhook(SetWebhookResponse {
                    num_webhooks,
                    max_webhooks: MAX_WEBHOOKS,
                    no_change,
                }))
            }
            Request::Lsps5ListWebhooks(_) => Ok(Response::Lsps5ListWebhooks(ListWebhooksResponse {
                app_names: state.webhooks.keys().cloned().collect(),
                max_webhooks: MAX_WEBHOOKS,
            })),
            Request::Lsps5RemoveWebhook(request) => {
                if state.webhooks.remove(&request.app_name).is_none() && !self.has(Fault::RemoveUnknownAnswersOk) {
                    return Err(Lsps5Error::AppNameNotFound.into());
                }
                Ok(Response::Lsps5RemoveWebhook(RemoveWebhookResponse {}))
            }
            Request::InboundHoldScid(_) => Err(RpcError::new(-32601, "method not found")),
        }
    }

    fn strip_property(&self, mut error: RpcError) -> RpcError {
        if self.has(Fault::OptionMismatchWithoutProperty) && error.code == 100 {
            error.data = Some(json!({}));
        }
        error
    }

    fn order(&self, index: usize, request: &lsps::lsps1::CreateOrderRequest) -> Order {
        let fee = SatAmount(1_000);
        let mut total = fee.get() + request.client_balance_sat.get();
        if self.has(Fault::TotalOffByOne) {
            total += 1;
        }
        let invoice_sat = if self.has(Fault::InvoiceAmountWrong) { total + 1 } else { total };
        let expires_at = now().checked_add_secs(3600).expect("in range");
        let onchain = self.has(Fault::OnchainWithoutRefund).then(|| OnchainPayment {
            state: PaymentState::ExpectPayment,
            expires_at,
            fee_total_sat: fee,
            order_total_sat: SatAmount(total),
            address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080".parse::<OnchainAddress>().expect("an address"),
            min_onchain_payment_confirmations: 1,
            min_fee_for_0conf: None,
            refund_onchain_address: None,
        });
        let payment = PaymentInfo {
            bolt11: Some(Bolt11Payment {
                state: PaymentState::ExpectPayment,
                expires_at,
                fee_total_sat: fee,
                order_total_sat: SatAmount(total),
                invoice: self.invoice(invoice_sat, index),
            }),
            bolt12: None,
            onchain,
        };
        Order::mirroring(
            request,
            format!("fake-order-{index}"),
            now().truncated_to_millis(),
            OrderState::Created,
            payment,
            None,
        )
    }

    fn invoice(&self, amount_sat: u64, index: usize) -> String {
        let secp = Secp256k1::new();
        let hash = sha256::Hash::hash(&index.to_be_bytes());
        InvoiceBuilder::new(Currency::Regtest)
            .description("fake LSP order".into())
            .payment_hash(hash)
            .payment_secret(PaymentSecret([3; 32]))
            .current_timestamp()
            .min_final_cltv_expiry_delta(144)
            .amount_milli_satoshis(amount_sat * 1000)
            .build_signed(|message| secp.sign_ecdsa_recoverable(message, &self.invoice_key))
            .expect("a valid invoice")
            .to_string()
    }

    fn menu(&self) -> MenuResponse {
        let validity = if self.has(Fault::ShortValidity) { 300 } else { 3600 };
        let valid_until = now().checked_add_secs(validity).expect("in range");
        let entry = |min_fee_msat: u64, proportional: u32| RawOpeningFeeParams {
            min_fee_msat: MsatAmount(min_fee_msat),
            proportional: Ppm(proportional),
            valid_until,
            min_lifetime: 1008,
            max_client_to_self_delay: 2016,
            min_payment_size_msat: MsatAmount(10_000_000),
            max_payment_size_msat: MsatAmount(1_000_000_000),
        };
        let mut raw = vec![entry(2_000_000, 1_000), entry(3_000_000, 2_000)];
        if self.has(Fault::MenuUnsorted) {
            raw.reverse();
        }
        MenuResponse {
            opening_fee_params_menu: raw.into_iter().map(|raw| raw.seal(&self.promise_key, &self.client)).collect(),
        }
    }
}

/// The answer with a key the spec does not define added to every menu entry.
fn with_extra_menu_key(answer: &[u8]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(answer).expect("the fake's own JSON");
    if let Some(entries) = value.pointer_mut("/result/opening_fee_params_menu").and_then(Value::as_array_mut) {
        for entry in entries {
            entry["inbound_extra"] = json!(1);
        }
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

fn lsps1_info() -> GetInfoResponse {
    GetInfoResponse {
        min_required_channel_confirmations: 1,
        min_funding_confirms_within_blocks: 3,
        supports_zero_channel_reserve: false,
        max_channel_expiry_blocks: 4320,
        min_initial_client_balance_sat: SatAmount(0),
        max_initial_client_balance_sat: SatAmount(100_000),
        min_initial_lsp_balance_sat: SatAmount(20_000),
        max_initial_lsp_balance_sat: SatAmount(1_000_000),
        min_channel_balance_sat: SatAmount(20_000),
        max_channel_balance_sat: SatAmount(1_100_000),
    }
}

fn now() -> DateTime {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
    DateTime::from_unix_millis(u64::try_from(millis).expect("fits")).expect("before 9999")
}

impl Link for FakeLsp {
    fn send(&self, payload: Vec<u8>) -> Result<(), LinkError> {
        self.answer(&payload);
        Ok(())
    }

    fn reconnect(&self) -> LinkFuture<'_> {
        self.reconnected.store(true, Ordering::Relaxed);
        self.state.lock().expect("not poisoned").deaf = false;
        Box::pin(async { Ok(()) })
    }

    fn advertises_lsps(&self) -> Option<bool> {
        Some(!self.has(Fault::NoFeatureBit))
    }
}

/// The fake's payments (`--pay`): a JIT payment and a paid order, as a conforming LSP (or one
/// with a payment fault) would leave them.
pub struct FakeLive {
    faults: HashSet<Fault>,
}

impl LivePayments for FakeLive {
    fn refused_order(&self) -> LiveFuture<'_, RefusedOrder> {
        Box::pin(async move {
            let request = live_request();
            let mut order = FakeLsp::new(&[], None).0.order(1, &request);
            order.order_state = OrderState::Failed;
            if let Some(bolt11) = order.payment.bolt11.as_mut() {
                bolt11.state = PaymentState::Refunded;
            }
            let payment = if self.faults.contains(&Fault::RefundTaken) { PayerSaw::Taken } else { PayerSaw::Refunded };
            Ok(RefusedOrder { payment, order: Some(order), waited: Duration::from_secs(60) })
        })
    }

    fn short_mpp(&self) -> LiveFuture<'_, ShortMpp> {
        Box::pin(async move {
            let failed_after = if self.faults.contains(&Fault::ShortMppFailedAtOnce) {
                Some(Duration::from_secs(1))
            } else {
                Some(MPP_HOLD + Duration::from_secs(2))
            };
            Ok(ShortMpp { failed_after, waited: Duration::from_secs(150), channel_opened: false })
        })
    }

    fn jit_payment(&self) -> LiveFuture<'_, JitPayment> {
        Box::pin(async move {
            let (payment_msat, min_fee_msat, proportional) = (50_000_000, 2_000_000, 1_000);
            let fee = lsps::lsps2::opening_fee_msat(payment_msat, min_fee_msat, proportional).expect("no overflow");
            let skim = if self.faults.contains(&Fault::SkimTooMuch) { fee + 1 } else { fee };
            let received_msat = Some(payment_msat - skim);
            Ok(JitPayment { payment_msat, min_fee_msat, proportional, received_msat, note: "fake".into() })
        })
    }

    fn paid_order(&self) -> LiveFuture<'_, PaidOrder> {
        Box::pin(async move {
            let request = live_request();
            let fake = FakeLsp::new(&[], None).0;
            let mut order = fake.order(0, &request);
            if self.faults.contains(&Fault::PaidOrderFails) {
                order.order_state = OrderState::Failed;
            } else {
                order.order_state = OrderState::Completed;
                order.channel = Some(lsps::lsps1::ChannelInfo {
                    funded_at: now(),
                    funding_outpoint: format!("{}:0", "ab".repeat(32)).parse().expect("an outpoint"),
                    expires_at: now().checked_add_secs(86_400).expect("in range"),
                });
            }
            Ok(PaidOrder { request, order, channel_capacity_sat: Some(100_000) })
        })
    }
}

/// The order request of the fake's live checks.
fn live_request() -> lsps::lsps1::CreateOrderRequest {
    lsps::lsps1::CreateOrderRequest {
        lsp_balance_sat: SatAmount(100_000),
        client_balance_sat: SatAmount(0),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 144,
        token: None,
        refund_onchain_address: None,
        announce_channel: false,
    }
}

/// Options for checking `fake`: a short timeout, its webhook receiver and its payments.
pub fn options(fake: &FakeLsp) -> inbound_check::CheckOptions {
    let mut options = inbound_check::CheckOptions::new("fake LSP", NETWORK);
    options.request_timeout = Duration::from_millis(300);
    options.webhooks = Some(Arc::clone(&fake.receiver) as Arc<dyn WebhookReceiver>);
    options.live = Some(Arc::new(FakeLive { faults: fake.faults.clone() }));
    options
}
