//! Identity checks: does this Korean summary describe THIS paper?
//!
//! Deterministic and offline. Each signal gives a [`Verdict`] with a score and a reason a person can
//! verify against the title and abstract:
//! - `anchors`: the share (by rarity weight) of the summary's terms — Latin-script terms and Hangul
//!   loanwords/translations mapped to English — that the title and abstract contain;
//! - `figures`: numbers in the summary that appear nowhere in the source;
//! - `identity`: the title names the work (`MaskLLM: ...`) but the summary never does;
//! - `contrast`: another abstract of the batch fits the summary clearly better than its own;
//! - `generic`: almost nothing specific to this paper is supported (text that fits any paper).
//!
//! True summaries often carry figures and names from the paper's full text, and some write every
//! term in Hangul, so `figures`, `identity` and `generic` only fail when the anchors are weak too
//! (coverage below [`IdentitySettings::corroborate_below`]) and, for figures and generic, the summary
//! does not name the work; `anchors` and `contrast` stand alone.

mod eval;
mod features;
mod index;

pub use eval::{
    evaluate, read_jsonl, EvalInputError, EvalReport, FlaggedPair, Label, LabelledPair, Summary,
};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::checks::Reason;
use crate::paper::{ArxivId, Paper, Sections};
use features::{names_work, SourceFeatures, SummaryFeatures};
use index::TermIndex;

/// Thresholds of the identity checks (config section `[checks.identity]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    /// Minimum weighted share of the summary's terms found in the title + abstract. Default 0.15.
    pub min_anchor_coverage: f64,
    /// Below this coverage the soft signals (figures, identity, generic) may fail. Default 0.25.
    pub corroborate_below: f64,
    /// Unsupported figures (two digits or a decimal) needed for the figures check to fail. Default 2.
    pub max_unsupported_figures: usize,
    /// Fewer supported specific terms/figures than this is "generic". Default 3.
    pub min_specific: usize,
    /// Another abstract must fit by this much more coverage to be "clearly better". Default 0.05.
    pub contrast_margin: f64,
    /// How many unsupported items a reason lists at most. Default 8.
    pub max_listed: usize,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            min_anchor_coverage: 0.15,
            corroborate_below: 0.25,
            max_unsupported_figures: 2,
            min_specific: 3,
            contrast_margin: 0.05,
            max_listed: 8,
        }
    }
}

/// A term this rare (weight from inverse document frequency) is specific to few papers.
const SPECIFIC_WEIGHT: f64 = 3.0;

/// One signal's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `anchors`, `figures`, `identity`, `contrast` or `generic`.
    pub check: &'static str,
    /// The measured value the decision was made on (see each check).
    pub score: f64,
    pub passed: bool,
    /// What was measured, naming the unsupported items or the better-fitting paper.
    pub detail: String,
}

/// All identity verdicts for one summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityReport {
    pub verdicts: Vec<Verdict>,
}

impl IdentityReport {
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }

    /// The failed verdicts as reasons for the store and the review report.
    pub fn reasons(&self) -> Vec<Reason> {
        self.verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| Reason::new(v.check, v.detail.clone()))
            .collect()
    }
}

/// One abstract of the batch: what a reason needs to name it (its terms live in the index).
#[derive(Debug, Clone)]
struct Entry {
    id: ArxivId,
    title: String,
}

/// The abstracts of a run (or a day), tokenised and indexed once, so checking N summaries costs what
/// each summary's terms reach, not N² comparisons.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// In the order first given; `entries[i]` is document `i` of `index`.
    entries: Vec<Entry>,
    positions: HashMap<ArxivId, usize>,
    index: TermIndex,
}

/// Prepares the batch's abstracts for [`Batch::check`].
pub fn prepare(papers: &[Paper]) -> Batch {
    let mut batch = Batch::default();
    for paper in papers {
        batch.push(paper.id.clone(), &paper.title, &paper.abstract_text);
    }
    batch
}

/// Checks one summary against its paper, contrasting it with `batch` (which may include `paper`).
/// Prefer [`prepare`] + [`Batch::check`] when checking many summaries of the same batch.
pub fn check(
    sections: &Sections,
    paper: &Paper,
    batch: &[Paper],
    settings: &IdentitySettings,
) -> IdentityReport {
    prepare(batch).check(sections, paper, settings)
}

