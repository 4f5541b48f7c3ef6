//! The published daily digest: one Markdown file per day, in the exact layout readers know
//! (`## Daily Papers (YYYY-MM-DD)`, then per paper a linked title, thumbnail, votes, authors and
//! the three sections), and a parser for published digests (used by `lint`).
//!
//! Zero votes are published as `Vote: -` (that is how the published digests show an HF paper
//! nobody voted for yet); papers without votes at all (arXiv) get no `Vote:` line.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::text::{
    image_url, inline, inline_unvouched, link_text, unescape_inline, unescape_link_text,
};
use crate::paper::{ArxivId, Sections, Status};
use crate::store::{CurrentEntry, ReviewAction};

const HEADING_PREFIX: &str = "## Daily Papers (";
const ENTRY_PREFIX: &str = "### [";
const VOTE_PREFIX: &str = "Vote: ";
const AUTHORS_PREFIX: &str = "Authors: ";
const WARNING_PREFIX: &str = "> ";
const SECTION_PREFIX: &str = "- **";
const SECTION_SEPARATOR: &str = "**: ";
const FLAGGED_WARNING: &str = "⚠️ 검토 필요 (flagged for review)";
const NO_PAPERS: &str = "이 날은 발표된 논문이 없습니다. (No papers were announced on this day.)";

/// One listed paper as the digest needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub id: ArxivId,
    pub title: String,
    pub thumbnail: Option<String>,
    /// That day's votes; `None` for sources without votes.
    pub votes: Option<i64>,
    pub authors: Vec<String>,
    /// `None` when the paper has no summary yet.
    pub status: Option<Status>,
    pub sections: Option<Sections>,
    /// Why a flagged summary was flagged, shown in its warning line.
    pub reasons: Vec<String>,
    /// Set when a person approved or wrote the summary: readers see who decided, and when.
    #[serde(default)]
    pub reviewed: Option<Reviewed>,
}

/// A person's decision on a published summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    /// True when the person rewrote the summary, false when they approved the model's.
    pub edited: bool,
    pub by: String,
    /// The day of the decision (UTC), `YYYY-MM-DD`.
    pub on: String,
}

impl Reviewed {
    /// The line readers see above the sections, in every output (plain text: escape it there).
    pub fn line(&self) -> String {
        let what = match self.edited {
            true => "edited",
            false => "approved",
        };
        format!(
            "✅ 사람이 검토함 (reviewed by a person): {what} by {} on {}",
            self.by, self.on
        )
    }
}

impl From<&CurrentEntry> for DigestEntry {
    fn from(entry: &CurrentEntry) -> Self {
        let summary = entry.summary.as_ref();
        DigestEntry {
            id: entry.paper.id.clone(),
            title: entry.paper.title.clone(),
            thumbnail: entry.paper.thumbnail.clone(),
            votes: entry.paper.upvotes,
            authors: entry.paper.authors.clone(),
            status: summary.map(|s| s.status),
            // A summary a person rejected is never published, not even with its warning.
            sections: summary
                .filter(|s| {
                    !s.decided
                        .as_ref()
                        .is_some_and(|d| d.action == ReviewAction::Reject)
                })
                .and_then(|s| s.sections.clone()),
            reasons: summary.map(|s| s.reasons.clone()).unwrap_or_default(),
            reviewed: summary
                .and_then(|s| s.decided.as_ref())
                .and_then(|d| match d.action {
                    ReviewAction::Approve | ReviewAction::Edit => Some(Reviewed {
                        edited: d.action == ReviewAction::Edit,
                        by: d.actor.clone(),
                        on: d.at.chars().take(10).collect(),
                    }),
                    ReviewAction::Reject | ReviewAction::Resummarize => None,
                }),
        }
    }
}

impl DigestEntry {
    /// The sections to publish: ok summaries, and flagged ones only when asked for.
    pub(crate) fn published(&self, include_flagged: bool) -> Option<&Sections> {
        match self.status {
            Some(Status::Ok) => self.sections.as_ref(),
            Some(Status::Flagged) if include_flagged => self.sections.as_ref(),
            _ => None,
        }
    }
}

