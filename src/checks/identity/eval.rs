//! Measuring the identity checks on labelled pairs (for `eval-checks`): a summary with the abstract it
//! was written from (`match`) or with another paper's abstract (`mismatch`), grouped into batches.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::features::{english_keys, weight, SourceFeatures, SummaryFeatures};
use super::support::hangul_credited;
use super::{Batch, IdentityReport, IdentitySettings, Source, WrittenFrom};
use crate::paper::{ArxivId, Sections};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Match,
    Mismatch,
}

/// A summary as sections, or as one free text (a malformed or older answer).
#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    Sections(Sections),
    Text(String),
}

impl Summary {
    pub fn text(&self) -> String {
        match self {
            Summary::Sections(sections) => sections.joined(),
            Summary::Text(text) => text.clone(),
        }
    }
}

/// One labelled pair: `summary` checked against `arxiv_id`'s title and abstract.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPair {
    pub arxiv_id: ArxivId,
    pub title: String,
    pub abstract_text: String,
    pub summary: Summary,
    pub label: Label,
    /// Pairs with the same key form a batch for the contrast check; `None` checks the pair alone.
    pub batch: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalInputError {
    #[error("labelled pairs line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("labelled pairs: read failed after line {line}: {message}")]
    Io { line: usize, message: String },
}

/// The JSONL wire form; `summary` is a string or an object of sections.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePair {
    arxiv_id: String,
    title: String,
    #[serde(rename = "abstract")]
    abstract_text: String,
    summary: WireSummary,
    label: Label,
    #[serde(default)]
    batch: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireSummary {
    Text(String),
    Sections(BTreeMap<String, String>),
}

/// Section keys as the project writes them and as published digests title them.
const SECTION_KEYS: [[&str; 2]; 3] = [
    ["whats_new", "What's New"],
    ["technical_details", "Technical Details"],
    ["performance_highlights", "Performance Highlights"],
];

fn sections_from(map: &BTreeMap<String, String>) -> Result<Sections, String> {
    let get = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| map.get(*k))
            .cloned()
            .ok_or_else(|| format!("summary object has no {:?} section", keys[0]))
    };
    Ok(Sections {
        whats_new: get(SECTION_KEYS[0])?,
        technical_details: get(SECTION_KEYS[1])?,
        performance_highlights: get(SECTION_KEYS[2])?,
    })
}

fn parse_line(text: &str) -> Result<LabelledPair, String> {
    let wire: WirePair = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let arxiv_id = wire
        .arxiv_id
        .parse::<ArxivId>()
        .map_err(|e| e.to_string())?;
    let summary = match wire.summary {
        WireSummary::Text(text) => Summary::Text(text),
        WireSummary::Sections(map) => Summary::Sections(sections_from(&map)?),
    };
    Ok(LabelledPair {
        arxiv_id,
        title: wire.title,
        abstract_text: wire.abstract_text,
        summary,
        label: wire.label,
        batch: wire.batch,
    })
}

/// Reads labelled pairs from JSONL, one per non-blank line, each error naming its line.
pub fn read_jsonl(
    reader: impl BufRead,
) -> impl Iterator<Item = Result<LabelledPair, EvalInputError>> {
    reader.lines().enumerate().filter_map(|(index, line)| {
        let line_no = index + 1;
        match line {
            Err(e) => Some(Err(EvalInputError::Io {
                line: index,
                message: e.to_string(),
            })),
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(parse_line(&text).map_err(|message| EvalInputError::Line {
                line: line_no,
                message,
            })),
        }
    })
}

/// A true pair the checks flagged, for reading by hand.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedPair {
    pub arxiv_id: ArxivId,
    pub title: String,
    pub reasons: Vec<String>,
}

/// Summaries with fewer distinct English words than this form the "little English" subset.
const LOW_ENGLISH_WORDS: usize = 5;

/// How often each check failed on one kind of pair, and how often it was the only one to fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckCounts {
    pub flags: usize,
    /// Pairs this check alone flagged: what the verdict would lose without it.
    pub sole: usize,
}

/// Recall on one set of negatives the evaluation builds from the file's own abstracts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HardNegatives {
    pub negatives: usize,
    /// Summaries left without a negative of this kind (nearest neighbours: batch too large).
    pub skipped: usize,
    pub flagged: usize,
    pub recall: f64,
    pub by_check: BTreeMap<String, CheckCounts>,
}

