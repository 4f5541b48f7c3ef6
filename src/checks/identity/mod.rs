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
mod full_text;
mod index;
mod support;
mod translit;

pub use full_text::{check_full_text, FULL_TEXT_CHECK};

pub use eval::{
    evaluate, evaluate_written_from, read_jsonl, CheckCounts, EvalInputError, EvalReport,
    FlaggedPair, HangulSpellings, HardNegatives, Label, LabelledPair, Summary,
};

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::checks::Reason;
use crate::paper::{ArxivId, Paper, Sections};
use features::{squash, stem, summary_names, work_name, SourceFeatures, SummaryFeatures};
use index::TermIndex;
use support::{Support, MIN_SUPPORT_WHEN_NAMES_DISAGREE};

/// Thresholds of the identity checks (config section `[checks.identity]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// Minimum weighted share of the summary's terms found in the title + abstract.
    pub min_anchor_coverage: f64,
    /// Below this coverage the soft signals (figures, identity, generic) may fail.
    pub corroborate_below: f64,
    /// Unsupported figures (two digits or a decimal) needed for the figures check to fail.
    pub max_unsupported_figures: usize,
    /// Fewer supported specific terms/figures than this is "generic".
    pub min_specific: usize,
    /// Another abstract must fit by this much more coverage to be "clearly better".
    pub contrast_margin: f64,
    /// How many unsupported items a reason lists at most.
    pub max_listed: usize,
}

/// What the summary being checked was written from: it decides which evidence may flag on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WrittenFrom {
    /// Our own runs: the model saw only the title and abstract, so a figure or name that is not in
    /// them was invented.
    #[default]
    Abstract,
    /// Digests written from the whole paper (as public bots write them): figures, body-only names and
    /// training details are expected, and only the anchors and the contrast decide.
    FullText,
}

impl WrittenFrom {
    pub const NAMES: [&'static str; 2] = ["abstract", "full-text"];

    pub fn as_str(self) -> &'static str {
        match self {
            WrittenFrom::Abstract => Self::NAMES[0],
            WrittenFrom::FullText => Self::NAMES[1],
        }
    }
}

impl std::fmt::Display for WrittenFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown summary input {0:?}: expected \"abstract\" or \"full-text\"")]
pub struct UnknownWrittenFrom(String);

impl std::str::FromStr for WrittenFrom {
    type Err = UnknownWrittenFrom;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "abstract" => Ok(WrittenFrom::Abstract),
            "full-text" => Ok(WrittenFrom::FullText),
            other => Err(UnknownWrittenFrom(other.to_string())),
        }
    }
}

/// The paper a summary is checked against.
#[derive(Debug, Clone, Copy)]
struct Source<'a> {
    id: &'a ArxivId,
    title: &'a str,
    abstract_text: &'a str,
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

/// The summary's terms and figures, split by whether the title and abstract hold them: the lookup
/// the `anchors` and `figures` checks make, for a reviewer to see (surface forms as the summary
/// writes them, rarest terms first, each once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TermMarks {
    pub found: Vec<String>,
    pub missing: Vec<String>,
}