/// Renders a day's digest: published entries by votes (highest first), ties by arXiv ID.
/// Flagged entries appear only with `include_flagged`, under a warning line; failed or
/// unsummarized ones never do.
pub fn render(date: NaiveDate, entries: &[DigestEntry], include_flagged: bool) -> String {
    layout(
        date,
        entries.len(),
        publication_order(entries),
        include_flagged,
    )
}

/// The order a day is published in: by votes (highest first), ties by arXiv ID.
pub(crate) fn publication_order(entries: &[DigestEntry]) -> Vec<&DigestEntry> {
    let mut sorted: Vec<&DigestEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| by_votes_then_id(a, b));
    sorted
}

/// Like [`render`] but keeps the given order (re-publishing a parsed digest as it was).
pub fn render_in_order(date: NaiveDate, entries: &[DigestEntry], include_flagged: bool) -> String {
    layout(
        date,
        entries.len(),
        entries.iter().collect(),
        include_flagged,
    )
}

fn by_votes_then_id(a: &DigestEntry, b: &DigestEntry) -> Ordering {
    // `None` sorts below every count, so vote-less papers come last.
    b.votes.cmp(&a.votes).then_with(|| a.id.cmp(&b.id))
}

fn layout(
    date: NaiveDate,
    listed: usize,
    entries: Vec<&DigestEntry>,
    include_flagged: bool,
) -> String {
    let mut out = format!("{HEADING_PREFIX}{date})\n\n");
    let held = listed.saturating_sub(
        entries
            .iter()
            .filter(|entry| entry.published(include_flagged).is_some())
            .count(),
    );
    if held > 0 && held < listed {
        // Between the heading and the first paper, where a digest's readers (and `parse`) expect notes.
        let _ = write!(out, "{}\n\n", held_note(held));
    }
    let mut shown = 0;
    for entry in entries {
        if let Some(sections) = entry.published(include_flagged) {
            write_entry(&mut out, entry, sections);
            shown += 1;
        }
    }
    if shown == 0 {
        if listed == 0 {
            out.push_str(NO_PAPERS);
        } else {
            out.push_str(&nothing_published_note(listed));
        }
        out.push_str("\n\n");
    }
    out
}

/// Says how many listed papers a published day leaves out (held for review, or not summarized yet).
pub fn held_note(held: usize) -> String {
    format!(
        "검토 대기 중이거나 아직 요약되지 않은 논문 {held}편은 싣지 않았습니다. \
         (Not shown, held for review or not summarized yet: {}.)",
        super::papers(held)
    )
}

/// Says that none of the `listed` papers is published (all held for review, or not summarized yet).
pub fn nothing_published_note(listed: usize) -> String {
    format!(
        "게시할 요약이 없습니다: 논문 {listed}편이 검토 대기 중이거나 아직 요약되지 않았습니다. \
         (No summaries to publish; held for review or not summarized yet: {}.)",
        super::papers(listed)
    )
}

fn write_entry(out: &mut String, entry: &DigestEntry, sections: &Sections) {
    // `write!` into a String cannot fail.
    let _ = write!(
        out,
        "{ENTRY_PREFIX}{}]({})\n\n",
        link_text(&entry.title),
        entry.id.abs_url()
    );
    if let Some(url) = entry.thumbnail.as_deref().and_then(image_url) {
        let _ = write!(out, "![]({url})\n\n");
    }
    if let Some(votes) = entry.votes {
        let _ = write!(out, "{VOTE_PREFIX}{}\n\n", vote_text(votes));
    }
    if !entry.authors.is_empty() {
        let authors: Vec<String> = entry.authors.iter().map(|a| inline(a)).collect();
        let _ = write!(out, "{AUTHORS_PREFIX}{}\n\n", authors.join(", "));
    }
    if entry.status == Some(Status::Flagged) {
        let reasons: Vec<String> = entry.reasons.iter().map(|r| inline_unvouched(r)).collect();
        let _ = write!(out, "{WARNING_PREFIX}{}\n\n", flagged_warning(&reasons));
    }
    if let Some(reviewed) = &entry.reviewed {
        let _ = write!(out, "{WARNING_PREFIX}{}\n\n", inline(&reviewed.line()));
    }
    // Only a summary that passed every check (the links check among them) is vouched for.
    let vouched = entry.status != Some(Status::Flagged);
    for (title, text) in sections.iter() {
        let shown = if vouched {
            inline(text)
        } else {
            inline_unvouched(text)
        };
        let _ = writeln!(out, "{SECTION_PREFIX}{title}{SECTION_SEPARATOR}{shown}");
    }
    out.push('\n');
}