/// Title and abstract words that count toward the support (not among the commonest) credited because
/// the summary writes them in Hangul, outside the loanword table: on true pairs they are what the matching is for; on swapped pairs they are false matches
/// (unless both papers use the word).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HangulSpellings {
    pub on_matches: usize,
    pub matches_with_any: usize,
    pub on_mismatches: usize,
    pub mismatches_with_any: usize,
    /// The first few words credited on swapped pairs, as `word ← summary word`, for reading.
    pub mismatch_examples: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
    /// What the summaries were written from (decides which checks may flag on their own).
    pub written_from: WrittenFrom,
    /// Mismatches flagged.
    pub true_positives: usize,
    /// Matches flagged.
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub false_positive_rate: f64,
    /// Matches whose summary has fewer than five English words, and how many of them were flagged.
    pub low_english_matches: usize,
    pub low_english_false_positives: usize,
    pub low_english_false_positive_rate: f64,
    /// Per check: (flags on matches, flags on mismatches).
    pub flags_by_check: BTreeMap<String, (usize, usize)>,
    /// Per check: (sole flags on matches, sole flags on mismatches).
    pub sole_flags_by_check: BTreeMap<String, (usize, usize)>,
    /// The file's mismatches checked with the summary's real paper left out of the batch (found as
    /// the `match` pair with the same summary), so the contrast cannot point at it.
    pub paper_absent: HardNegatives,
    /// Each `match` summary against the most similar other abstract of its batch (IDF-weighted
    /// cosine of their terms), its real paper left out of the batch: the hardest swap of the day.
    pub nearest_neighbour: HardNegatives,
    pub hangul_spellings: HangulSpellings,
    pub summaries_per_second: f64,
    pub flagged_matches: Vec<FlaggedPair>,
}

impl EvalReport {
    /// The confusion matrix, rates, hard negatives and per-check counts as a person reads them;
    /// `show_errors` adds every flagged true pair with its reasons.
    pub fn to_text(&self, show_errors: bool) -> String {
        let mut text = format!(
            "pairs: {} ({} mismatch, {} match)\n\
             \n\
             \t\t\tflagged\tpassed\n\
             mismatch (swapped)\t{}\t{}\n\
             match (true)\t\t{}\t{}\n\
             \n\
             precision: {:.2}%\n\
             recall on mismatches: {:.2}%\n\
             false-positive rate on matches: {:.2}%\n\
             false-positive rate on matches with < 5 English words: {:.2}% ({} of {})\n\
             throughput: {:.0} summaries/s\n",
            self.true_positives + self.false_negatives + self.false_positives + self.true_negatives,
            self.true_positives + self.false_negatives,
            self.false_positives + self.true_negatives,
            self.true_positives,
            self.false_negatives,
            self.false_positives,
            self.true_negatives,
            self.precision * 100.0,
            self.recall * 100.0,
            self.false_positive_rate * 100.0,
            self.low_english_false_positive_rate * 100.0,
            self.low_english_false_positives,
            self.low_english_matches,
            self.summaries_per_second,
        );
        text.push_str("flags by check (on matches / on mismatches):\n");
        for (check, (on_matches, on_mismatches)) in &self.flags_by_check {
            let (sole_matches, sole_mismatches) = self
                .sole_flags_by_check
                .get(check)
                .copied()
                .unwrap_or_default();
            text.push_str(&format!(
                "  {check}: {on_matches} / {on_mismatches} (alone: {sole_matches} / {sole_mismatches})\n"
            ));
        }
        text.push_str(&format!("summaries written from: {}\n", self.written_from));
        for (name, hard) in [
            ("real paper absent from the batch", &self.paper_absent),
            (
                "nearest-neighbour swaps, real paper absent",
                &self.nearest_neighbour,
            ),
        ] {
            text.push_str(&format!(
                "recall on {name}: {:.2}% ({} of {})\n",
                hard.recall * 100.0,
                hard.flagged,
                hard.negatives
            ));
            if hard.skipped > 0 {
                text.push_str(&format!(
                    "  ({} summaries in batches over {MAX_NEAREST_NEIGHBOUR_BATCH} papers have none)\n",
                    hard.skipped
                ));
            }
            for (check, counts) in &hard.by_check {
                text.push_str(&format!(
                    "  {check}: {} (alone: {})\n",
                    counts.flags, counts.sole
                ));
            }
        }
        let spellings = &self.hangul_spellings;
        text.push_str(&format!(
            "Hangul spellings credited: {} words in {} of {} true pairs; {} words in {} of {} swapped pairs (false matches unless both papers use the word)\n",
            spellings.on_matches,
            spellings.matches_with_any,
            self.true_negatives + self.false_positives,
            spellings.on_mismatches,
            spellings.mismatches_with_any,
            self.true_positives + self.false_negatives,
        ));
        if show_errors && !spellings.mismatch_examples.is_empty() {
            text.push_str(&format!(
                "  credited on swapped pairs: {}\n",
                spellings.mismatch_examples.join(", ")
            ));
        }
        if show_errors {
            text.push_str("flagged true pairs:\n");
            for pair in &self.flagged_matches {
                text.push_str(&format!("  {} {}\n", pair.arxiv_id, pair.title));
                for reason in &pair.reasons {
                    text.push_str(&format!("      - {reason}\n"));
                }
            }
        }
        text
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One check to run: a summary against a source, with papers left out of its batch.
struct Case<'a> {
    summary: &'a str,
    source: &'a LabelledPair,
    absent: Option<&'a ArxivId>,
}

/// The batches of the file, each prepared once.
struct Batches<'a> {
    by_key: HashMap<&'a str, Batch>,
    alone: Batch,
}

