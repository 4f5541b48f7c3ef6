//! Measuring the identity checks on labelled pairs (for `eval-checks`): a summary with the abstract it
//! was written from (`match`) or with another paper's abstract (`mismatch`), grouped into batches.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Batch, IdentitySettings};
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

#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
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
    pub summaries_per_second: f64,
    pub flagged_matches: Vec<FlaggedPair>,
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Runs the checks on every pair (each batch prepared once) and counts hits and misses.
pub fn evaluate(
    pairs: impl Iterator<Item = LabelledPair>,
    settings: &IdentitySettings,
) -> EvalReport {
    let pairs: Vec<LabelledPair> = pairs.collect();
    let texts: Vec<String> = pairs.iter().map(|p| p.summary.text()).collect();
    let started = Instant::now();
    let mut batches: HashMap<&str, Batch> = HashMap::new();
    for pair in &pairs {
        if let Some(key) = &pair.batch {
            batches.entry(key).or_default().push(
                pair.arxiv_id.clone(),
                &pair.title,
                &pair.abstract_text,
            );
        }
    }
    let alone = Batch::default();
    let reports: Vec<_> = pairs
        .iter()
        .zip(&texts)
        .map(|(pair, text)| {
            let batch = pair
                .batch
                .as_deref()
                .and_then(|k| batches.get(k))
                .unwrap_or(&alone);
            batch.check_text(
                text,
                &pair.arxiv_id,
                &pair.title,
                &pair.abstract_text,
                settings,
            )
        })
        .collect();
    let elapsed = started.elapsed().as_secs_f64();

    let mut report = EvalReport {
        summaries_per_second: if elapsed > 0.0 {
            pairs.len() as f64 / elapsed
        } else {
            0.0
        },
        ..EvalReport::default()
    };
    for ((pair, text), result) in pairs.iter().zip(&texts).zip(&reports) {
        let flagged = !result.passed();
        for verdict in result.verdicts.iter().filter(|v| !v.passed) {
            let counts = report
                .flags_by_check
                .entry(verdict.check.to_string())
                .or_default();
            match pair.label {
                Label::Match => counts.0 += 1,
                Label::Mismatch => counts.1 += 1,
            }
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
        if pair.label == Label::Match
            && super::features::english_keys(text).english_words < LOW_ENGLISH_WORDS
        {
            report.low_english_matches += 1;
            report.low_english_false_positives += usize::from(flagged);
        }
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
    report
}