/// The warning over a flagged summary, with its reasons (already made safe for the output) when
/// there are any.
pub(crate) fn flagged_warning(reasons: &[String]) -> String {
    match reasons {
        [] => FLAGGED_WARNING.to_string(),
        _ => format!("{FLAGGED_WARNING}: {}", reasons.join("; ")),
    }
}

/// A vote count as the digest writes it: `-` for none.
pub(crate) fn vote_text(votes: i64) -> String {
    match votes {
        0 => "-".to_string(),
        n => n.to_string(),
    }
}

/// A published digest.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDigest {
    pub date: NaiveDate,
    pub entries: Vec<ParsedEntry>,
}

/// One paper of a published digest. Text is unescaped back to what the renderer was given.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntry {
    /// 1-based line of the `### [Title](link)` heading.
    pub line: usize,
    pub id: ArxivId,
    pub title: String,
    pub thumbnail: Option<String>,
    /// `Vote: -` reads as `Some(0)`; no `Vote:` line as `None`.
    pub votes: Option<i64>,
    pub authors: Vec<String>,
    /// The `> …` lines (a flagged summary's warning, who reviewed it), joined.
    pub notice: Option<String>,
    /// Every `- **Title**: text` line in order, unknown titles included.
    pub sections: Vec<ParsedSection>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSection {
    pub line: usize,
    pub title: String,
    pub text: String,
}

