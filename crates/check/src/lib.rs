//! `inbound-check`: a conformance checker for LSPs, the h2spec of LSPS.
//!
//! It exercises an LSP over the wire and reports, requirement by requirement of bLIP-50
//! (LSPS0), bLIP-51 (LSPS1), bLIP-52 (LSPS2) and bLIP-55 (LSPS5), whether the LSP conforms:
//! every entry of the [`catalogue`] gets one [`Finding`]: PASS, FAIL (a MUST broken), WARN (a
//! SHOULD broken) or SKIP (the protocol is not offered or not selected, or the check cannot
//! apply to this LSP's terms).
//!
//! Without a [`LivePayments`] (`--pay`) the checker pays nothing and changes nothing an LSP must
//! keep: it reads `get_info`s, creates one unpaid LSPS1 order and two unpaid LSPS2 buys (both
//! expire on their own), and registers webhooks under app names starting with `inbound-check-`,
//! which it removes again. With one, the live checks pay through the LSP and judge the outcome
//! (`live.rs`).
//!
//! How it reaches the LSP is the caller's choice: a [`Link`] sends raw type-37913 payloads
//! (garbage too), and the LSP's messages arrive in an [`Inbox`]. `inbound check` implements the
//! link with a throwaway wallet node; tests use a double.
//!
//! Order of a run: the well-formed requests first (LSPS0's `list_protocols`, then LSPS1, LSPS2,
//! LSPS5), then the malformed and unusual ones, each followed by a liveness probe and, if the
//! LSP went deaf (lightning-liquidity ignores a peer that sent garbage until it reconnects), a
//! reconnect, so that one check's garbage cannot fail the next check.

#![deny(missing_docs)]

pub mod catalogue;
mod link;
mod live;
mod lsps0;
mod lsps1;
mod lsps2;
mod lsps5;
mod report;
mod session;
mod webhooks;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;

pub use catalogue::{Check, CheckSpec, Level, CATALOGUE};
pub use link::{inbox, Inbox, InboxSender, Link, LinkError, LinkFuture, INBOX_CAPACITY};
pub use live::{JitPayment, LiveFuture, LivePayments, PaidOrder, PayerSaw, RefusedOrder, ShortMpp, MPP_HOLD};
pub use lsps1::smallest_order_request;
pub use report::{Counts, Evidence, Finding, Outcome, Report};
pub use session::MAX_UNRELATED_PER_EXCHANGE;
pub use webhooks::{Received, ReceivedFuture, WebhookReceiver};

use session::{Session, Verdict};

/// How long the checker waits for each answer by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocols the checker knows.
pub const PROTOCOLS: [u16; 4] = [0, 1, 2, 5];

/// What to check and how.
#[derive(Clone)]
pub struct CheckOptions {
    /// How the LSP is named in the report.
    pub lsp: String,
    /// The chain the LSP runs on (invoices and addresses must be for it).
    pub network: Network,
    /// How long to wait for each answer.
    pub request_timeout: Duration,
    /// The protocols to check (`--only`); the others' checks are skipped.
    pub protocols: Vec<u16>,
    /// Where the LSP's `webhook_registered` POST can land; without one that check is skipped.
    pub webhooks: Option<Arc<dyn WebhookReceiver>>,
    /// Real payments through the LSP (`--pay`); without them the live checks are skipped.
    pub live: Option<Arc<dyn LivePayments>>,
}

impl fmt::Debug for CheckOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckOptions")
            .field("lsp", &self.lsp)
            .field("network", &self.network)
            .field("request_timeout", &self.request_timeout)
            .field("protocols", &self.protocols)
            .field("webhooks", &self.webhooks.as_ref().map(|webhooks| webhooks.url("/")))
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl CheckOptions {
    /// Every protocol, the default timeout, no webhook receiver.
    pub fn new(lsp: impl Into<String>, network: Network) -> CheckOptions {
        CheckOptions {
            lsp: lsp.into(),
            network,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            protocols: PROTOCOLS.to_vec(),
            webhooks: None,
            live: None,
        }
    }

    fn selected(&self, protocol: u16) -> bool {
        self.protocols.contains(&protocol)
    }
}

/// The live checks, when the caller can pay: a JIT payment first (the wallet has no channel
/// with the LSP yet), then a paid LSPS1 order and one the LSP cannot fulfil, then part of a JIT
/// payment (at least 90 s).
async fn live_checks(session: &mut Session<'_>, offered: Option<&[u16]>) {
    let runs = |protocol: u16| session.options.selected(protocol) && offered.is_some_and(|o| o.contains(&protocol));
    let (jit, order) = (runs(2), runs(1));
    let Some(live) = session.options.live.clone() else {
        for (check, runs) in
            [(Check::Lsps2JitPayment, jit), (Check::Lsps2MppShort, jit), (Check::Lsps1PaidOrder, order)]
        {
            if runs {
                session.record(check, Verdict::Skip("needs --pay".into()), None);
            }
        }
        return;
    };
    if jit {
        session.record(Check::Lsps2JitPayment, live::judge_jit(live.jit_payment().await), None);
    }
    if order {
        session.record(Check::Lsps1PaidOrder, live::judge_order(live.paid_order().await), None);
        session.record(Check::Lsps1Refund, live::judge_refund(live.refused_order().await), None);
    }
    if jit {
        session.record(Check::Lsps2MppShort, live::judge_short_mpp(live.short_mpp().await), None);
    }
}

/// Runs the whole catalogue against the LSP behind `link`, whose messages arrive in `inbox`.
///
/// Never fails and never hangs: an LSP that does not answer, answers garbage or floods gets
/// FAILs, each exchange bounded by [`CheckOptions::request_timeout`].
pub async fn run(link: &dyn Link, inbox: &mut Inbox, options: &CheckOptions) -> Report {
    let mut session = Session::new(link, inbox, options);
    let offered = lsps0::basics(&mut session).await;
    let protocols = [(1u16, lsps1::CHECKS), (2, lsps2::CHECKS), (5, lsps5::CHECKS)];
    for (protocol, checks) in protocols {
        if !options.selected(protocol) {
            session.skip_all(checks, "not selected (--only)");
            continue;
        }
        match &offered {
            None => session.skip_all(checks, "lsps0.list_protocols was not answered"),
            Some(offered) if !offered.contains(&protocol) => {
                session.skip_all(checks, &format!("LSPS{protocol} is not offered"))
            }
            Some(_) => match protocol {
                1 => lsps1::run(&mut session).await,
                2 => lsps2::run(&mut session).await,
                _ => lsps5::run(&mut session).await,
            },
        }
    }
    live_checks(&mut session, offered.as_deref()).await;
    lsps0::unusual(&mut session).await;
    lsps0::conclude(&mut session);
    if !options.selected(0) {
        session.skip_all(lsps0::CHECKS, "not selected (--only)");
    }
    for spec in CATALOGUE {
        if !session.recorded(spec.check) {
            session.record(spec.check, Verdict::Skip("not run".into()), None);
        }
    }
    Report::new(options.lsp.clone(), offered, session.into_findings())
}