impl<'a> Batches<'a> {
    fn new(pairs: &'a [LabelledPair]) -> Self {
        let mut by_key: HashMap<&str, Batch> = HashMap::new();
        for pair in pairs {
            if let Some(key) = &pair.batch {
                by_key.entry(key).or_default().push(
                    pair.arxiv_id.clone(),
                    &pair.title,
                    &pair.abstract_text,
                );
            }
        }
        Batches {
            by_key,
            alone: Batch::default(),
        }
    }

    fn run(
        &self,
        case: &Case,
        written_from: WrittenFrom,
        settings: &IdentitySettings,
    ) -> IdentityReport {
        let pair = case.source;
        let batch = pair
            .batch
            .as_deref()
            .and_then(|k| self.by_key.get(k))
            .unwrap_or(&self.alone);
        let source = Source {
            id: &pair.arxiv_id,
            title: &pair.title,
            abstract_text: &pair.abstract_text,
        };
        let absent: Vec<&ArxivId> = case.absent.into_iter().collect();
        batch.check_in(case.summary, &source, &absent, written_from, settings)
    }
}

/// Runs the checks on every pair (each batch prepared once) and counts hits and misses, for
/// summaries written from the abstract.
pub fn evaluate(
    pairs: impl Iterator<Item = LabelledPair>,
    settings: &IdentitySettings,
) -> EvalReport {
    evaluate_written_from(pairs, WrittenFrom::Abstract, settings)
}

/// [`evaluate`] for summaries written from `written_from`, with the hard negatives built from the
/// file's own abstracts.
pub fn evaluate_written_from(
    pairs: impl Iterator<Item = LabelledPair>,
    written_from: WrittenFrom,
    settings: &IdentitySettings,
) -> EvalReport {
    let pairs: Vec<LabelledPair> = pairs.collect();
    let texts: Vec<String> = pairs.iter().map(|p| p.summary.text()).collect();
    let started = Instant::now();
    let batches = Batches::new(&pairs);
    let reports: Vec<IdentityReport> = pairs
        .iter()
        .zip(&texts)
        .map(|(pair, text)| {
            let case = Case {
                summary: text,
                source: pair,
                absent: None,
            };
            batches.run(&case, written_from, settings)
        })
        .collect();
    let elapsed = started.elapsed().as_secs_f64();

    let mut report = EvalReport {
        written_from,
        summaries_per_second: if elapsed > 0.0 {
            pairs.len() as f64 / elapsed
        } else {
            0.0
        },
        ..EvalReport::default()
    };
    for ((pair, text), result) in pairs.iter().zip(&texts).zip(&reports) {
        count(&mut report, pair, text, result);
    }
    let positives = report.true_positives + report.false_negatives;
    let negatives = report.true_negatives + report.false_positives;
    report.precision = ratio(
        report.true_positives,
        report.true_positives + report.false_positives,
    );
    report.recall = ratio(report.true_positives, positives);
    report.false_positive_rate = ratio(report.false_positives, negatives);
    report.low_english_false_positive_rate = ratio(
        report.low_english_false_positives,
        report.low_english_matches,
    );
    report.paper_absent = hard_negatives(
        &batches,
        &paper_absent_cases(&pairs, &texts),
        written_from,
        settings,
    );
    report.hangul_spellings = hangul_spellings(&pairs, &texts);
    let (cases, skipped) = nearest_neighbour_cases(&pairs, &texts);
    report.nearest_neighbour = hard_negatives(&batches, &cases, written_from, settings);
    report.nearest_neighbour.skipped = skipped;
    report
}

fn failed_checks(result: &IdentityReport) -> Vec<&'static str> {
    result
        .verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.check)
        .collect()
}

