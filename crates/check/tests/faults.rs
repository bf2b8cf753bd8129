//! The checker against a fake LSP: a conforming one passes every check, and each planted fault
//! is reported by the check that covers it, with nothing else failing.

mod fake;

use fake::{options, FakeLsp, Fault};
use inbound_check::{Check, Outcome, Report, CATALOGUE};

async fn check(faults: &[Fault]) -> Report {
    let (fake, mut inbox) = FakeLsp::new(faults, None);
    inbound_check::run(&fake, &mut inbox, &options(&fake)).await
}

#[tokio::test]
async fn a_conforming_lsp_passes_every_check() {
    let report = check(&[]).await;
    assert_eq!(report.findings.len(), CATALOGUE.len());
    for finding in &report.findings {
        assert_eq!(finding.outcome, Outcome::Pass, "{}: {}", finding.check, finding.detail);
    }
    assert!(!report.must_failed());
    assert_eq!(report.protocols, Some(vec![1, 2, 5]));
}

#[tokio::test]
async fn each_planted_fault_is_reported_by_its_check_and_nothing_else() {
    use Check::*;
    use Outcome::{Fail, Skip, Warn};
    let lsps2_buys = [
        Lsps2BuyMpp,
        Lsps2BuyNoMpp,
        Lsps2ScidUnique,
        Lsps2TamperedPromise,
        Lsps2TamperedParams,
        Lsps2Expired,
        Lsps2SizeBelowMin,
        Lsps2SizeAboveMax,
        Lsps2FeeOverflow,
    ];
    let mut extra_key: Vec<(Check, Outcome)> = vec![(Lsps2GetInfo, Fail)];
    extra_key.extend(lsps2_buys.iter().map(|check| (*check, Skip)));
    let ranges = [
        Lsps1RangeLspBalance,
        Lsps1RangeClientBalance,
        Lsps1RangeExpiry,
        Lsps1RangeConfirmations,
        Lsps1RangeFundingTarget,
    ];
    let cases: Vec<(Fault, Vec<(Check, Outcome)>)> = vec![
        (Fault::NoFeatureBit, vec![(Lsps0FeatureBit, Skip)]),
        (Fault::ZeroInProtocols, vec![(Lsps0ListProtocols, Fail)]),
        (Fault::UnknownMethodAsParseError, vec![(Lsps0MethodUnknown, Fail)]),
        (Fault::IgnoreUnknownParams, vec![(Lsps0ParamsUnknown, Fail)]),
        (Fault::StringDataOnNotFound, vec![(Lsps0ErrorData, Fail)]),
        (Fault::NumberIdAsString, vec![(Lsps0IdNumberEcho, Warn)]),
        (Fault::AnswerBatch, vec![(Lsps0FormatBatch, Fail)]),
        (Fault::AcceptTrailingNul, vec![(Lsps0FormatNul, Fail)]),
        (Fault::DeafAfterGarbage, vec![(Lsps0KeepsServing, Warn)]),
        (Fault::MalformedExtraMessage, vec![(Lsps0ResponseFormat, Fail)]),
        (Fault::TotalOffByOne, vec![(Lsps1OrderTotals, Fail)]),
        (Fault::InvoiceAmountWrong, vec![(Lsps1OrderInvoice, Fail)]),
        (Fault::OnchainWithoutRefund, vec![(Lsps1OrderNoOnchainWithoutRefund, Fail)]),
        (Fault::IgnoreToken, vec![(Lsps1UnknownToken, Fail)]),
        (Fault::OptionMismatchWithoutProperty, ranges.iter().map(|check| (*check, Fail)).collect()),
        (Fault::MenuUnsorted, vec![(Lsps2MenuOrder, Fail)]),
        (Fault::MenuExtraKey, extra_key),
        (Fault::ShortValidity, vec![(Lsps2ValidUntil, Warn)]),
        (Fault::SameScid, vec![(Lsps2ScidUnique, Fail)]),
        (Fault::TooLargeForBelowMin, vec![(Lsps2SizeBelowMin, Warn)]),
        (Fault::AcceptHttpWebhook, vec![(Lsps5UnsupportedProtocol, Fail)]),
        (Fault::NoMaxWebhooksData, vec![(Lsps5TooMany, Fail)]),
        (Fault::RemoveUnknownAnswersOk, vec![(Lsps5RemoveUnknown, Fail)]),
        (Fault::NoWebhookRegistered, vec![(Lsps5WebhookRegistered, Fail)]),
        (Fault::SkimTooMuch, vec![(Lsps2JitPayment, Fail)]),
        (Fault::PaidOrderFails, vec![(Lsps1PaidOrder, Fail)]),
        (Fault::ShortMppFailedAtOnce, vec![(Lsps2MppShort, Fail)]),
        (Fault::RefundTaken, vec![(Lsps1Refund, Fail)]),
    ];
    let mut problems = Vec::new();
    for (fault, expected) in cases {
        let report = check(&[fault]).await;
        for finding in &report.findings {
            let check = Check::from_name(finding.check).expect("a catalogue name");
            let wanted = expected.iter().find(|(c, _)| *c == check).map_or(Outcome::Pass, |(_, outcome)| *outcome);
            if finding.outcome != wanted {
                problems.push(format!(
                    "{fault:?}: {} is {:?} ({}), expected {wanted:?}",
                    finding.check, finding.outcome, finding.detail
                ));
            }
        }
        let fails = expected.iter().any(|(_, outcome)| *outcome == Fail);
        assert_eq!(report.must_failed(), fails, "{fault:?}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_report_renders_as_text_json_and_junit() {
    let report = check(&[Fault::IgnoreToken, Fault::ShortValidity]).await;
    let text = report.to_text();
    let failing = text.lines().find(|line| line.contains("lsps1.create_order.unknown_token")).expect("a line");
    assert!(failing.trim_start().starts_with("FAIL  MUST"), "{failing}");
    assert!(text.contains("→ {\"id\""), "the failing request is shown:\n{text}");
    assert!(text.contains(&format!("{} passed, 1 failed, 1 warnings, 0 skipped", CATALOGUE.len() - 2)), "{text}");

    let json = report.to_json();
    assert_eq!(json["counts"]["fail"], 1);
    assert_eq!(json["counts"]["warn"], 1);
    let finding =
        json["findings"].as_array().unwrap().iter().find(|f| f["check"] == "lsps2.get_info.valid_until").unwrap();
    assert_eq!(finding["outcome"], "WARN");
    assert_eq!(finding["level"], "SHOULD");

    let junit = report.to_junit();
    assert!(junit.starts_with("<?xml"));
    assert!(junit.contains(&format!(
        "<testsuites name=\"inbound check\" tests=\"{}\" failures=\"1\" skipped=\"0\">",
        CATALOGUE.len()
    )));
    let case = junit.lines().find(|line| line.contains("name=\"lsps1.create_order.unknown_token\"")).unwrap();
    assert!(case.contains("<failure message=\"expected error 102, got a result\""), "{case}");
    assert!(!junit.contains("\"id\""), "payloads are escaped in XML");
}
