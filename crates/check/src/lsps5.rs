//! LSPS5 (bLIP-55): a webhook set, set again, listed and removed, and every error
//! `set_webhook` and `remove_webhook` define. The webhooks point at `https://inbound-check.invalid/…`
//! (a name that never resolves), carry app names starting with `inbound-check-`, and are removed
//! before the run ends.

use std::time::Duration;

use lsps::lsps5::{codes, ListWebhooksResponse, SetWebhookResponse, MAX_APP_NAME_BYTES};
use serde_json::{json, Value};

use crate::catalogue::Check;
use crate::lsps0::expected;
use crate::lsps1::expect_code;
use crate::session::{fresh_id, Reply, Session, Verdict};
use crate::webhooks::WebhookReceiver;
use tokio::time::Instant;

/// LSPS5's checks.
pub(crate) const CHECKS: &[Check] = &[
    Check::Lsps5SetWebhook,
    Check::Lsps5WebhookRegistered,
    Check::Lsps5NoChange,
    Check::Lsps5List,
    Check::Lsps5TooLong,
    Check::Lsps5UrlParseError,
    Check::Lsps5UnsupportedProtocol,
    Check::Lsps5TooMany,
    Check::Lsps5Remove,
    Check::Lsps5RemoveUnknown,
];

/// The most webhooks the checker registers to reach the limit.
const MAX_FILL: u32 = 32;

fn webhook() -> String {
    format!("https://inbound-check.invalid/{}", fresh_id())
}

pub(crate) async fn run(session: &mut Session<'_>) {
    let tag = &fresh_id()[..12];
    let app = format!("inbound-check-{tag}");
    let receiver = session.options.webhooks.clone();
    let path = format!("/inbound-check/{tag}");
    let url = receiver.as_ref().map_or_else(webhook, |receiver| receiver.url(&path));
    let exchange = session.call("lsps5.set_webhook", json!({ "app_name": app, "webhook": url })).await;
    let first = match &exchange.reply {
        Reply::Result(result) => {
            serde_json::from_value::<SetWebhookResponse>(result.clone()).map_err(|e| e.to_string())
        }
        Reply::Error { code: Some(code), .. } if !spec_code(*code) => {
            let why = format!(
                "the LSP refuses to register a webhook for this node (error {code}; it may want a channel or an \
                 LSPS1/LSPS2 flow first)"
            );
            session.skip_all(CHECKS, &why);
            return;
        }
        other => Err(expected("a set_webhook result", other, &exchange)),
    };
    let first = match first {
        Ok(first) if !first.no_change && first.num_webhooks >= 1 && first.num_webhooks <= first.max_webhooks => {
            session.judge(
                Check::Lsps5SetWebhook,
                &exchange,
                Verdict::Pass(format!("{} of {}", first.num_webhooks, first.max_webhooks)),
            );
            first
        }
        Ok(first) => {
            let problem = format!(
                "num_webhooks {}, max_webhooks {}, no_change {}",
                first.num_webhooks, first.max_webhooks, first.no_change
            );
            session.judge(Check::Lsps5SetWebhook, &exchange, Verdict::Fail(problem));
            first
        }
        Err(problem) => {
            session.judge(Check::Lsps5SetWebhook, &exchange, Verdict::Fail(problem));
            session.skip_all(&CHECKS[1..], "set_webhook failed");
            return;
        }
    };

    let exchange = session.call("lsps5.set_webhook", json!({ "app_name": app, "webhook": url })).await;
    let verdict = match &exchange.reply {
        Reply::Result(result) => match serde_json::from_value::<SetWebhookResponse>(result.clone()) {
            Ok(again) if again.no_change && again.num_webhooks == first.num_webhooks => {
                Verdict::Pass("no_change true".into())
            }
            Ok(again) => Verdict::Fail(format!("no_change {}, num_webhooks {}", again.no_change, again.num_webhooks)),
            Err(error) => Verdict::Fail(error.to_string()),
        },
        other => Verdict::Fail(expected("a set_webhook result", other, &exchange)),
    };
    session.judge(Check::Lsps5NoChange, &exchange, verdict);

    let posted = match receiver {
        None => Verdict::Skip("needs a webhook receiver the LSP can reach (inbound check --webhook-listen)".into()),
        Some(receiver) => webhook_registered(receiver.as_ref(), &path, session.options.request_timeout * 3).await,
    };
    session.record(Check::Lsps5WebhookRegistered, posted, None);

    let (exchange, listed) = list(session).await;
    let verdict = match &listed {
        Ok(list)
            if list.app_names.contains(&app)
                && !list.app_names.contains(&url)
                && list.max_webhooks == first.max_webhooks =>
        {
            Verdict::Pass(format!("{} names", list.app_names.len()))
        }
        Ok(list) => Verdict::Fail(format!("app_names {:?}, max_webhooks {}", list.app_names, list.max_webhooks)),
        Err(problem) => Verdict::Fail(problem.clone()),
    };
    session.judge(Check::Lsps5List, &exchange, verdict);

    let long_name = format!("inbound-check-{}", "x".repeat(MAX_APP_NAME_BYTES));
    let errors = [
        (Check::Lsps5TooLong, json!({ "app_name": long_name, "webhook": url }), codes::TOO_LONG),
        (
            Check::Lsps5UrlParseError,
            json!({ "app_name": app, "webhook": "inbound check: not a URL" }),
            codes::URL_PARSE_ERROR,
        ),
        (
            Check::Lsps5UnsupportedProtocol,
            json!({ "app_name": app, "webhook": format!("http://inbound-check.invalid/{tag}") }),
            codes::UNSUPPORTED_PROTOCOL,
        ),
    ];
    for (check, params, code) in errors {
        let exchange = session.call("lsps5.set_webhook", params).await;
        let verdict = expect_code(&exchange, code);
        session.judge(check, &exchange, verdict);
    }

    let extra = too_many(session, tag, first.max_webhooks).await;
    for name in &extra {
        session.call("lsps5.remove_webhook", json!({ "app_name": name })).await;
    }

    let exchange = session.call("lsps5.remove_webhook", json!({ "app_name": app })).await;
    let removed = match &exchange.reply {
        Reply::Result(Value::Object(_)) => {
            let (_, listed) = list(session).await;
            match listed {
                Ok(list) if !list.app_names.contains(&app) => Verdict::Pass("removed".into()),
                Ok(_) => Verdict::Fail("answered, but the name is still listed".into()),
                Err(problem) => Verdict::Fail(format!("listing afterwards: {problem}")),
            }
        }
        other => Verdict::Fail(expected("{}", other, &exchange)),
    };
    session.judge(Check::Lsps5Remove, &exchange, removed);

    let exchange = session.call("lsps5.remove_webhook", json!({ "app_name": app })).await;
    let verdict = expect_code(&exchange, codes::APP_NAME_NOT_FOUND);
    session.judge(Check::Lsps5RemoveUnknown, &exchange, verdict);
}