fn count(report: &mut EvalReport, pair: &LabelledPair, text: &str, result: &IdentityReport) {
    let failed = failed_checks(result);
    let flagged = !failed.is_empty();
    let tally = |counts: &mut (usize, usize)| match pair.label {
        Label::Match => counts.0 += 1,
        Label::Mismatch => counts.1 += 1,
    };
    for check in &failed {
        tally(report.flags_by_check.entry(check.to_string()).or_default());
    }
    if let [only] = failed.as_slice() {
        tally(
            report
                .sole_flags_by_check
                .entry(only.to_string())
                .or_default(),
        );
    }
    match (pair.label, flagged) {
        (Label::Mismatch, true) => report.true_positives += 1,
        (Label::Mismatch, false) => report.false_negatives += 1,
        (Label::Match, false) => report.true_negatives += 1,
        (Label::Match, true) => {
            report.false_positives += 1;
            report.flagged_matches.push(FlaggedPair {
                arxiv_id: pair.arxiv_id.clone(),
                title: pair.title.clone(),
                reasons: result.reasons().iter().map(|r| r.to_string()).collect(),
            });
        }
    }
    if pair.label == Label::Match && english_keys(text).english_words < LOW_ENGLISH_WORDS {
        report.low_english_matches += 1;
        report.low_english_false_positives += usize::from(flagged);
    }
}

/// How many source words each pair credits through Hangul spellings alone.
fn hangul_spellings(pairs: &[LabelledPair], texts: &[String]) -> HangulSpellings {
    const EXAMPLES: usize = 20;
    let mut out = HangulSpellings::default();
    for (pair, text) in pairs.iter().zip(texts) {
        let summary = SummaryFeatures::new(text);
        let source = SourceFeatures::new(&pair.title, &pair.abstract_text);
        let said: HashSet<&str> = summary.terms.iter().map(|t| t.0.as_str()).collect();
        let credited: Vec<&str> = hangul_credited(&summary, &source, &said)
            .into_iter()
            .map(|(_, word)| word)
            .collect();
        match pair.label {
            Label::Match => {
                out.on_matches += credited.len();
                out.matches_with_any += usize::from(!credited.is_empty());
            }
            Label::Mismatch => {
                out.on_mismatches += credited.len();
                out.mismatches_with_any += usize::from(!credited.is_empty());
                for word in credited {
                    if out.mismatch_examples.len() < EXAMPLES {
                        out.mismatch_examples.push(word.to_string());
                    }
                }
            }
        }
    }
    out
}

fn hard_negatives(
    batches: &Batches,
    cases: &[Case],
    written_from: WrittenFrom,
    settings: &IdentitySettings,
) -> HardNegatives {
    let mut out = HardNegatives {
        negatives: cases.len(),
        ..HardNegatives::default()
    };
    for case in cases {
        let result = batches.run(case, written_from, settings);
        let failed = failed_checks(&result);
        out.flagged += usize::from(!failed.is_empty());
        for check in &failed {
            let counts = out.by_check.entry(check.to_string()).or_default();
            counts.flags += 1;
            counts.sole += usize::from(failed.len() == 1);
        }
    }
    out.recall = ratio(out.flagged, out.negatives);
    out
}

/// The real paper of each summary: the `match` pair that carries it (the first, if several).
fn real_papers<'a>(
    pairs: &'a [LabelledPair],
    texts: &'a [String],
) -> HashMap<&'a str, &'a ArxivId> {
    let mut real = HashMap::new();
    for (pair, text) in pairs.iter().zip(texts) {
        if pair.label == Label::Match {
            real.entry(text.as_str()).or_insert(&pair.arxiv_id);
        }
    }
    real
}

fn paper_absent_cases<'a>(pairs: &'a [LabelledPair], texts: &'a [String]) -> Vec<Case<'a>> {
    let real = real_papers(pairs, texts);
    pairs
        .iter()
        .zip(texts)
        .filter(|(pair, _)| pair.label == Label::Mismatch && pair.batch.is_some())
        .filter_map(|(pair, text)| {
            let absent = *real.get(text.as_str())?;
            (absent != &pair.arxiv_id).then_some(Case {
                summary: text,
                source: pair,
                absent: Some(absent),
            })
        })
        .collect()
}

/// For every `match` pair with a batch, its summary against the batch's other `match` abstract most
/// similar to its own.
/// Batches with more papers than this get no nearest-neighbour negatives: the search compares every
/// pair of abstracts (day-sized batches have tens).
const MAX_NEAREST_NEIGHBOUR_BATCH: usize = 2_000;

