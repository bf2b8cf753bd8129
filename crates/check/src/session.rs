//! One run against one LSP: requests out over the [`Link`], answers matched by id from the
//! [`Inbox`] within a timeout, every message the LSP sends checked for format on the way, and
//! the findings collected.
//!
//! Robustness against a hostile LSP: each exchange waits at most the request timeout and reads
//! at most [`MAX_UNRELATED_PER_EXCHANGE`] messages that are not its answer; an LSP that stays
//! silent after a reconnect is marked dead, and every later exchange fails at once instead of
//! waiting again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lsps::schema::DateTime;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::catalogue::{Check, Level};
use crate::link::{Inbox, Link};
use crate::report::{Evidence, Finding, Outcome};
use crate::CheckOptions;

/// Messages that are not the awaited answer one exchange reads before giving up (a flood).
pub const MAX_UNRELATED_PER_EXCHANGE: usize = 64;

/// Characters of a payload kept in a report.
const EVIDENCE_CHARS: usize = 400;

/// Malformed messages kept as evidence.
const MAX_MALFORMED_KEPT: usize = 4;

/// What a check concluded, before its level turns it into an [`Outcome`].
pub(crate) enum Verdict {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// The LSP's answer to one request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A response with `result` (any JSON; the check judges its shape).
    Result(Value),
    /// A response with `error`.
    Error { code: Option<i64>, data: Option<Value> },
    /// A message with the awaited id that is not a response.
    Malformed,
    /// No answer within the timeout (or the LSP is dead).
    Silent,
    /// Too many other messages arrived while waiting.
    Flooded,
    /// The request could not be sent.
    NotSent,
}

/// A request and its answer.
pub(crate) struct Exchange {
    pub(crate) reply: Reply,
    /// The `id` member of the answer (`Value::Null` for `null`), when one was matched.
    pub(crate) answer_id: Option<Value>,
    pub(crate) evidence: Evidence,
}

pub(crate) struct Session<'a> {
    link: &'a dyn Link,
    inbox: &'a mut Inbox,
    pub(crate) options: &'a CheckOptions,
    findings: Vec<Finding>,
    malformed: Vec<Evidence>,
    messages_seen: usize,
    /// Error answers seen, and the first whose `data` was not an object.
    errors_seen: usize,
    bad_error_data: Option<Evidence>,
    dead: bool,
}

impl<'a> Session<'a> {
    pub(crate) fn new(link: &'a dyn Link, inbox: &'a mut Inbox, options: &'a CheckOptions) -> Session<'a> {
        Session {
            link,
            inbox,
            options,
            findings: Vec::new(),
            malformed: Vec::new(),
            messages_seen: 0,
            errors_seen: 0,
            bad_error_data: None,
            dead: false,
        }
    }

    pub(crate) fn link(&self) -> &dyn Link {
        self.link
    }

    /// Records `check`'s verdict; the check's level decides FAIL or WARN for a broken rule.
    pub(crate) fn record(&mut self, check: Check, verdict: Verdict, evidence: Option<Evidence>) {
        let spec = check.spec();
        let (outcome, detail) = match verdict {
            Verdict::Pass(detail) => (Outcome::Pass, detail),
            Verdict::Skip(detail) => (Outcome::Skip, detail),
            Verdict::Fail(detail) => match spec.level {
                Level::Must => (Outcome::Fail, detail),
                Level::Should => (Outcome::Warn, detail),
                Level::May => (Outcome::Skip, detail),
            },
        };
        let evidence = evidence.filter(|_| outcome != Outcome::Pass && outcome != Outcome::Skip);
        self.findings.retain(|finding| finding.check != spec.name);
        self.findings.push(Finding {
            check: spec.name,
            protocol: spec.protocol,
            level: spec.level,
            source: spec.source,
            outcome,
            detail,
            evidence,
        });
    }

    /// Records a check decided by one exchange.
    pub(crate) fn judge(&mut self, check: Check, exchange: &Exchange, verdict: Verdict) {
        self.record(check, verdict, Some(exchange.evidence.clone()));
    }

    /// Marks every check in `checks` skipped with `why`.
    pub(crate) fn skip_all(&mut self, checks: &[Check], why: &str) {
        for check in checks {
            self.record(*check, Verdict::Skip(why.to_owned()), None);
        }
    }

    pub(crate) fn recorded(&self, check: Check) -> bool {
        self.findings.iter().any(|finding| finding.check == check.name())
    }

    /// Malformed messages kept as evidence, and how many messages arrived in all.
    pub(crate) fn malformed(&self) -> (&[Evidence], usize) {
        (&self.malformed, self.messages_seen)
    }

    /// Error answers seen, and the first whose `data` was not an object.
    pub(crate) fn error_data(&self) -> (usize, Option<Evidence>) {
        (self.errors_seen, self.bad_error_data.clone())
    }

    /// Messages the inbox dropped: (full, oversized).
    pub(crate) fn dropped(&self) -> (usize, usize) {
        (self.inbox.dropped_full(), self.inbox.dropped_oversized())
    }

    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// The current time as an LSPS datetime.
    pub(crate) fn now(&self) -> DateTime {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis());
        u64::try_from(millis).ok().and_then(DateTime::from_unix_millis).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// Calls `method` with by-name `params` and a fresh random string id.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Exchange {
        let id = Value::String(fresh_id());
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        self.exchange(payload, &[id]).await
    }

