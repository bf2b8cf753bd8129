//! What a run found: one [`Finding`] per catalogue entry, and the [`Report`] rendered as a
//! human table, JSON or JUnit XML.

use std::fmt::Write as _;

use serde::Serialize;

use crate::catalogue::{Check, Level, CATALOGUE};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// The LSP does what the requirement asks.
    Pass,
    /// A MUST is broken.
    Fail,
    /// A SHOULD is broken.
    Warn,
    /// Not run: the protocol is not offered or not selected, or the check cannot apply.
    Skip,
}

impl Outcome {
    /// The outcome's label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Warn => "WARN",
            Outcome::Skip => "SKIP",
        }
    }
}

/// A request the checker sent and what came back, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The payload sent (shortened when long).
    pub request: String,
    /// The payload received, or what happened instead (shortened when long).
    pub response: String,
}

/// One catalogue entry's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's name.
    pub check: &'static str,
    /// Its LSPS number.
    pub protocol: u16,
    /// Its requirement level.
    pub level: Level,
    /// Where the requirement is written.
    pub source: &'static str,
    /// The outcome.
    pub outcome: Outcome,
    /// Why, in one line.
    pub detail: String,
    /// The exchange that decided it, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// PASS.
    pub pass: usize,
    /// FAIL.
    pub fail: usize,
    /// WARN.
    pub warn: usize,
    /// SKIP.
    pub skip: usize,
}

/// The result of a run: a finding for every catalogue entry, in catalogue order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The LSP checked (`<node_id>@<host:port>`, or a test double's name).
    pub lsp: String,
    /// The protocols the LSP listed in `lsps0.list_protocols`, when it answered.
    pub protocols: Option<Vec<u16>>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Counts per outcome.
    pub counts: Counts,
}

impl Report {
    pub(crate) fn new(lsp: String, protocols: Option<Vec<u16>>, mut findings: Vec<Finding>) -> Report {
        let order = |finding: &Finding| CATALOGUE.iter().position(|spec| spec.name == finding.check);
        findings.sort_by_key(order);
        let mut counts = Counts::default();
        for finding in &findings {
            match finding.outcome {
                Outcome::Pass => counts.pass += 1,
                Outcome::Fail => counts.fail += 1,
                Outcome::Warn => counts.warn += 1,
                Outcome::Skip => counts.skip += 1,
            }
        }
        Report { lsp, protocols, findings, counts }
    }

    /// The finding of `check`.
    pub fn finding(&self, check: Check) -> Option<&Finding> {
        self.findings.iter().find(|finding| finding.check == check.name())
    }

    /// Whether a MUST failed: the checker's exit status is non-zero exactly then.
    pub fn must_failed(&self) -> bool {
        self.counts.fail > 0
    }

    /// The findings with this outcome.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |finding| finding.outcome == outcome)
    }

    /// The human report: a table per protocol, the failing exchanges under their line, and the
    /// counts.
    pub fn to_text(&self) -> String {
        let mut out = format!("inbound check: {}\n", self.lsp);
        for (protocol, title) in [(0, "LSPS0"), (1, "LSPS1"), (2, "LSPS2"), (5, "LSPS5")] {
            let _ = writeln!(out, "\n{title}");
            for finding in self.findings.iter().filter(|finding| finding.protocol == protocol) {
                let _ = writeln!(
                    out,
                    "  {:<4}  {:<6}  {:<42}  {}",
                    finding.outcome.label(),
                    finding.level.to_string(),
                    finding.check,
                    finding.detail
                );
                if let (Outcome::Fail | Outcome::Warn, Some(evidence)) = (finding.outcome, &finding.evidence) {
                    let _ = writeln!(out, "{:>16}→ {}", "", evidence.request);
                    let _ = writeln!(out, "{:>16}← {}", "", evidence.response);
                }
            }
        }
        let Counts { pass, fail, warn, skip } = self.counts;
        let _ = writeln!(out, "\n{pass} passed, {fail} failed, {warn} warnings, {skip} skipped");
        out
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The report as JUnit XML: a test suite per protocol, a test case per check; FAIL is a
    /// `<failure>`, SKIP `<skipped>`, and WARN passes with the warning in `<system-out>`.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"inbound check\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.findings.len(),
            self.counts.fail,
            self.counts.skip
        );
        for protocol in [0u16, 1, 2, 5] {
            let findings: Vec<&Finding> = self.findings.iter().filter(|f| f.protocol == protocol).collect();
            let failures = findings.iter().filter(|f| f.outcome == Outcome::Fail).count();
            let skipped = findings.iter().filter(|f| f.outcome == Outcome::Skip).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"lsps{protocol}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
                findings.len()
            );
            for finding in findings {
                let _ = write!(out, "    <testcase classname=\"lsps{protocol}\" name=\"{}\">", xml(finding.check));
                let message = xml(&finding.detail);
                match finding.outcome {
                    Outcome::Pass => {}
                    Outcome::Skip => {
                        let _ = write!(out, "<skipped message=\"{message}\"/>");
                    }
                    Outcome::Fail => {
                        let body = finding.evidence.as_ref().map_or(String::new(), |evidence| {
                            xml(&format!("sent: {}\nreceived: {}", evidence.request, evidence.response))
                        });
                        let _ = write!(
                            out,
                            "<failure message=\"{message}\" type=\"{} {}\">{body}</failure>",
                            finding.level,
                            xml(finding.source)
                        );
                    }
                    Outcome::Warn => {
                        let _ = write!(
                            out,
                            "<system-out>WARN ({} {}): {message}</system-out>",
                            finding.level,
                            xml(finding.source)
                        );
                    }
                }
                out.push_str("</testcase>\n");
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Text made safe for an XML attribute or element: the five special characters escaped and
/// every control character but tab and newline dropped (XML 1.0 cannot carry them at all).
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_drops_control_characters() {
        assert_eq!(xml("a<b>&\"'\u{0}\u{1b}[31m\n"), "a&lt;b&gt;&amp;&quot;&apos;[31m\n");
    }
}