/// Waits until `wait` for the verified `webhook_registered` POST to `path` (delivery is
/// asynchronous: the LSP may POST before or after answering).
async fn webhook_registered(receiver: &dyn WebhookReceiver, path: &str, wait: Duration) -> Verdict {
    let deadline = Instant::now() + wait;
    loop {
        match receiver.next_until(deadline).await {
            Some(received) if received.path == path && received.method == "lsps5.webhook_registered" => {
                return Verdict::Pass("a signed webhook_registered arrived at the new webhook".into());
            }
            // Another notification, or one for another webhook: not this check's business.
            Some(_) => {}
            None => {
                return Verdict::Fail(format!(
                    "no verified lsps5.webhook_registered arrived within {} s ({} POSTs refused by the receiver)",
                    wait.as_secs(),
                    receiver.refused()
                ))
            }
        }
    }
}

/// Registers new names until the LSP answers 503 (or it took one more than `max_webhooks`);
/// returns the names registered, for removal.
async fn too_many(session: &mut Session<'_>, tag: &str, max_webhooks: u32) -> Vec<String> {
    let mut registered = Vec::new();
    if max_webhooks > MAX_FILL {
        let why = format!("max_webhooks is {max_webhooks}; the checker fills at most {MAX_FILL}");
        session.record(Check::Lsps5TooMany, Verdict::Skip(why), None);
        return registered;
    }
    for index in 0..=max_webhooks {
        let name = format!("inbound-check-{tag}-{index}");
        let exchange = session.call("lsps5.set_webhook", json!({ "app_name": name, "webhook": webhook() })).await;
        match &exchange.reply {
            Reply::Result(_) => registered.push(name),
            Reply::Error { code: Some(code), data } if *code == i64::from(codes::TOO_MANY_WEBHOOKS) => {
                let limit = data.as_ref().and_then(|data| data.get("max_webhooks")).and_then(Value::as_u64);
                let verdict = match limit {
                    Some(limit) if limit == u64::from(max_webhooks) => {
                        Verdict::Pass(format!("503 with max_webhooks {limit}"))
                    }
                    Some(limit) => {
                        Verdict::Fail(format!("503 with max_webhooks {limit}, set_webhook said {max_webhooks}"))
                    }
                    None => Verdict::Fail("503 without data.max_webhooks".into()),
                };
                session.judge(Check::Lsps5TooMany, &exchange, verdict);
                return registered;
            }
            other => {
                let verdict = Verdict::Fail(expected("a result or error 503", other, &exchange));
                session.judge(Check::Lsps5TooMany, &exchange, verdict);
                return registered;
            }
        }
    }
    let verdict = Verdict::Fail(format!("{} webhooks registered beyond max_webhooks {max_webhooks}", registered.len()));
    session.record(Check::Lsps5TooMany, verdict, None);
    registered
}

async fn list(session: &mut Session<'_>) -> (crate::session::Exchange, Result<ListWebhooksResponse, String>) {
    let exchange = session.call("lsps5.list_webhooks", json!({})).await;
    let listed = match &exchange.reply {
        Reply::Result(result) => {
            serde_json::from_value::<ListWebhooksResponse>(result.clone()).map_err(|e| e.to_string())
        }
        other => Err(expected("a list_webhooks result", other, &exchange)),
    };
    (exchange, listed)
}

/// Whether `code` is one bLIP-55 (or LSPS0) defines for `set_webhook`.
fn spec_code(code: i64) -> bool {
    [-32700, -32602, -32601, 500, 501, 502, 503].contains(&code)
}
