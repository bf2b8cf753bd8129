//! A stateless reference LSP built only from the `lsps` crate: every method decoded,
//! validated with the crate's validators, and answered. The benchmark measures it and the
//! fuzz target `server_payload` drives it, so both exercise the same code a real LSP runs
//! between the wire and its storage.

#![allow(dead_code)]

use std::str::FromStr;

use lsps::bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lsps::bitcoin::Network;
use lsps::client::{self, RequestId};
use lsps::jsonrpc::RpcError;
use lsps::lsps0::{ListProtocolsRequest, ListProtocolsResponse};
use lsps::lsps2::{BuyPolicy, OpeningFeeParams, PromiseKey, RawOpeningFeeParams};
use lsps::method::{Protocol, Request, Response};
use lsps::schema::{DateTime, MsatAmount, NodeId, Ppm, SatAmount, Scid};
use lsps::{lsps1, lsps2, lsps5};

/// The one order id the reference LSP knows.
pub const KNOWN_ORDER_ID: &str = "4f1c2a8e-6b3d-4e57-9a0f-2d8c7b6e5a41";

/// A reference LSP with fixed policy, serving one client.
pub struct ReferenceLsp {
    pub client: NodeId,
    pub now: DateTime,
    pub network: Network,
    pub lsps1_info: lsps1::GetInfoResponse,
    pub promise_keys: Vec<PromiseKey>,
    pub menu: Vec<OpeningFeeParams>,
}

impl ReferenceLsp {
    pub fn new() -> ReferenceLsp {
        let secp = Secp256k1::new();
        let client_key = SecretKey::from_slice(&[0x11; 32]).expect("valid key");
        let client = NodeId(PublicKey::from_secret_key(&secp, &client_key));
        let now = DateTime::from_unix_secs(1_748_779_200).expect("2025");
        let promise_keys = vec![PromiseKey::inbound_v1(1, [0x42; 32])];
        let raw = |min_fee_msat: u64, proportional: u32| RawOpeningFeeParams {
            min_fee_msat: MsatAmount(min_fee_msat),
            proportional: Ppm(proportional),
            valid_until: now.checked_add_secs(3600).expect("in range"),
            min_lifetime: 4320,
            max_client_to_self_delay: 2016,
            min_payment_size_msat: MsatAmount(10_000_000),
            max_payment_size_msat: MsatAmount(4_000_000_000),
        };
        let menu = vec![
            raw(2_000_000, 5000).seal(&promise_keys[0], &client),
            raw(3_000_000, 7500).seal(&promise_keys[0], &client),
        ];
        let lsps1_info = lsps1::GetInfoResponse {
            min_required_channel_confirmations: 0,
            min_funding_confirms_within_blocks: 6,
            supports_zero_channel_reserve: true,
            max_channel_expiry_blocks: 52_560,
            min_initial_client_balance_sat: SatAmount(0),
            max_initial_client_balance_sat: SatAmount(1_000_000),
            min_initial_lsp_balance_sat: SatAmount(100_000),
            max_initial_lsp_balance_sat: SatAmount(10_000_000),
            min_channel_balance_sat: SatAmount(100_000),
            max_channel_balance_sat: SatAmount(11_000_000),
        };
        ReferenceLsp { client, now, network: Network::Bitcoin, lsps1_info, promise_keys, menu }
    }

    /// Answers one decoded request.
    pub fn handle(&self, request: Request) -> Result<Response, RpcError> {
        Ok(match request {
            Request::Lsps0ListProtocols(_) => {
                Response::Lsps0ListProtocols(ListProtocolsResponse::for_enabled(&Protocol::ALL))
            }
            Request::Lsps1GetInfo(_) => Response::Lsps1GetInfo(self.lsps1_info.clone()),
            Request::Lsps1CreateOrder(order) => {
                lsps1::validate_create_order(&order, &self.lsps1_info, self.network)?;
                Response::Lsps1CreateOrder(self.order_for(&order)?)
            }
            Request::Lsps1GetOrder(lookup) if lookup.order_id == KNOWN_ORDER_ID => {
                Response::Lsps1GetOrder(self.order_for(&sample_create_order())?)
            }
            Request::Lsps1GetOrder(_) => return Err(lsps1::Lsps1Error::NotFound.into()),
            Request::Lsps2GetInfo(info) if info.token.as_deref().is_some_and(|t| t != "VIP") => {
                return Err(lsps2::Lsps2Error::UnrecognizedOrStaleToken.into())
            }
            Request::Lsps2GetInfo(_) => {
                Response::Lsps2GetInfo(lsps2::GetInfoResponse { opening_fee_params_menu: self.menu.clone() })
            }
            Request::Lsps2Buy(buy) => {
                let policy = BuyPolicy { max_receivable_msat: Some(MsatAmount(1_000_000_000)) };
                lsps2::validate_buy(&buy, &self.client, &self.promise_keys, self.now, &policy)?;
                Response::Lsps2Buy(lsps2::BuyResponse {
                    jit_channel_scid: Scid::from_parts(894_512, 3192, 1).expect("in range"),
                    lsp_cltv_expiry_delta: 144,
                    client_trusts_lsp: false,
                })
            }
            Request::Lsps5SetWebhook(set) => {
                lsps5::validate_set_webhook(&set)?;
                Response::Lsps5SetWebhook(lsps5::SetWebhookResponse {
                    num_webhooks: 1,
                    max_webhooks: 4,
                    no_change: false,
                })
            }
            Request::Lsps5ListWebhooks(_) => Response::Lsps5ListWebhooks(lsps5::ListWebhooksResponse {
                app_names: vec!["Example Wallet".into()],
                max_webhooks: 4,
            }),
            Request::Lsps5RemoveWebhook(remove) if remove.app_name == "Example Wallet" => {
                Response::Lsps5RemoveWebhook(lsps5::RemoveWebhookResponse {})
            }
            Request::Lsps5RemoveWebhook(_) => return Err(lsps5::Lsps5Error::AppNameNotFound.into()),
            Request::InboundHoldScid(_) => Response::InboundHoldScid(lsps::hold::HoldScidResponse {
                hold_scid: Scid::from_parts(894_512, 3192, 2).expect("in range"),
                fee_base_msat: 1000,
                fee_proportional_millionths: 100,
                cltv_expiry_delta: 72,
                hold_secs: 60,
            }),
        })
    }

