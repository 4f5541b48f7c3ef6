//! Grounding a flagged summary in its own paper's full text (arXiv's HTML rendering): a summary
//! written from the full paper carries figures, names and training details the abstract lacks, and
//! the full text is where they can be looked up.
//!
//! A long paper holds most of its field's vocabulary, so plain coverage would vouch for any summary
//! of the field. What the full text must hold is what identifies a paper: the summary's specific
//! (rare) terms, its figures and the name it is about, besides most of its terms. The thresholds are
//! deliberately strict; they have not been calibrated on real full texts (none were available
//! offline), so a summary the full text does not clearly support stays flagged.

use super::features::{SourceFeatures, SummaryFeatures};
use super::{listed, pct, Fit, IdentityReport, Verdict};

/// The share of the summary's terms (by weight) the full text must hold.
const MIN_FULL_TEXT_COVERAGE: f64 = 0.6;
/// The share of the summary's specific terms the full text must hold.
const MIN_SPECIFIC_SHARE: f64 = 0.6;
/// The share of the summary's figures the full text must hold, once it gives two or more.
const MIN_FIGURE_SHARE: f64 = 0.5;

/// The check name of the verdict [`check_full_text`] gives.
pub const FULL_TEXT_CHECK: &str = "full-text";

/// Whether the paper's full text (its title and the text of its rendering) supports the summary.
pub fn check_full_text(summary: &str, title: &str, full_text: &str) -> Verdict {
    let summary = SummaryFeatures::new(summary);
    let source = SourceFeatures::new(title, full_text);
    let fit = Fit::measure(&summary, &source);
    let specific_total = fit.specific.len() + fit.unsupported_specific.len();
    let specific_share = share(fit.specific.len(), specific_total);
    let figures_found = summary
        .figures
        .iter()
        .filter(|(key, _)| source.figures.contains(key))
        .count();
    let figure_share = share(figures_found, summary.figures.len());
    let focus_missing = summary.unnamed_focus(|name| source.mentions(name));

    let mut shortfalls = Vec::new();
    if fit.coverage < MIN_FULL_TEXT_COVERAGE {
        shortfalls.push(format!(
            "only {}% of its terms (minimum {}%)",
            pct(fit.coverage),
            pct(MIN_FULL_TEXT_COVERAGE)
        ));
    }
    if specific_total == 0 || specific_share < MIN_SPECIFIC_SHARE {
        shortfalls.push(format!(
            "{} of its {specific_total} specific terms (not found: {})",
            fit.specific.len(),
            listed(&fit.unsupported_specific, 8)
        ));
    }
    if summary.figures.len() >= 2 && figure_share < MIN_FIGURE_SHARE {
        shortfalls.push(format!(
            "{figures_found} of its {} figures",
            summary.figures.len()
        ));
    }
    if let Some(focus) = focus_missing {
        shortfalls.push(format!("never the name {:?} it is about", focus.name));
    }
    let found = format!(
        "{}% of its terms, {} of {specific_total} specific terms and {figures_found} of {} figures",
        pct(fit.coverage),
        fit.specific.len(),
        summary.figures.len()
    );
    let passed = shortfalls.is_empty();
    let detail = if passed {
        format!("the paper's full text supports the summary: it holds {found}")
    } else {
        format!(
            "the paper's full text does not support the summary either: it holds {}",
            shortfalls.join(", ")
        )
    };
    Verdict {
        check: FULL_TEXT_CHECK,
        score: fit.coverage,
        passed,
        detail,
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

impl IdentityReport {
    /// The report after asking the full text (`verdict` from [`check_full_text`]): when it supports
    /// the summary, every failed verdict stands overruled (kept, marked, for the record); otherwise
    /// the full text's shortfalls are one more reason.
    pub fn with_full_text(mut self, verdict: Verdict) -> IdentityReport {
        if verdict.passed {
            for failed in self.verdicts.iter_mut().filter(|v| !v.passed) {
                failed.passed = true;
                failed.detail = format!("overruled by the full text: {}", failed.detail);
            }
        }
        self.verdicts.push(verdict);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::identity::{prepare, WrittenFrom};
    use crate::paper::{Paper, Sections};
    use crate::source::arxiv::html::extract;

    const RENDERING: &str = include_str!("../../../tests/fixtures/arxiv_html/2409.10001.html");
    const TITLE: &str = "GlowFormer: Efficient Long-Context Attention with Learned Sparsity";
    const ABSTRACT: &str = "We present GlowFormer, a Transformer variant that learns which attention links to keep. GlowFormer reduces attention memory by 63% on sequences of 32K tokens while matching the perplexity of dense attention on PG-19. On the LongBench suite it improves the average score from 41.2 to 44.8. Code is available.";

    /// Written from the whole paper: block size, router, training set-up and table figures come
    /// from the body, not the abstract.
    fn full_text_summary() -> Sections {
        Sections {
            whats_new: "GlowFormer는 어떤 어텐션 연결을 유지할지 학습하는 트랜스포머(Transformer) 변형입니다. 슬라이딩 윈도우 같은 고정 희소 패턴이 먼 증거를 놓치는 문제를 해결합니다.".to_string(),
            technical_details: "GateNet 라우터가 64 토큰 단위의 키 블록에 점수를 매기고 쿼리 블록마다 상위 8개 블록만 남깁니다. 라우터는 straight-through estimator와 0.01 가중치의 희소성 페널티로 함께 학습되며, 1.3B 파라미터 모델을 128개의 A100 GPU에서 학습률 3e-4로 훈련했습니다.".to_string(),
            performance_highlights: "32K 토큰에서 어텐션 메모리를 63% 줄이면서 PG-19 퍼플렉서티는 dense attention과 같고, LongBench 평균 점수를 41.2에서 44.8로 높였습니다. 128K 토큰에서는 메모리가 2.7배 낮으며 BigBird(39.7)보다 앞섭니다.".to_string(),
        }
    }

    fn paper() -> Paper {
        Paper {
            id: "2409.10001".parse().unwrap(),
            version: None,
            title: TITLE.to_string(),
            authors: Vec::new(),
            abstract_text: ABSTRACT.to_string(),
            upvotes: None,
            thumbnail: None,
            published: None,
            updated: None,
            primary_category: None,
            categories: Vec::new(),
        }
    }

    #[test]
    fn body_figures_flag_from_the_abstract_and_the_full_text_supports_them() {
        let paper = paper();
        let batch = prepare(std::slice::from_ref(&paper));
        let report = batch.check_written_from(
            &full_text_summary(),
            &paper,
            WrittenFrom::Abstract,
            &crate::settings::Settings::defaults()
                .unwrap_or_else(|e| panic!("{e}"))
                .summarize
                .identity,
        );
        let failed: Vec<String> = report.reasons().into_iter().map(|r| r.check).collect();
        assert_eq!(failed, ["figures"], "{report:#?}");

        let full_text = extract(RENDERING).text();
        let verdict = check_full_text(&full_text_summary().joined(), TITLE, &full_text);
        assert!(verdict.passed, "{verdict:#?}");
        assert!(verdict
            .detail
            .starts_with("the paper's full text supports the summary"));
        let grounded = report.with_full_text(verdict);
        assert!(grounded.passed(), "{grounded:#?}");
        let figures = grounded
            .verdicts
            .iter()
            .find(|v| v.check == "figures")
            .unwrap();
        assert!(
            figures.detail.starts_with("overruled by the full text: "),
            "{}",
            figures.detail
        );
        assert_eq!(grounded.verdicts.last().unwrap().check, FULL_TEXT_CHECK);
    }

    #[test]
    fn another_papers_summary_is_not_supported_by_this_full_text() {
        let other = "이 연구는 분자 그래프의 성질을 예측하는 그래프 신경망(GNN) MolGraphNet을 제안합니다. MolGraphNet은 원자와 결합을 메시지 패싱(message passing)으로 처리하고, QM9와 ZINC 데이터셋에서 MAE 0.012를 기록해 SchNet 대비 18% 개선되었습니다.";
        let full_text = extract(RENDERING).text();
        let verdict = check_full_text(other, TITLE, &full_text);
        assert!(!verdict.passed, "{verdict:#?}");
        assert!(
            verdict.detail.contains("never the name \"MolGraphNet\""),
            "{}",
            verdict.detail
        );
        let report = IdentityReport {
            verdicts: Vec::new(),
        }
        .with_full_text(verdict);
        assert_eq!(report.reasons()[0].check, FULL_TEXT_CHECK);
    }
}
