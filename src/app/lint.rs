//! `lint <DIGEST.md>...`: audit digests already published, entry by entry, against the papers'
//! abstracts with the same shape, links and identity checks a run applies. Uses the digest parser,
//! the checks, the store (read only for abstracts; the full-text cache) and the fetch stage (with
//! `--fetch` or `--fetch-full-text`); no model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CommandError, Context, ExitStatus};
use crate::checks::identity::{self, Batch, IdentityReport, IdentitySettings, WrittenFrom};
use crate::checks::links;
use crate::checks::shape::{self, ShapeLimits};
use crate::checks::Reason;
use crate::cli::{LintArgs, LintFormat};
use crate::paper::{ArxivId, Paper};
use crate::pipeline::fetch::{FetchError, Fetcher};
use crate::render::digest::{self, ParsedEntry};
use crate::settings::Settings;
use crate::source;
use crate::source::arxiv::html::{ArxivHtmlClient, Rendering};
use crate::store::{CachedFullText, Store};

/// A missing rendering is asked for again after this long (arXiv converts papers late, or again).
const RETRY_MISSING_AFTER_DAYS: i64 = 7;

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
    let papers = abstracts(settings, &args, &digests, &ctx).await?;
    let options = Options {
        limits: &settings.summarize.shape,
        identity: &settings.summarize.identity,
        written_from: args.written_from.unwrap_or(settings.lint_written_from),
    };
    let mut checked: Vec<Checked> = digests
        .iter()
        .flat_map(|digest| check_digest(digest, &papers, &options))
        .collect();
    if args.fetch_full_text {
        // The cache lives in the store, which is created for it when missing.
        let store = Store::open(&settings.database)?;
        let client = Fetcher::new(&settings.source, ctx.shutdown.clone())?.full_texts()?;
        for entry in checked.iter_mut().filter(|c| c.needs_full_text()) {
            let cached = full_text(&store, &client, &entry.report.id).await?;
            entry.ground(&cached);
        }
    }
    let reports: Vec<EntryReport> = checked.into_iter().map(|c| c.report).collect();
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

/// The abstracts of the digests' entries: from `--papers` files, then the store (read only when it
/// exists: this never creates one), then arXiv with `--fetch`.
async fn abstracts(
    settings: &Settings,
    args: &LintArgs,
    digests: &[Digest],
    ctx: &Context<'_>,
) -> Result<HashMap<ArxivId, Paper>, CommandError> {
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
    Ok(papers)
}

/// The paper's full text from the cache, or from arXiv (then cached).
async fn full_text(
    store: &Store,
    client: &ArxivHtmlClient,
    id: &ArxivId,
) -> Result<CachedFullText, CommandError> {
    let max_age = chrono::Duration::days(RETRY_MISSING_AFTER_DAYS);
    if let Some(cached) = store.full_text(id, max_age)? {
        return Ok(cached);
    }
    let fetched = client.fetch(id).await.map_err(FetchError::Source)?;
    let cached = match fetched {
        Rendering::Found { url, full_text } => CachedFullText {
            url,
            found: true,
            text: full_text.text(),
        },
        Rendering::Missing { url, why } => CachedFullText {
            url,
            found: false,
            text: why,
        },
    };
    store.save_full_text(id, &cached)?;
    Ok(cached)
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
    /// Why a flagged entry passed after all (its paper's full text supports it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Reason>,
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

/// How entries are checked.
pub struct Options<'a> {
    pub limits: &'a ShapeLimits,
    pub identity: &'a IdentitySettings,
    pub written_from: WrittenFrom,
}

/// One entry's report, with what a full-text re-check of it needs.
pub struct Checked<'a> {
    pub report: EntryReport,
    paper: Option<&'a Paper>,
    entry: &'a ParsedEntry,
    /// Shape and links reasons: the full text cannot change them.
    fixed: Vec<Reason>,
    identity: Option<IdentityReport>,
}