    /// [`call`](Self::call), also taking an answer with id `null` (how an LSP that could not read
    /// the request answers), so the report can say so instead of timing out.
    pub(crate) async fn call_or_null(&mut self, method: &str, params: Value) -> Exchange {
        let id = Value::String(fresh_id());
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        self.exchange(payload, &[id, Value::Null]).await
    }

    /// Sends `payload` as it is and waits for a message whose `id` is one of `ids` (`Value::Null`
    /// for the `null` of a parse error).
    pub(crate) async fn exchange(&mut self, payload: Vec<u8>, ids: &[Value]) -> Exchange {
        self.exchange_within(payload, ids, self.options.request_timeout).await
    }

    async fn exchange_within(&mut self, payload: Vec<u8>, ids: &[Value], timeout: Duration) -> Exchange {
        let request = shorten(&payload);
        if self.dead {
            return Exchange {
                reply: Reply::Silent,
                answer_id: None,
                evidence: Evidence { request, response: "(not sent: the LSP stopped answering)".into() },
            };
        }
        if let Err(error) = self.link.send(payload) {
            return Exchange {
                reply: Reply::NotSent,
                answer_id: None,
                evidence: Evidence { request, response: format!("(not sent: {error})") },
            };
        }
        let deadline = Instant::now() + timeout;
        let mut unrelated = 0;
        loop {
            let Some(message) = self.inbox.next_until(deadline).await else {
                let response = format!("(no answer within {} ms)", timeout.as_millis());
                return Exchange { reply: Reply::Silent, answer_id: None, evidence: Evidence { request, response } };
            };
            self.messages_seen += 1;
            let value = self.inspect(&message);
            let id = value.as_ref().and_then(|value| value.get("id")).cloned();
            if let (Some(value), Some(id)) = (value, id) {
                if ids.contains(&id) {
                    let reply = classify(&value);
                    if let Reply::Error { data, .. } = &reply {
                        self.errors_seen += 1;
                        if data.as_ref().is_some_and(|data| !data.is_object()) && self.bad_error_data.is_none() {
                            self.bad_error_data =
                                Some(Evidence { request: request.clone(), response: shorten(&message) });
                        }
                    }
                    return Exchange {
                        reply,
                        answer_id: Some(id),
                        evidence: Evidence { request, response: shorten(&message) },
                    };
                }
            }
            unrelated += 1;
            if unrelated >= MAX_UNRELATED_PER_EXCHANGE {
                let response =
                    format!("({unrelated} other messages arrived and no answer; last: {})", shorten(&message));
                return Exchange { reply: Reply::Flooded, answer_id: None, evidence: Evidence { request, response } };
            }
        }
    }

    /// Checks one message from the LSP against LSPS0's format rules, keeping a few failures as
    /// evidence; returns it parsed when it is a JSON object.
    fn inspect(&mut self, message: &[u8]) -> Option<Value> {
        let problem = match lsps::client::decode_message(message) {
            Err(error) => Some(error.to_string()),
            Ok(_) => None,
        };
        let value: Option<Value> = serde_json::from_slice(message).ok().filter(Value::is_object);
        let problem = problem.or_else(|| match value.as_ref().and_then(|value| value.get("result")) {
            Some(result) if !result.is_object() => Some("result is not an object".to_owned()),
            _ => None,
        });
        if let Some(problem) = problem {
            if self.malformed.len() < MAX_MALFORMED_KEPT {
                self.malformed.push(Evidence { request: problem, response: shorten(message) });
            }
        }
        value
    }

    /// Makes sure the LSP answers on this connection before the next check: a quick
    /// `lsps0.list_protocols`; if that goes unanswered, a reconnect and one more try; if that
    /// fails too, the LSP is dead for the rest of the run.
    pub(crate) async fn ensure_listening(&mut self) {
        if self.dead {
            return;
        }
        let quick = self.options.request_timeout.min(Duration::from_secs(3));
        if self.ping(quick).await {
            return;
        }
        if self.link.reconnect().await.is_ok() {
            self.inbox.clear();
            if self.ping(self.options.request_timeout).await {
                return;
            }
        }
        self.dead = true;
    }

    async fn ping(&mut self, timeout: Duration) -> bool {
        let id = Value::String(fresh_id());
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": "lsps0.list_protocols", "params": {} });
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        matches!(self.exchange_within(payload, &[id], timeout).await.reply, Reply::Result(_))
    }
}

fn classify(value: &Value) -> Reply {
    match (value.get("result"), value.get("error")) {
        (Some(result), None) => Reply::Result(result.clone()),
        (None, Some(error)) => {
            Reply::Error { code: error.get("code").and_then(Value::as_i64), data: error.get("data").cloned() }
        }
        _ => Reply::Malformed,
    }
}

/// A 128-bit random id as hex (bLIP-50 asks for at least 80 bits from a CSPRNG).
pub(crate) fn fresh_id() -> String {
    let mut entropy = [0u8; 16];
    if getrandom::getrandom(&mut entropy).is_err() {
        // Without OS entropy the ids only need to differ from one another within the run.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
        entropy = nanos.to_be_bytes();
    }
    entropy.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A payload for a report: lossy UTF-8, control characters escaped (so nothing the LSP sends
/// can steer a terminal), at most
/// [`EVIDENCE_CHARS`] characters plus the full length.
pub(crate) fn shorten(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let mut out = String::new();
    for c in text.chars().take(EVIDENCE_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    let total = text.chars().count();
    if total > EVIDENCE_CHARS {
        out.push_str(&format!("… ({} bytes)", payload.len()));
    }
    out
}
