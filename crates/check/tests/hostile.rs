//! The checker against hostile LSPs: silence, garbage, floods and oversized payloads end in
//! FAILs, never in a hang or a panic.

mod fake;

use std::time::Duration;

use fake::{options, FakeLsp, Hostility};
use inbound_check::{Check, Outcome, Report, CATALOGUE};

async fn check(hostility: Hostility) -> (Report, bool) {
    let (fake, mut inbox) = FakeLsp::new(&[], Some(hostility));
    // A guard against a hang, not a speed assertion: every exchange is bounded by the 300 ms
    // request timeout, so a run ends long before this.
    let report = tokio::time::timeout(Duration::from_secs(120), inbound_check::run(&fake, &mut inbox, &options(&fake)))
        .await
        .expect("the run ends");
    (report, fake.reconnected())
}

fn outcome(report: &Report, check: Check) -> Outcome {
    report.finding(check).expect("every check has a finding").outcome
}

#[tokio::test]
async fn a_silent_lsp_fails_and_is_given_up_on() {
    let (report, reconnected) = check(Hostility::Silent).await;
    assert_eq!(report.findings.len(), CATALOGUE.len());
    assert!(report.must_failed());
    assert_eq!(outcome(&report, Check::Lsps0ListProtocols), Outcome::Fail);
    assert_eq!(outcome(&report, Check::Lsps0FormatIncomplete), Outcome::Fail);
    assert!(reconnected, "the checker reconnects before giving up");
    let dead = report.finding(Check::Lsps0FormatByPosition).unwrap();
    assert_eq!(dead.evidence.as_ref().unwrap().response, "(not sent: the LSP stopped answering)");
    assert_eq!(outcome(&report, Check::Lsps1GetInfo), Outcome::Skip);
}

#[tokio::test]
async fn garbage_answers_fail_the_format_check() {
    let (report, _) = check(Hostility::Garbage).await;
    assert!(report.must_failed());
    assert_eq!(outcome(&report, Check::Lsps0ResponseFormat), Outcome::Fail);
    assert_eq!(outcome(&report, Check::Lsps0ListProtocols), Outcome::Fail);
}

#[tokio::test]
async fn a_flood_is_cut_off() {
    let (report, _) = check(Hostility::Flood).await;
    assert!(report.must_failed());
    let finding = report.finding(Check::Lsps0ListProtocols).unwrap();
    assert_eq!(finding.outcome, Outcome::Fail);
    assert!(finding.detail.contains("other messages arrived"), "{}", finding.detail);
}

#[tokio::test]
async fn oversized_answers_are_dropped_and_reported() {
    let (report, _) = check(Hostility::Oversized).await;
    assert!(report.must_failed());
    let finding = report.finding(Check::Lsps0ResponseFormat).unwrap();
    assert_eq!(finding.outcome, Outcome::Fail);
    assert!(finding.detail.contains("larger than a BOLT8 message"), "{}", finding.detail);
}