    fn order_for(&self, request: &lsps1::CreateOrderRequest) -> Result<lsps1::Order, RpcError> {
        let fee = SatAmount(12_345);
        let total = lsps1::order_total_sat(fee, request.client_balance_sat).ok_or_else(RpcError::internal_error)?;
        let expires_at = self.now.checked_add_secs(3600).ok_or_else(RpcError::internal_error)?;
        let payment = lsps1::PaymentInfo {
            bolt11: Some(lsps1::Bolt11Payment {
                state: lsps1::PaymentState::ExpectPayment,
                expires_at,
                fee_total_sat: fee,
                order_total_sat: total,
                invoice: SAMPLE_INVOICE.into(),
            }),
            bolt12: None,
            onchain: None,
        };
        let created = lsps1::OrderState::Created;
        Ok(lsps1::Order::mirroring(request, KNOWN_ORDER_ID.into(), self.now, created, payment, None))
    }
}

/// A real BOLT11 invoice (from the conformance vectors) used as the order's hold invoice.
const SAMPLE_INVOICE: &str = "lnbc1123450n1p5rcsxqpp53w3h6un6z2g4q2qfvru0phgur0twggyv8az5z054vlz70xxujlrssp5ntf6s4tdfnvvv5jdmluswpmyrpxe3svgk4thwz3z5nwauwqnqlpsdzdf3f4q5e3yphhyer9wgsrge33vvexzwr995mxyvmy956x2dfh95ukzvrx95exgwrrxa3rvef4vy6rzxqrrsscqzysnp4qtnyz8vwpt3mw9w7mh5wnh7f6d6eam9f3xw3dzvycd8xlad2yymqv9qrsgql4xsr6vl3uda6dtemdyryqjyw5tg86vrg8rhcdzs8vzc98xexs89eqtmnyg9ljln465zknkkl4dv6uckhugdycx7rarc65sj632qhgsqwzgj2q";

fn sample_create_order() -> lsps1::CreateOrderRequest {
    lsps1::CreateOrderRequest {
        lsp_balance_sat: SatAmount(2_000_000),
        client_balance_sat: SatAmount(100_000),
        required_channel_confirmations: 0,
        funding_confirms_within_blocks: 6,
        channel_expiry_blocks: 13_140,
        token: None,
        refund_onchain_address: Some(
            lsps::schema::OnchainAddress::from_str("bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan").expect("valid"),
        ),
        announce_channel: false,
    }
}

/// One typical request payload per method, as a client would send it.
pub fn typical_requests(lsp: &ReferenceLsp) -> Vec<(&'static str, Vec<u8>)> {
    let id = RequestId::from_entropy([0x5a; 16]);
    let requests = [
        Request::Lsps0ListProtocols(ListProtocolsRequest {}),
        Request::Lsps1GetInfo(lsps1::GetInfoRequest {}),
        Request::Lsps1CreateOrder(sample_create_order()),
        Request::Lsps1GetOrder(lsps1::GetOrderRequest { order_id: KNOWN_ORDER_ID.into() }),
        Request::Lsps2GetInfo(lsps2::GetInfoRequest { token: None }),
        Request::Lsps2Buy(lsps2::BuyRequest {
            opening_fee_params: lsp.menu[0].clone(),
            payment_size_msat: Some(MsatAmount(42_000_000)),
        }),
        Request::Lsps5SetWebhook(lsps5::SetWebhookRequest {
            app_name: "Example Wallet".into(),
            webhook: "https://notify.example-wallet.com/v1/lsps5?l=02e6411d8e0ae3b7&t=3a1f9c0d6b7e4a25".into(),
        }),
        Request::Lsps5ListWebhooks(lsps5::ListWebhooksRequest {}),
        Request::Lsps5RemoveWebhook(lsps5::RemoveWebhookRequest { app_name: "Example Wallet".into() }),
    ];
    requests.into_iter().map(|request| (request.method().name(), client::encode_request(&id, &request))).collect()
}