impl Checked<'_> {
    /// Flagged by the identity checks, which the paper's full text may overrule.
    fn needs_full_text(&self) -> bool {
        self.report.verdict == EntryStatus::Flag
            && self.identity.as_ref().is_some_and(|r| !r.passed())
    }

    /// Checks the entry again against `full_text`; an entry its own full text supports passes, and
    /// the reason says so.
    fn ground(&mut self, full_text: &CachedFullText) {
        let (Some(paper), Some(sections), Some(report)) = (
            self.paper,
            self.entry.known_sections(),
            self.identity.take(),
        ) else {
            return;
        };
        let report = if full_text.found {
            let verdict =
                identity::check_full_text(&sections.joined(), &paper.title, &full_text.text);
            if verdict.passed {
                self.report.notes.push(Reason::new(
                    identity::FULL_TEXT_CHECK,
                    format!("{} ({})", verdict.detail, full_text.url),
                ));
            }
            report.with_full_text(verdict)
        } else {
            let mut reasons = report.reasons();
            reasons.push(Reason::new(
                identity::FULL_TEXT_CHECK,
                format!("no full text to check against: {}", full_text.text),
            ));
            self.set_reasons(reasons);
            return;
        };
        self.set_reasons(report.reasons());
        self.identity = Some(report);
    }

    fn set_reasons(&mut self, identity_reasons: Vec<Reason>) {
        let mut reasons = self.fixed.clone();
        reasons.extend(identity_reasons);
        self.report.verdict = if reasons.is_empty() {
            EntryStatus::Ok
        } else {
            EntryStatus::Flag
        };
        self.report.reasons = reasons;
    }
}

/// Checks every entry of `digest` against `papers` (abstracts by ID). The identity checks contrast
/// each entry with every abstract known for the digest's day.
pub fn check_digest<'a>(
    digest: &'a Digest,
    papers: &'a HashMap<ArxivId, Paper>,
    options: &Options<'_>,
) -> Vec<Checked<'a>> {
    let batch_papers: Vec<Paper> = digest
        .entries
        .iter()
        .filter_map(|entry| papers.get(&entry.id).cloned())
        .collect();
    let batch = identity::prepare(&batch_papers);
    digest
        .entries
        .iter()
        .map(|entry| check_entry(digest, entry, papers.get(&entry.id), &batch, options))
        .collect()
}

fn check_entry<'a>(
    digest: &Digest,
    entry: &'a ParsedEntry,
    paper: Option<&'a Paper>,
    batch: &Batch,
    options: &Options<'_>,
) -> Checked<'a> {
    let mut checked = Checked {
        report: EntryReport {
            digest: digest.path.display().to_string(),
            line: entry.line,
            id: entry.id.clone(),
            title: entry.title.clone(),
            verdict: EntryStatus::Unmatched,
            reasons: Vec::new(),
            notes: Vec::new(),
        },
        paper,
        entry,
        fixed: Vec::new(),
        identity: None,
    };
    let Some(paper) = paper else {
        checked.report.reasons = vec![Reason::new(
            "unmatched",
            format!(
                "no abstract for {}: give --papers FILE with that day's papers, a --db that has it, or --fetch",
                entry.id
            ),
        )];
        return checked;
    };
    let Some(sections) = entry.known_sections() else {
        let titles: Vec<_> = entry.sections.iter().map(|s| s.title.as_str()).collect();
        checked.fixed = vec![Reason::new(
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
        checked.set_reasons(Vec::new());
        return checked;
    };
    checked.fixed = shape::check_sections(&sections, options.limits);
    checked
        .fixed
        .extend(links::check(&sections, &paper.title, &paper.abstract_text));
    let report = batch.check_written_from(&sections, paper, options.written_from, options.identity);
    checked.set_reasons(report.reasons());
    checked.identity = Some(report);
    checked
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
        for note in &report.notes {
            text.push_str(&format!("    = {}: {}\n", note.check, note.message));
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