/// [`TermMarks`] of a summary against its paper's title and abstract.
pub fn term_marks(summary: &str, title: &str, abstract_text: &str) -> TermMarks {
    let features = SummaryFeatures::new(summary);
    let own = SourceFeatures::new(title, abstract_text);
    let mut marks = TermMarks::default();
    let terms = features
        .terms
        .iter()
        .map(|(key, surface, _)| (own.terms.contains(key), surface));
    let figures = features
        .figures
        .iter()
        .map(|(key, surface)| (own.figures.contains(key), surface));
    for (found, surface) in terms.chain(figures) {
        let list = if found {
            &mut marks.found
        } else {
            &mut marks.missing
        };
        if !list.contains(surface) {
            list.push(surface.clone());
        }
    }
    marks
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
        let terms = SourceFeatures::terms_of(title, abstract_text);
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
        self.check_written_from(sections, paper, WrittenFrom::Abstract, settings)
    }

    /// [`Batch::check`] for a summary written from `written_from`.
    pub fn check_written_from(
        &self,
        sections: &Sections,
        paper: &Paper,
        written_from: WrittenFrom,
        settings: &IdentitySettings,
    ) -> IdentityReport {
        let source = Source {
            id: &paper.id,
            title: &paper.title,
            abstract_text: &paper.abstract_text,
        };
        self.check_in(&sections.joined(), &source, &[], written_from, settings)
    }

    /// Every verdict, contrasting with the batch less `source` and the `absent` papers (left out to
    /// measure what the checks do when a summary's real paper is not among the day's).
    fn check_in(
        &self,
        summary: &str,
        source: &Source,
        absent: &[&ArxivId],
        written_from: WrittenFrom,
        settings: &IdentitySettings,
    ) -> IdentityReport {
        let summary = SummaryFeatures::new(summary);
        // The batch keeps only term ids; the paper's own figures and name come from its text.
        let own = SourceFeatures::new(source.title, source.abstract_text);
        let fit = Fit::measure(&summary, &own);
        let support = Support::measure(&summary, &own, fit.coverage);
        let named = own
            .name
            .as_deref()
            .is_some_and(|name| summary_names(name, &summary));
        let unvouched = match written_from {
            // Naming the work or a solid share of supported terms vouches for generic wording.
            WrittenFrom::Abstract => fit.coverage < settings.corroborate_below && !named,
            // Figures, body-only names and generic wording are expected from a full text: they only
            // add to a verdict the support already gives.
            WrittenFrom::FullText => !support.passes(),
        };
        let figures_suspect = match written_from {
            // The model saw only the abstract: a figure it does not hold was invented.
            WrittenFrom::Abstract => true,
            WrittenFrom::FullText => !support.passes(),
        };
        let mut left_out: Vec<usize> = absent
            .iter()
            .chain(std::iter::once(&source.id))
            .filter_map(|id| self.positions.get(*id).copied())
            .collect();
        left_out.sort_unstable();
        left_out.dedup();
        IdentityReport {
            verdicts: vec![
                anchors(&fit, settings),
                support::verdict(&support),
                figures(&summary, &own, figures_suspect, settings),
                identity(&summary, &own, named, &support),
                self.contrast(&summary, &left_out, &fit, settings),
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
        left_out: &[usize],
        own: &Fit,
        settings: &IdentitySettings,
    ) -> Verdict {
        let others = self.entries.len() - left_out.len();
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
        let search = self.index.best_fit(&query, left_out, bar);
        if let Some((document, best_cov)) = search.best {
            if own.coverage - best_cov <= -settings.contrast_margin {
                return self.better_fit(summary, own, document, best_cov, settings);
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

impl Batch {
    /// The failing contrast verdict: `document` fits the summary better than its own paper. It is
    /// named only when it supports the summary on its own terms (it would pass the anchors, support
    /// and identity checks as the summary's paper); otherwise the summary fits none of the batch's
    /// papers.
    fn better_fit(
        &self,
        summary: &SummaryFeatures,
        own: &Fit,
        document: usize,
        coverage: f64,
        settings: &IdentitySettings,
    ) -> Verdict {
        let other = &self.entries[document];
        let title_terms = features::english_keys(&other.title).terms;
        let support = Support::of_terms(
            summary,
            self.index.terms_of(document),
            title_terms.keys().map(String::as_str),
            coverage,
        );
        let terms: HashSet<&str> = self.index.terms_of(document).collect();
        let unnamed_title = work_name(&other.title).filter(|name| !summary_names(name, summary));
        let disagreements = name_disagreements(summary, unnamed_title.as_deref(), |name| {
            terms.contains(stem(&squash(name)).as_str())
        });
        let supports = support.score >= support_needed(&disagreements)
            && coverage >= settings.min_anchor_coverage;
        let detail = if supports {
            format!(
                "describes {}: {} ({}% of its terms found there vs {}% in this paper's title and abstract; support {:.2} there)",
                other.id,
                other.title,
                pct(coverage),
                pct(own.coverage),
                support.score
            )
        } else {
            format!(
                "fits none of the batch's papers: this paper's title and abstract hold {}% of its terms and the closest other abstract {}%, which does not support it on its own terms either (support {:.2} there, minimum {:.2}{})",
                pct(own.coverage),
                pct(coverage),
                support.score,
                support_needed(&disagreements),
                if disagreements.is_empty() { "" } else { " when names disagree" }
            )
        };
        Verdict {
            check: "contrast",
            score: own.coverage - coverage,
            passed: false,
            detail,
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
    /// The unsupported ones at least [`SPECIFIC_WEIGHT`] rare.
    unsupported_specific: Vec<String>,
}

impl Fit {
    fn measure(summary: &SummaryFeatures, source: &SourceFeatures) -> Fit {
        let mut matched = 0.0;
        let mut specific = Vec::new();
        let mut unsupported = Vec::new();
        let mut unsupported_specific = Vec::new();
        for (key, surface, weight) in &summary.terms {
            if source.terms.contains(key) {
                matched += weight;
                if *weight >= SPECIFIC_WEIGHT {
                    specific.push(surface.clone());
                }
            } else {
                unsupported.push(surface.clone());
                if *weight >= SPECIFIC_WEIGHT {
                    unsupported_specific.push(surface.clone());
                }
            }
        }
        Fit {
            coverage: matched / summary.coverage_denominator(),
            specific,
            unsupported,
            unsupported_specific,
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

/// What the names say against this paper being the summary's: the work its title names is never
/// named (`unnamed_title`: that name, when the summary does not write it), or the coined name the
/// summary repeats (its subject) is nowhere in the title and abstract.
fn name_disagreements(
    summary: &SummaryFeatures,
    unnamed_title: Option<&str>,
    source_mentions: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut disagreements = Vec::new();
    if let Some(name) = unnamed_title {
        disagreements.push(format!(
            "the title names the work {name:?} but the summary never does"
        ));
    }
    if let Some(focus) = summary.unnamed_focus(source_mentions) {
        disagreements.push(format!(
            "the summary is about {:?} ({} mentions), which the title and abstract never name",
            focus.name, focus.mentions
        ));
    }
    disagreements
}

/// The support a paper needs before it may be taken for the summary's.
fn support_needed(disagreements: &[String]) -> f64 {
    if disagreements.is_empty() {
        support::MIN_SUPPORT
    } else {
        MIN_SUPPORT_WHEN_NAMES_DISAGREE
    }
}

/// Fails when the names disagree and the support is not strong enough to outweigh it. `named`: the
/// summary names the work of the title.
fn identity(
    summary: &SummaryFeatures,
    source: &SourceFeatures,
    named: bool,
    support: &Support,
) -> Verdict {
    let unnamed_title = source.name.as_deref().filter(|_| !named);
    let disagreements = name_disagreements(summary, unnamed_title, |name| source.mentions(name));
    let passed = disagreements.is_empty() || support.score >= MIN_SUPPORT_WHEN_NAMES_DISAGREE;
    let detail = if disagreements.is_empty() {
        match &source.name {
            Some(name) => format!("the summary names the work {name:?}"),
            None => "no name disagrees with the title and abstract".to_string(),
        }
    } else {
        format!(
            "{} (support {:.2}; names that disagree need {MIN_SUPPORT_WHEN_NAMES_DISAGREE:.2})",
            disagreements.join("; "),
            support.score
        )
    };
    Verdict {
        check: "identity",
        score: if disagreements.is_empty() { 1.0 } else { 0.0 },
        passed,
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
