//! `lint`: audit digests already published, entry by entry, against the papers' abstracts with the same
//! shape and identity checks a run applies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checks::shape::{self, ShapeLimits};
use crate::checks::Reason;
use crate::paper::{ArxivId, Paper};
use crate::pipeline::IdentityGate;
use crate::render::digest::{self, ParsedEntry};

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read digest {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}:{line}: not a digest in the published format: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// What `lint` concluded about one digest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Flag,
    /// No abstract was found for the entry: it is reported, never passed.
    Unmatched,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Flag => "FLAG",
            Verdict::Unmatched => "UNMATCHED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub digest: String,
    pub line: usize,
    pub id: ArxivId,
    pub title: String,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

/// A digest read from disk, its entries parsed.
pub struct Digest {
    pub path: PathBuf,
    pub entries: Vec<ParsedEntry>,
}

pub fn read_digest(path: &Path) -> Result<Digest, LintError> {
    let text = std::fs::read_to_string(path).map_err(|e| LintError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let parsed = digest::parse(&text).map_err(|e| LintError::Parse {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message.clone(),
    })?;
    Ok(Digest {
        path: path.to_path_buf(),
        entries: parsed.entries,
    })
}

/// Checks every entry of `digest` against `papers` (abstracts by ID). The identity checks contrast
/// each entry with every abstract known for the digest's day.
pub fn check_digest(
    digest: &Digest,
    papers: &HashMap<ArxivId, Paper>,
    limits: &ShapeLimits,
    identity: &crate::checks::identity::IdentitySettings,
) -> Vec<EntryReport> {
    let batch: Vec<Paper> = digest
        .entries
        .iter()
        .filter_map(|entry| papers.get(&entry.id).cloned())
        .collect();
    let gate = IdentityGate::new(&batch, identity);
    digest
        .entries
        .iter()
        .map(|entry| check_entry(digest, entry, papers.get(&entry.id), limits, &gate))
        .collect()
}

fn check_entry(
    digest: &Digest,
    entry: &ParsedEntry,
    paper: Option<&Paper>,
    limits: &ShapeLimits,
    gate: &IdentityGate,
) -> EntryReport {
    let (verdict, reasons) = match paper {
        None => (
            Verdict::Unmatched,
            vec![Reason::new(
                "unmatched",
                format!(
                    "no abstract for {}: give --papers FILE with that day's papers, a --db that has it, or --fetch",
                    entry.id
                ),
            )],
        ),
        Some(paper) => {
            let reasons = entry_reasons(entry, paper, limits, gate);
            let verdict = if reasons.is_empty() {
                Verdict::Ok
            } else {
                Verdict::Flag
            };
            (verdict, reasons)
        }
    };
    EntryReport {
        digest: digest.path.display().to_string(),
        line: entry.line,
        id: entry.id.clone(),
        title: entry.title.clone(),
        verdict,
        reasons,
    }
}

fn entry_reasons(
    entry: &ParsedEntry,
    paper: &Paper,
    limits: &ShapeLimits,
    gate: &IdentityGate,
) -> Vec<Reason> {
    let Some(sections) = entry.known_sections() else {
        let titles: Vec<_> = entry.sections.iter().map(|s| s.title.as_str()).collect();
        return vec![Reason::new(
            "sections",
            format!(
                "expected the sections What's New, Technical Details, Performance Highlights; found {}",
                if titles.is_empty() {
                    "none".to_string()
                } else {
                    titles.join(", ")
                }
            ),
        )];
    };
    let mut reasons = shape::check_sections(&sections, limits);
    reasons.extend(gate.check(&sections, paper).reasons());
    reasons
}

/// One line per entry, reasons indented under it, and a closing count.
pub fn render_text(reports: &[EntryReport]) -> String {
    let mut text = String::new();
    for report in reports {
        text.push_str(&format!(
            "{}:{}\t{}\t{}\t{}\n",
            report.digest,
            report.line,
            report.verdict.label(),
            report.id,
            report.title
        ));
        for reason in &report.reasons {
            text.push_str(&format!("    - {}: {}\n", reason.check, reason.message));
        }
    }
    let count = |verdict| reports.iter().filter(|r| r.verdict == verdict).count();
    text.push_str(&format!(
        "{} entries: {} OK, {} FLAG, {} UNMATCHED\n",
        reports.len(),
        count(Verdict::Ok),
        count(Verdict::Flag),
        count(Verdict::Unmatched)
    ));
    text
}

/// True when every entry passed.
pub fn all_ok(reports: &[EntryReport]) -> bool {
    reports.iter().all(|r| r.verdict == Verdict::Ok)
}