impl Batch {
    /// Adds an abstract; an ID already in the batch keeps its first abstract.
    fn push(&mut self, id: ArxivId, title: &str, abstract_text: &str) {
        if self.positions.contains_key(&id) {
            return;
        }
        let terms = SourceFeatures::new(title, abstract_text).terms;
        let Some(document) = self.index.add(terms) else {
            tracing::warn!(%id, "identity batch is full; this abstract is left out of the contrast");
            return;
        };
        self.positions.insert(id.clone(), document);
        self.entries.push(Entry {
            id,
            title: title.to_string(),
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn check(
        &self,
        sections: &Sections,
        paper: &Paper,
        settings: &IdentitySettings,
    ) -> IdentityReport {
        self.check_text(
            &sections.joined(),
            &paper.id,
            &paper.title,
            &paper.abstract_text,
            settings,
        )
    }

    /// The same check on a summary given as one text (a parsed digest entry, an evaluation pair).
    pub fn check_text(
        &self,
        summary: &str,
        id: &ArxivId,
        title: &str,
        abstract_text: &str,
        settings: &IdentitySettings,
    ) -> IdentityReport {
        let summary = SummaryFeatures::new(summary);
        // The batch keeps only term ids; the paper's own figures and name come from its text.
        let own = SourceFeatures::new(title, abstract_text);
        let fit = Fit::measure(&summary, &own);
        let named = own
            .name
            .as_deref()
            .is_some_and(|name| names_work(name, &summary.squashed));
        // Naming the work or a solid share of supported terms vouches for figures and generic wording
        // that the abstract alone cannot confirm (true summaries draw on the full text).
        let weak = fit.coverage < settings.corroborate_below;
        let unvouched = weak && !named;
        // Few specific supported terms: the on-topic wording carries no evidence of its own.
        let thin = fit.specific.len() < settings.min_specific;
        IdentityReport {
            verdicts: vec![
                anchors(&fit, settings),
                figures(&summary, &own, unvouched || (!named && thin), settings),
                identity(&summary, &own, &fit, weak),
                self.contrast(&summary, id, &fit, settings),
                generic(&summary, &own, &fit, unvouched, settings),
            ],
        }
    }

    /// Fails when another abstract covers the summary by `contrast_margin` more than its own. Only
    /// abstracts that could reach that bar are evaluated, so a passing verdict reports a ceiling on
    /// the others rather than the runner-up.
    fn contrast(
        &self,
        summary: &SummaryFeatures,
        id: &ArxivId,
        own: &Fit,
        settings: &IdentitySettings,
    ) -> Verdict {
        let exclude = self.positions.get(id).copied();
        let others = self.entries.len() - usize::from(exclude.is_some());
        if others == 0 {
            return Verdict {
                check: "contrast",
                score: 0.0,
                passed: true,
                detail: "no other abstract in the batch to compare with".to_string(),
            };
        }
        let query = self.index.query(summary);
        let bar = own.coverage + settings.contrast_margin;
        let search = self.index.best_fit(&query, exclude, bar);
        if let Some((document, best_cov)) = search.best {
            if own.coverage - best_cov <= -settings.contrast_margin {
                let other = &self.entries[document];
                return Verdict {
                    check: "contrast",
                    score: own.coverage - best_cov,
                    passed: false,
                    detail: format!(
                        "describes {}: {} ({}% of its terms found there vs {}% in this paper's title and abstract)",
                        other.id,
                        other.title,
                        pct(best_cov),
                        pct(own.coverage)
                    ),
                };
            }
        }
        let ceiling = search.best.map_or(search.others_at_most, |(_, cov)| {
            cov.max(search.others_at_most)
        });
        Verdict {
            check: "contrast",
            score: own.coverage - ceiling,
            passed: true,
            detail: format!(
                "fits its own abstract best or close to it ({}%; none of the {others} other abstracts in the batch reaches {}%)",
                pct(own.coverage),
                pct(bar)
            ),
        }
    }
}

/// How well a summary's terms are supported by one source.
struct Fit {
    coverage: f64,
    /// Supported terms at least [`SPECIFIC_WEIGHT`] rare.
    specific: Vec<String>,
    /// Unsupported terms, rarest first (surface forms as written in the summary).
    unsupported: Vec<String>,
}

impl Fit {
    fn measure(summary: &SummaryFeatures, source: &SourceFeatures) -> Fit {
        let mut matched = 0.0;
        let mut specific = Vec::new();
        let mut unsupported = Vec::new();
        for (key, surface, weight) in &summary.terms {
            if source.terms.contains(key) {
                matched += weight;
                if *weight >= SPECIFIC_WEIGHT {
                    specific.push(surface.clone());
                }
            } else {
                unsupported.push(surface.clone());
            }
        }
        Fit {
            coverage: matched / summary.coverage_denominator(),
            specific,
            unsupported,
        }
    }
}

fn pct(share: f64) -> i64 {
    (share * 100.0).round() as i64
}

fn listed(items: &[String], max: usize) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for item in items {
        if !unique.contains(&item.as_str()) {
            unique.push(item);
        }
    }
    let shown: Vec<String> = unique.iter().take(max).map(|s| format!("{s:?}")).collect();
    let more = unique.len().saturating_sub(max);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn anchors(fit: &Fit, settings: &IdentitySettings) -> Verdict {
    let passed = fit.coverage >= settings.min_anchor_coverage;
    let detail = if passed {
        format!(
            "{}% of the summary's terms are in the title and abstract",
            pct(fit.coverage)
        )
    } else {
        format!(
            "only {}% of the summary's terms are in the title and abstract (minimum {}%); not found: {}",
            pct(fit.coverage),
            pct(settings.min_anchor_coverage),
            listed(&fit.unsupported, settings.max_listed)
        )
    };
    Verdict {
        check: "anchors",
        score: fit.coverage,
        passed,
        detail,
    }
}

fn figures(
    summary: &SummaryFeatures,
    source: &SourceFeatures,
    suspect: bool,
    settings: &IdentitySettings,
) -> Verdict {
    let unsupported: Vec<String> = summary
        .figures
        .iter()
        .filter(|(key, _)| !source.figures.contains(key))
        .map(|(_, surface)| surface.clone())
        .collect();
    let total = summary.figures.len();
    let supported_share = if total == 0 {
        1.0
    } else {
        (total - unsupported.len()) as f64 / total as f64
    };
    let passed = !(suspect
        && unsupported.len() >= settings.max_unsupported_figures
        && supported_share < 0.5);
    let detail = if unsupported.is_empty() {
        format!("all {total} figures are in the abstract")
    } else {
        format!(
            "{} of {total} figures appear nowhere in the title and abstract: {}",
            unsupported.len(),
            listed(&unsupported, settings.max_listed)
        )
    };
    Verdict {
        check: "figures",
        score: supported_share,
        passed,
        detail,
    }
}

fn identity(summary: &SummaryFeatures, source: &SourceFeatures, fit: &Fit, weak: bool) -> Verdict {
    let Some(name) = &source.name else {
        return Verdict {
            check: "identity",
            score: 1.0,
            passed: true,
            detail: "the title gives the work no name".to_string(),
        };
    };
    let named = names_work(name, &summary.squashed);
    let detail = if named {
        format!("the summary names the work {name:?}")
    } else {
        format!(
            "the title names the work {name:?} but the summary never does (and only {}% of its terms are in the abstract)",
            pct(fit.coverage)
        )
    };
    Verdict {
        check: "identity",
        score: if named { 1.0 } else { 0.0 },
        passed: named || !weak,
        detail,
    }
}

fn generic(
    summary: &SummaryFeatures,
    source: &SourceFeatures,
    fit: &Fit,
    weak: bool,
    settings: &IdentitySettings,
) -> Verdict {
    let mut specific = fit.specific.clone();
    specific.extend(
        summary
            .figures
            .iter()
            .filter(|(key, _)| source.figures.contains(key))
            .map(|(_, surface)| surface.clone()),
    );
    let passed = !(weak && specific.len() < settings.min_specific);
    let detail = if specific.is_empty() {
        format!(
            "nothing specific to this paper is supported ({}% of its terms are in the abstract): text that could describe any paper",
            pct(fit.coverage)
        )
    } else {
        format!(
            "{} specific supported terms or figures: {}",
            specific.len(),
            listed(&specific, settings.max_listed)
        )
    };
    Verdict {
        check: "generic",
        score: specific.len() as f64,
        passed,
        detail,
    }
}
