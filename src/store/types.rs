//! What goes into the store and what comes out of it.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::checks::identity::WrittenFrom;
use crate::paper::{ArxivId, OutputMode, Paper, Sections, Status, SummaryKey};

/// A run's row ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One summary attempt of one paper (all its calls, repairs included), as the pipeline ends it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub paper: ArxivId,
    pub key: SummaryKey,
    pub status: Status,
    /// Required for `Ok`; kept for `Flagged` when there was an answer to review.
    pub sections: Option<Sections>,
    pub reasons: Vec<String>,
    /// The last error, for `Failed`.
    pub error: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Model calls made, repairs included.
    pub calls: u32,
    pub duration_ms: u64,
    /// The abstract was trimmed to fit the token budget.
    pub trimmed: bool,
    /// How the last answer's format was constrained; `None` when no answer came back.
    pub output_mode: Option<OutputMode>,
    /// What the summary was written from (our runs: the abstract).
    pub written_from: WrittenFrom,
}

/// Why a run did not attempt a paper it was to summarize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// Not started: the run was stopped (a signal, the budget, an unreachable model) first.
    NotAttempted,
    /// Another run held the paper's claim: it is summarizing the paper.
    Elsewhere,
}

/// A paper a run did not attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub paper: ArxivId,
    pub kind: SkipKind,
    pub detail: String,
}

/// How much of a day the source delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub listed: usize,
    /// False when the list may be cut short (a page limit reached, a page that failed): such a day
    /// is not published.
    pub complete: bool,
    pub note: Option<String>,
}

/// Which command started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// The scheduled job: fetch a day, summarize what is new.
    Run,
    /// Manual re-summarization of given IDs.
    Summarize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    Finished,
    /// Stopped by a signal; started again, a run finishes the rest.
    Interrupted,
    /// The per-run token or cost cap stopped new calls.
    BudgetExhausted,
    /// A fatal error (source or model unreachable) stopped it.
    Aborted,
}

macro_rules! sql_names {
    ($ty:ty, $what:literal, $($variant:ident => $name:literal),+ $(,)?) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!(concat!("unknown ", $what, " {:?}"), other)),
                }
            }
        }
    };
}

sql_names!(RunKind, "run kind", Run => "run", Summarize => "summarize");
sql_names!(SkipKind, "skip kind", NotAttempted => "not_attempted", Elsewhere => "elsewhere");
sql_names!(RunEnd, "run outcome", Finished => "finished", Interrupted => "interrupted",
    BudgetExhausted => "budget_exhausted", Aborted => "aborted");

/// What a run is about, recorded when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    pub kind: RunKind,
    /// The listing day, when the run is about one.
    pub date: Option<NaiveDate>,
    /// `hf-daily`, `arxiv`, a file path, or `ids` for manual summaries.
    pub source: String,
    pub dry_run: bool,
    pub model: String,
    pub prompt_version: String,
}

/// How a run ended, recorded by `finish_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub end: RunEnd,
    /// Papers not sent because their current summary already had the same key.
    pub skipped: u64,
    pub note: Option<String>,
}

/// The summary a paper currently has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurrentSummary {
    pub attempt: i64,
    pub status: Status,
    pub sections: Option<Sections>,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub key: SummaryKey,
    pub created_at: String,
    /// Set when a person approved, rejected or wrote this summary (`None`: the model's answer as
    /// the checks judged it).
    pub decided: Option<super::Decided>,
}

/// A paper listed on a day, with that day's votes in `paper.upvotes`, and its current summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurrentEntry {
    pub paper: Paper,
    /// Place in the day's listing as the source gave it.
    pub position: i64,
    /// `None` when the paper has not been summarized yet.
    pub summary: Option<CurrentSummary>,
}

/// What a run did, for the review report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub run: RunInfo,
    pub counts: StatusCounts,
    /// Every paper attempted in the run, in order of its last attempt.
    pub papers: Vec<PaperResult>,
    pub totals: Totals,
    /// Papers the run was to summarize but did not attempt, with why.
    pub skips: Vec<Skip>,
    /// What the run published where, and what failed to publish (empty when nothing is configured).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<super::PublishRecord>,
}

impl RunReport {
    /// Papers whose summary is not published: flagged or failed.
    pub fn problems(&self) -> impl Iterator<Item = &PaperResult> {
        self.papers.iter().filter(|p| p.status != Status::Ok)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub id: RunId,
    pub kind: RunKind,
    pub date: Option<NaiveDate>,
    pub source: String,
    pub dry_run: bool,
    pub model: String,
    pub prompt_version: String,
    pub started_at: String,
    /// `None` while running, or when the run was killed before it could record its end.
    pub finished_at: Option<String>,
    pub end: Option<RunEnd>,
    pub note: Option<String>,
    /// For a day's run: how many papers the source listed and whether the list is complete.
    pub listing: Option<Listing>,
}

/// Papers attempted in a run by the status of their last attempt, plus those skipped as done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub ok: u64,
    pub flagged: u64,
    pub failed: u64,
    /// Already done (same key) when the run looked at them.
    pub skipped: u64,
    /// Not started: the run was stopped first.
    pub not_attempted: u64,
    /// Another run held them.
    pub elsewhere: u64,
}

/// One paper's result in a run: the last attempt's status, with usage summed over its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperResult {
    pub paper: ArxivId,
    pub title: String,
    pub status: Status,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub attempts: u64,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub duration_ms: u64,
    pub trimmed: bool,
}

/// Sums over every attempt of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    pub attempts: u64,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub duration_ms: u64,
}

/// A paper's full text as arXiv's HTML rendering gave it, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFullText {
    pub url: String,
    pub found: bool,
    /// The text when found; why it is missing otherwise.
    pub text: String,
}