impl ParsedEntry {
    /// The three standard sections, when the entry has exactly those, in order.
    pub fn known_sections(&self) -> Option<Sections> {
        let [a, b, c] = self.sections.as_slice() else {
            return None;
        };
        let titles = [a.title.as_str(), b.title.as_str(), c.title.as_str()];
        (titles == Sections::TITLES).then(|| Sections {
            whats_new: a.text.clone(),
            technical_details: b.text.clone(),
            performance_highlights: c.text.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest line {line}: {message}")]
pub struct DigestParseError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> DigestParseError {
    DigestParseError {
        line,
        message: message.into(),
    }
}

/// Parses a digest in the published layout. Lines between the heading and the first paper (the
/// "no papers" note) are ignored; anything unexpected inside a paper is an error naming its line.
pub fn parse(markdown: &str) -> Result<ParsedDigest, DigestParseError> {
    let mut lines = markdown
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());
    let (line, heading) = lines.next().ok_or_else(|| {
        error(
            1,
            "the digest is empty (expected `## Daily Papers (YYYY-MM-DD)`)",
        )
    })?;
    let date = parse_heading(line, heading)?;
    let mut entries: Vec<ParsedEntry> = Vec::new();
    for (line, text) in lines {
        if let Some(rest) = text.strip_prefix(ENTRY_PREFIX) {
            entries.push(parse_entry_heading(line, rest)?);
            continue;
        }
        match entries.last_mut() {
            Some(entry) => parse_entry_line(entry, line, text)?,
            None if is_entry_line(text) => {
                return Err(error(
                    line,
                    format!(
                        "{:?} comes before any `### [Title](link)` paper heading",
                        shorten(text)
                    ),
                ))
            }
            None => {}
        }
    }
    Ok(ParsedDigest { date, entries })
}

fn parse_heading(line: usize, text: &str) -> Result<NaiveDate, DigestParseError> {
    let bad = || {
        error(
            line,
            format!(
                "expected `## Daily Papers (YYYY-MM-DD)`, found {:?}",
                shorten(text)
            ),
        )
    };
    let date = text
        .trim_end()
        .strip_prefix(HEADING_PREFIX)
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(bad)?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())
}

fn parse_entry_heading(line: usize, rest: &str) -> Result<ParsedEntry, DigestParseError> {
    let (title, url) = rest
        .trim_end()
        .strip_suffix(')')
        .and_then(|body| body.rsplit_once("]("))
        .ok_or_else(|| {
            error(
                line,
                format!(
                    "expected a paper heading `### [Title](https://arxiv.org/abs/ID)`, found {:?}",
                    shorten(rest)
                ),
            )
        })?;
    let id = ArxivId::parse(url)
        .map_err(|_| {
            error(
                line,
                format!("the paper link {url:?} is not an arXiv abstract URL"),
            )
        })?
        .id;
    Ok(ParsedEntry {
        line,
        id,
        title: unescape_link_text(title),
        thumbnail: None,
        votes: None,
        authors: Vec::new(),
        notice: None,
        sections: Vec::new(),
    })
}

fn is_entry_line(text: &str) -> bool {
    [VOTE_PREFIX, AUTHORS_PREFIX, SECTION_PREFIX, "![]("]
        .iter()
        .any(|prefix| text.starts_with(prefix))
}

fn parse_entry_line(
    entry: &mut ParsedEntry,
    line: usize,
    text: &str,
) -> Result<(), DigestParseError> {
    // Section text is kept as published, trailing spaces included (real digests have them).
    let duplicate = |what: &str| error(line, format!("second {what} line for paper {}", entry.id));
    if let Some(rest) = text.strip_prefix(SECTION_PREFIX) {
        let (title, body) = rest
            .split_once(SECTION_SEPARATOR)
            .or_else(|| rest.trim_end().strip_suffix("**:").map(|title| (title, "")))
            .ok_or_else(|| {
                error(
                    line,
                    format!(
                        "expected a section line `- **Title**: text`, found {:?}",
                        shorten(text)
                    ),
                )
            })?;
        entry.sections.push(ParsedSection {
            line,
            title: title.to_string(),
            text: unescape_inline(body),
        });
    } else if let Some(rest) = text.strip_prefix("![](") {
        if entry.thumbnail.is_some() {
            return Err(duplicate("thumbnail"));
        }
        let url = rest
            .trim_end()
            .strip_suffix(')')
            .ok_or_else(|| error(line, format!("unterminated image {:?}", shorten(text))))?;
        entry.thumbnail = Some(url.to_string());
    } else if let Some(rest) = text.strip_prefix(VOTE_PREFIX.trim_end()) {
        if entry.votes.is_some() {
            return Err(duplicate("Vote:"));
        }
        entry.votes = Some(parse_votes(rest.trim()).ok_or_else(|| {
            error(
                line,
                format!(
                    "votes must be a number or `-`, found {:?}",
                    shorten(rest.trim())
                ),
            )
        })?);
    } else if let Some(rest) = text.strip_prefix(AUTHORS_PREFIX.trim_end()) {
        if !entry.authors.is_empty() {
            return Err(duplicate("Authors:"));
        }
        entry.authors = rest
            .split(", ")
            .map(|name| unescape_inline(name.trim()))
            .filter(|name| !name.is_empty())
            .collect();
    } else if let Some(rest) = text.strip_prefix(WARNING_PREFIX.trim_end()) {
        let notice = unescape_inline(rest.trim());
        entry.notice = Some(match entry.notice.take() {
            Some(previous) => format!("{previous} {notice}"),
            None => notice,
        });
    } else {
        return Err(error(
            line,
            format!(
                "unexpected line in the entry of paper {}: {:?}",
                entry.id,
                shorten(text)
            ),
        ));
    }
    Ok(())
}

fn parse_votes(text: &str) -> Option<i64> {
    match text {
        "-" => Some(0),
        number => number.parse().ok(),
    }
}

/// Error messages quote at most the start of a long line.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
