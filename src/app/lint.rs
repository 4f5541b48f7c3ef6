//! `lint <DIGEST.md>...`: audit digests already published, entry by entry, against the papers'
//! abstracts with the same shape and identity checks a run applies. Uses the digest parser, the
//! checks, the store (read only, when it exists) and the fetch stage (with `--fetch`); no model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CommandError, Context, ExitStatus};
use crate::checks::identity::{self, Batch, IdentitySettings};
use crate::checks::links;
use crate::checks::shape::{self, ShapeLimits};
use crate::checks::Reason;
use crate::cli::{LintArgs, LintFormat};
use crate::paper::{ArxivId, Paper};
use crate::pipeline::fetch::{FetchError, Fetcher};
use crate::render::digest::{self, ParsedEntry};
use crate::settings::Settings;
use crate::source;
use crate::store::Store;

pub(super) async fn lint(
    settings: &Settings,
    args: LintArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let digests = args
        .digests
        .iter()
        .map(|path| read_digest(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut papers: HashMap<ArxivId, Paper> = HashMap::new();
    for path in &args.papers {
        for paper in source::file::load(path).map_err(FetchError::Input)? {
            papers.entry(paper.id.clone()).or_insert(paper);
        }
    }
    let mut missing: Vec<ArxivId> = digests
        .iter()
        .flat_map(|digest| digest.entries.iter().map(|entry| entry.id.clone()))
        .filter(|id| !papers.contains_key(id))
        .collect();
    missing.sort();
    missing.dedup();
    // The store is read only when it exists: lint never creates one.
    if !missing.is_empty() && settings.database.exists() {
        let store = Store::open(&settings.database)?;
        for id in &missing {
            if let Some(paper) = store.paper(id)? {
                papers.insert(id.clone(), paper);
            }
        }
        missing.retain(|id| !papers.contains_key(id));
    }
    if args.fetch && !missing.is_empty() {
        let fetcher = Fetcher::new(&settings.source, ctx.shutdown.clone())?;
        for paper in fetcher.lookup(&missing).await?.found {
            papers.insert(paper.id.clone(), paper);
        }
    }
    let limits = &settings.summarize.shape;
    let reports: Vec<_> = digests
        .iter()
        .flat_map(|digest| check_digest(digest, &papers, limits, &settings.summarize.identity))
        .collect();
    match args.format {
        LintFormat::Text => ctx.out.write_all(render_text(&reports).as_bytes())?,
        LintFormat::Json => {
            let json = serde_json::to_string_pretty(&reports)
                .map_err(|e| CommandError::Usage(format!("cannot encode the lint results: {e}")))?;
            writeln!(ctx.out, "{json}")?;
        }
    }
    Ok(if all_ok(&reports) {
        ExitStatus::Success
    } else {
        ExitStatus::NotAllPublished
    })
}

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
pub enum EntryStatus {
    Ok,
    Flag,
    /// No abstract was found for the entry: it is reported, never passed.
    Unmatched,
}

impl EntryStatus {
    fn label(self) -> &'static str {
        match self {
            EntryStatus::Ok => "OK",
            EntryStatus::Flag => "FLAG",
            EntryStatus::Unmatched => "UNMATCHED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub digest: String,
    pub line: usize,
    pub id: ArxivId,
    pub title: String,
    pub verdict: EntryStatus,
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
    identity: &IdentitySettings,
) -> Vec<EntryReport> {
    let batch: Vec<Paper> = digest
        .entries
        .iter()
        .filter_map(|entry| papers.get(&entry.id).cloned())
        .collect();
    let checker = Checker {
        limits,
        identity,
        batch: identity::prepare(&batch),
    };
    digest
        .entries
        .iter()
        .map(|entry| checker.entry(digest, entry, papers.get(&entry.id)))
        .collect()
}

/// What one digest's entries are checked with.
struct Checker<'a> {
    limits: &'a ShapeLimits,
    identity: &'a IdentitySettings,
    /// The abstracts of the digest's day, for the contrast check.
    batch: Batch,
}

impl Checker<'_> {
    fn entry(&self, digest: &Digest, entry: &ParsedEntry, paper: Option<&Paper>) -> EntryReport {
        let (verdict, reasons) = match paper {
        None => (
            EntryStatus::Unmatched,
            vec![Reason::new(
                "unmatched",
                format!(
                    "no abstract for {}: give --papers FILE with that day's papers, a --db that has it, or --fetch",
                    entry.id
                ),
            )],
        ),
        Some(paper) => {
            let reasons = self.reasons(entry, paper);
            let verdict = if reasons.is_empty() {
                EntryStatus::Ok
            } else {
                EntryStatus::Flag
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

    fn reasons(&self, entry: &ParsedEntry, paper: &Paper) -> Vec<Reason> {
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
        let mut reasons = shape::check_sections(&sections, self.limits);
        reasons.extend(links::check(&sections, &paper.title, &paper.abstract_text));
        reasons.extend(self.batch.check(&sections, paper, self.identity).reasons());
        reasons
    }
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
    let count = |status| reports.iter().filter(|r| r.verdict == status).count();
    text.push_str(&format!(
        "{} entries: {} OK, {} FLAG, {} UNMATCHED\n",
        reports.len(),
        count(EntryStatus::Ok),
        count(EntryStatus::Flag),
        count(EntryStatus::Unmatched)
    ));
    text
}

/// True when every entry passed.
pub fn all_ok(reports: &[EntryReport]) -> bool {
    reports.iter().all(|r| r.verdict == EntryStatus::Ok)
}