/// The cases, and how many `match` summaries were left without one (their batch too large).
fn nearest_neighbour_cases<'a>(
    pairs: &'a [LabelledPair],
    texts: &'a [String],
) -> (Vec<Case<'a>>, usize) {
    let mut by_batch: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut seen: HashSet<(&str, &ArxivId)> = HashSet::new();
    for (i, pair) in pairs.iter().enumerate() {
        if let (Label::Match, Some(key)) = (pair.label, &pair.batch) {
            if seen.insert((key, &pair.arxiv_id)) {
                by_batch.entry(key).or_default().push(i);
            }
        }
    }
    let mut skipped = 0;
    by_batch.retain(|_, members| {
        let small = members.len() <= MAX_NEAREST_NEIGHBOUR_BATCH;
        if !small {
            skipped += members.len();
        }
        small
    });
    let vectors: HashMap<usize, TermVector> = by_batch
        .values()
        .flatten()
        .map(|&i| (i, TermVector::new(&pairs[i].title, &pairs[i].abstract_text)))
        .collect();
    let mut cases = Vec::new();
    for (i, (pair, text)) in pairs.iter().zip(texts).enumerate() {
        let (Label::Match, Some(key)) = (pair.label, &pair.batch) else {
            continue;
        };
        let Some(candidates) = by_batch.get(key.as_str()) else {
            continue;
        };
        let own = TermVector::new(&pair.title, &pair.abstract_text);
        let nearest = candidates
            .iter()
            .filter(|&&j| j != i && pairs[j].arxiv_id != pair.arxiv_id)
            .map(|&j| (own.cosine(&vectors[&j]), j))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        if let Some((_, j)) = nearest {
            cases.push(Case {
                summary: text,
                source: &pairs[j],
                absent: Some(&pair.arxiv_id),
            });
        }
    }
    (cases, skipped)
}

/// An abstract's terms weighted by rarity, for finding its nearest neighbour.
struct TermVector {
    /// Sorted, so the cosine sums in one order and ties between neighbours break the same way.
    weights: BTreeMap<String, f64>,
    norm: f64,
}

impl TermVector {
    fn new(title: &str, abstract_text: &str) -> Self {
        let weights: BTreeMap<String, f64> = SourceFeatures::new(title, abstract_text)
            .terms
            .into_iter()
            .map(|key| {
                let w = weight(&key);
                (key, w)
            })
            .collect();
        let norm = weights.values().map(|w| w * w).sum::<f64>().sqrt();
        TermVector { weights, norm }
    }

    fn cosine(&self, other: &TermVector) -> f64 {
        if self.norm == 0.0 || other.norm == 0.0 {
            return 0.0;
        }
        let dot: f64 = self
            .weights
            .iter()
            .filter_map(|(key, w)| other.weights.get(key).map(|v| w * v))
            .sum();
        dot / (self.norm * other.norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_PAIRS: &str = include_str!("../../../tests/fixtures/identity/dev_pairs.jsonl");

    fn dev_pairs() -> Vec<LabelledPair> {
        read_jsonl(std::io::BufReader::new(DEV_PAIRS.as_bytes()))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn hard_negatives_come_from_the_files_own_abstracts() {
        let report = evaluate_written_from(
            dev_pairs().into_iter(),
            WrittenFrom::FullText,
            &crate::settings::Settings::defaults()
                .unwrap_or_else(|e| panic!("{e}"))
                .summarize
                .identity,
        );
        // Each of the eight batched summaries against its nearest neighbour, real paper left out.
        assert_eq!(report.nearest_neighbour.negatives, 8);
        assert_eq!(report.nearest_neighbour.skipped, 0);
        // Each batched swap with its summary's real paper left out of the batch.
        assert_eq!(report.paper_absent.negatives, 8);
        assert_eq!(report.nearest_neighbour.flagged, 8, "{report:#?}");
        let sole: usize = report
            .nearest_neighbour
            .by_check
            .values()
            .map(|c| c.sole)
            .sum();
        assert!(sole <= report.nearest_neighbour.flagged);
    }

    #[test]
    fn the_text_report_states_the_hard_figures_and_what_the_summaries_were_written_from() {
        let report = evaluate(
            dev_pairs().into_iter(),
            &crate::settings::Settings::defaults()
                .unwrap_or_else(|e| panic!("{e}"))
                .summarize
                .identity,
        );
        let text = report.to_text(true);
        for line in [
            "summaries written from: abstract",
            "recall on real paper absent from the batch: 100.00% (8 of 8)",
            "recall on nearest-neighbour swaps, real paper absent: 100.00% (8 of 8)",
            "Hangul spellings credited: ",
            "flagged true pairs:",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(text.contains("  support: 0 / "), "{text}");
    }
}
