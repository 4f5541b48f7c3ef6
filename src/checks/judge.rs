//! The optional model-based judge: asked only when the deterministic identity checks are borderline,
//! it answers whether the summary describes the paper, as a JSON verdict.

use serde::Deserialize;

use crate::checks::identity::{IdentityReport, IdentitySettings};
use crate::checks::Reason;

/// `[checks.judge]`: off by default (it costs a model call per borderline summary).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSettings {
    pub enabled: bool,
    /// A summary is borderline when its anchor coverage is this close to `min_anchor_coverage`, or when
    /// only the soft checks (figures, identity, generic) failed.
    pub borderline_margin: f64,
}

/// What the judge said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeVerdict {
    pub describes_paper: bool,
    pub reason: String,
}

/// True when the deterministic verdict is not clear-cut enough to stand without a second opinion.
pub fn is_borderline(
    report: &IdentityReport,
    identity: &IdentitySettings,
    judge: &JudgeSettings,
) -> bool {
    let failed: Vec<&str> = report
        .verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.check)
        .collect();
    if failed.contains(&"contrast") {
        // Another paper of the batch fits better: a swap is not borderline.
        return false;
    }
    let near_threshold = report
        .verdicts
        .iter()
        .find(|v| v.check == "anchors")
        .is_some_and(|v| (v.score - identity.min_anchor_coverage).abs() < judge.borderline_margin);
    let only_soft = !failed.is_empty()
        && failed
            .iter()
            .all(|check| matches!(*check, "figures" | "identity" | "generic"));
    near_threshold || only_soft
}

#[derive(Deserialize)]
struct WireVerdict {
    describes_paper: bool,
    #[serde(default)]
    reason: String,
}

/// Reads the judge's answer: a JSON object, possibly fenced or with text around it.
pub fn parse_verdict(content: &str) -> Result<JudgeVerdict, Reason> {
    let unreadable = || {
        let head: String = content.chars().take(80).collect();
        Reason::new(
            "judge",
            format!("judge answer is not a JSON verdict: {head:?}"),
        )
    };
    let start = content.find('{').ok_or_else(unreadable)?;
    let end = content.rfind('}').ok_or_else(unreadable)?;
    let object = content.get(start..=end).ok_or_else(unreadable)?;
    let object = crate::checks::answer::blank_raw_controls_in_strings(object);
    let wire: WireVerdict = serde_json::from_str(&object).map_err(|_| unreadable())?;
    Ok(JudgeVerdict {
        describes_paper: wire.describes_paper,
        reason: crate::paper::normalize_whitespace(&wire.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::identity::Verdict;

    fn report(verdicts: &[(&'static str, f64, bool)]) -> IdentityReport {
        IdentityReport {
            verdicts: verdicts
                .iter()
                .map(|(check, score, passed)| Verdict {
                    check,
                    score: *score,
                    passed: *passed,
                    detail: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn borderline_cases_are_near_the_anchor_threshold_or_soft_only() {
        let defaults = crate::settings::Settings::defaults().unwrap_or_else(|e| panic!("{e}"));
        let identity = defaults.summarize.identity;
        let judge = defaults.summarize.judge;
        let clear_pass = report(&[("anchors", 0.6, true), ("contrast", 0.0, true)]);
        let near = report(&[("anchors", 0.17, true), ("contrast", 0.0, true)]);
        let soft = report(&[("anchors", 0.4, true), ("figures", 3.0, false)]);
        let swap = report(&[("anchors", 0.14, false), ("contrast", 0.3, false)]);
        let clear_fail = report(&[("anchors", 0.02, false), ("generic", 0.0, false)]);
        assert!(!is_borderline(&clear_pass, &identity, &judge));
        assert!(is_borderline(&near, &identity, &judge));
        assert!(is_borderline(&soft, &identity, &judge));
        assert!(!is_borderline(&swap, &identity, &judge));
        assert!(!is_borderline(&clear_fail, &identity, &judge));
    }

    #[test]
    fn verdicts_are_read_leniently_and_garbage_is_a_reason() {
        let fenced = "```json\n{\"describes_paper\": false, \"reason\": \"It is about\n another model.\"}\n```";
        assert_eq!(
            parse_verdict(fenced).unwrap(),
            JudgeVerdict {
                describes_paper: false,
                reason: "It is about another model.".into()
            }
        );
        assert!(
            parse_verdict("{\"describes_paper\": true}")
                .unwrap()
                .describes_paper
        );
        let err = parse_verdict("Yes, it does.").unwrap_err();
        assert_eq!(err.check, "judge");
        assert!(parse_verdict("{\"describes_paper\": \"maybe\"}").is_err());
    }
}
