//! One run: fetch → upsert papers → pick those needing a summary → summarize (bounded concurrency)
//! → store each result in its own transaction → render the digest and the run report.

mod error;
mod identity;
mod summarize;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use chrono::NaiveDate;
use futures::StreamExt;

use crate::checks::shape::ShapeLimits;
use crate::config::{Settings, SourceKind, SourceSettings};
use crate::logging::Progress;
use crate::model::{ChatModel, ModelError};
use crate::paper::{ArxivId, Paper, Status};
use crate::prompt::PromptSet;
use crate::render::{self, digest::DigestEntry};
use crate::source::{self, arxiv::ArxivClient, hf::HfClient, SourceError};
use crate::store::{AttemptRecord, RunEnd, RunId, RunKind, RunMeta, RunOutcome, Store, SummaryKey};

pub use error::{ExitStatus, RunError};
pub use identity::IdentityGate;
pub use summarize::{Fatal, PaperOutcome, Summarizer};

/// What to run, after the CLI's flags were validated.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub date: Option<NaiveDate>,
    pub source: SourceKind,
    pub input: Option<PathBuf>,
    pub categories: Vec<String>,
    pub limit: Option<usize>,
    pub out_dir: PathBuf,
    pub dry_run: bool,
    pub force: bool,
    pub include_flagged: bool,
}

/// What a run did, for the exit code and the last log line.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub run: Option<RunId>,
    pub date: Option<NaiveDate>,
    pub listed: usize,
    pub ok: usize,
    pub flagged: usize,
    pub failed: usize,
    pub skipped_done: usize,
    pub not_attempted: usize,
    pub digest: Option<PathBuf>,
    pub report: Option<PathBuf>,
    /// Set when the run could not go on (model unreachable): decides exit code 3.
    pub stopped_by: Option<RunError>,
}

impl RunSummary {
    /// 0 when everything of the day is published, 1 otherwise, 3 when the model could not be reached.
    pub fn exit_status(&self) -> ExitStatus {
        match &self.stopped_by {
            Some(error) => error.exit_status(),
            None if self.flagged + self.failed + self.not_attempted > 0 => {
                ExitStatus::NotAllPublished
            }
            None => ExitStatus::Success,
        }
    }
}

/// Set by a signal handler, a spent budget or an unreachable model: no new paper is started after it.
/// The first cause wins.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    cause: Mutex<Option<(RunEnd, String)>>,
}

impl StopSignal {
    /// `end`: how the run will be recorded as having ended; `reason`: what a person reads.
    pub fn stop(&self, end: RunEnd, reason: impl Into<String>) {
        if let Ok(mut slot) = self.cause.lock() {
            slot.get_or_insert_with(|| (end, reason.into()));
        }
        self.stopped.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<String> {
        self.cause().map(|(_, reason)| reason)
    }

    fn cause(&self) -> Option<(RunEnd, String)> {
        self.cause.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Everything a run needs, built once from the settings.
pub struct Pipeline {
    pub settings: Settings,
    pub store: Store,
    pub model: Arc<dyn ChatModel>,
    pub prompts: PromptSet,
    pub progress: Progress,
    pub http: reqwest::Client,
    pub stop: Arc<StopSignal>,
}

impl Pipeline {
    pub async fn run(&self, request: &RunRequest) -> Result<RunSummary, RunError> {
        let (date, mut papers) = self.fetch(request).await?;
        if let Some(limit) = request.limit {
            papers.truncate(limit);
        }
        let mut summary = RunSummary {
            date: Some(date),
            listed: papers.len(),
            ..RunSummary::default()
        };
        let no_announcement = self.no_announcement(date, &papers)?;
        if let Some(reason) = &no_announcement {
            tracing::info!(%date, source = request.source.as_str(), "no announcement: {reason}");
        }
        if request.dry_run {
            self.plan(&papers, request.force)?;
            return Ok(summary);
        }
        let source = match &request.input {
            Some(path) => path.display().to_string(),
            None => request.source.as_str().to_string(),
        };
        let run = self
            .store
            .begin_run(&self.run_meta(RunKind::Run, Some(date), source))?;
        summary.run = Some(run);
        if let Some(reason) = no_announcement {
            let outcome = RunOutcome {
                end: RunEnd::Finished,
                skipped: 0,
                note: Some(format!("no announcement for {date}: {reason}")),
            };
            self.store.finish_run(run, &outcome)?;
            summary.listed = 0;
            summary.report = Some(self.write_report(run, &request.out_dir)?);
            return Ok(summary);
        }
        self.store
            .upsert_papers(&papers, Some(date), request.source.as_str())?;
        self.summarize_all(run, &papers, request.force, &mut summary)
            .await?;
        let (digest, report) =
            self.publish(run, date, &request.out_dir, request.include_flagged)?;
        summary.digest = Some(digest);
        summary.report = Some(report);
        Ok(summary)
    }

    /// An empty list, or a list whose papers were all announced on an earlier day (a source repeating
    /// yesterday's list on a weekend), is no announcement: nothing is summarized or published.
    fn no_announcement(
        &self,
        date: NaiveDate,
        papers: &[Paper],
    ) -> Result<Option<String>, RunError> {
        if papers.is_empty() {
            return Ok(Some("the source lists no papers for this day".to_string()));
        }
        let mut earlier = None;
        for paper in papers {
            let first = self.store.dates_of(&paper.id)?.into_iter().min();
            match first {
                Some(first) if first < date => earlier = earlier.max(Some(first)),
                _ => return Ok(None),
            }
        }
        Ok(earlier
            .map(|day| format!("every listed paper was already announced on or before {day}")))
    }

    /// Summarizes what needs it, storing each result as it arrives. Fatal model errors stop new work.
    pub(crate) async fn summarize_all(
        &self,
        run: RunId,
        papers: &[Paper],
        force: bool,
        summary: &mut RunSummary,
    ) -> Result<(), RunError> {
        let key_of = |paper: &Paper| SummaryKey {
            abstract_hash: paper.abstract_hash(),
            prompt_version: self.prompts.version().to_string(),
            model: self.model.model_name().to_string(),
        };
        let mut todo = Vec::new();
        for paper in papers {
            if !force && self.store.is_done(&paper.id, &key_of(paper))? {
                summary.skipped_done += 1;
            } else {
                todo.push(paper);
            }
        }
        tracing::info!(
            listed = papers.len(),
            to_summarize = todo.len(),
            already_done = summary.skipped_done,
            "papers picked"
        );
        let limits = self.shape_limits();
        let identity = IdentityGate::new(&self.identity_batch(papers)?, &self.settings.identity);
        let summarizer = Summarizer {
            model: self.model.as_ref(),
            prompts: &self.prompts,
            limits: &limits,
            identity: &identity,
            judge: &self.settings.judge,
            max_repairs: self.settings.checks.max_repairs,
            max_abstract_tokens: self.settings.model.max_abstract_tokens,
        };
        let bar = self.progress.papers(todo.len() as u64);
        let mut not_attempted = Vec::new();
        let mut results = futures::stream::iter(todo.iter().copied())
            .map(|paper| {
                let summarizer = &summarizer;
                async move {
                    if self.stop.is_stopped() {
                        return (paper, None);
                    }
                    (paper, Some(summarizer.summarize(paper).await))
                }
            })
            .buffer_unordered(self.settings.run.concurrency);
        while let Some((paper, result)) = results.next().await {
            bar.inc(1);
            let Some((outcome, fatal)) = result else {
                not_attempted.push(paper.id.clone());
                continue;
            };
            if outcome.calls == 0
                && matches!(
                    fatal,
                    Some(Fatal::Model(ModelError::BudgetExhausted { .. }))
                )
            {
                // Nothing was sent for this paper: it was not attempted, not failed.
                self.stop.stop(
                    RunEnd::BudgetExhausted,
                    outcome.error.clone().unwrap_or_default(),
                );
                not_attempted.push(paper.id.clone());
                continue;
            }
            self.store
                .record_attempt(run, &attempt_record(paper, key_of(paper), &outcome))?;
            log_outcome(paper, &outcome);
            count(summary, outcome.status);
            if let Some(fatal) = fatal {
                let error = RunError::from(fatal);
                self.stop.stop(RunEnd::Aborted, error.to_string());
                summary.stopped_by.get_or_insert(error);
            }
        }
        bar.finish_and_clear();
        summary.not_attempted = not_attempted.len();
        self.store
            .finish_run(run, &self.run_outcome(summary, &not_attempted))?;
        Ok(())
    }

    /// The papers summaries are contrasted with: the run's, plus every paper listed on their days.
    fn identity_batch(&self, papers: &[Paper]) -> Result<Vec<Paper>, RunError> {
        let mut batch = papers.to_vec();
        let mut days = HashSet::new();
        for paper in papers {
            days.extend(self.store.dates_of(&paper.id)?);
        }
        for day in days {
            batch.extend(self.store.papers_for_date(day)?);
        }
        Ok(dedup(batch))
    }

    fn run_meta(&self, kind: RunKind, date: Option<NaiveDate>, source: String) -> RunMeta {
        RunMeta {
            kind,
            date,
            source,
            dry_run: false,
            model: self.model.model_name().to_string(),
            prompt_version: self.prompts.version().to_string(),
        }
    }

    /// How the run ended, with the papers it could not start named in the note.
    fn run_outcome(&self, summary: &RunSummary, not_attempted: &[ArxivId]) -> RunOutcome {
        let end = match (&summary.stopped_by, self.stop.cause()) {
            (Some(_), _) => RunEnd::Aborted,
            (None, Some((end, _))) => end,
            (None, None) => RunEnd::Finished,
        };
        let note = self.stop.reason().map(|reason| {
            if not_attempted.is_empty() {
                reason
            } else {
                let ids: Vec<_> = not_attempted.iter().map(ArxivId::to_string).collect();
                format!("{reason}; not attempted: {}", ids.join(", "))
            }
        });
        RunOutcome {
            end,
            skipped: summary.skipped_done as u64,
            note,
        }
    }

    fn shape_limits(&self) -> ShapeLimits {
        self.settings.checks.shape_limits()
    }

    async fn fetch(&self, request: &RunRequest) -> Result<(NaiveDate, Vec<Paper>), RunError> {
        let today = chrono::Utc::now().date_naive();
        match request.source {
            SourceKind::HfDaily => {
                let date = request.date.unwrap_or(today);
                let client = HfClient::new(&self.settings.source.hf_base_url, self.http.clone())?;
                let papers = (|| client.daily(date))
                    .retry(source_backoff(&self.settings.source))
                    .when(is_transient)
                    .notify(log_source_retry)
                    .await?;
                Ok((date, papers))
            }
            SourceKind::Arxiv => {
                let date = request.date.unwrap_or(today);
                let client = self.arxiv_client()?;
                let mut papers = Vec::new();
                for category in &request.categories {
                    let listing = (|| client.listing(category, date, date, request.limit))
                        .retry(source_backoff(&self.settings.source))
                        .when(is_transient)
                        .notify(log_source_retry)
                        .await?;
                    papers.extend(listing);
                }
                Ok((date, dedup(papers)))
            }
            SourceKind::File => {
                let path = request.input.as_deref().ok_or(RunError::Usage(
                    "--source file needs --input FILE".to_string(),
                ))?;
                let date = request
                    .date
                    .or_else(|| date_in_file_name(path))
                    .unwrap_or(today);
                let papers = source::file::load(path).map_err(RunError::Input)?;
                Ok((date, dedup(papers)))
            }
        }
    }

    fn plan(&self, papers: &[Paper], force: bool) -> Result<(), RunError> {
        for paper in papers {
            let tokens = crate::model::tokens::count(&paper.abstract_text);
            let stored = self.store.paper(&paper.id)?.is_some();
            tracing::info!(id = %paper.id, title = %paper.title, abstract_tokens = tokens, stored, force, "would summarize");
        }
        Ok(())
    }

    /// Writes the day's digest and this run's report; returns their paths.
    pub(crate) fn publish(
        &self,
        run: RunId,
        date: NaiveDate,
        out_dir: &Path,
        include_flagged: bool,
    ) -> Result<(PathBuf, PathBuf), RunError> {
        let digest = self.write_digest(date, out_dir, include_flagged)?;
        Ok((digest, self.write_report(run, out_dir)?))
    }

    /// Writes the run's report as Markdown and JSON under `out_dir/reports/`; returns the Markdown path.
    fn write_report(&self, run: RunId, out_dir: &Path) -> Result<PathBuf, RunError> {
        let report = self.store.run_report(run)?;
        let reports_dir = out_dir.join("reports");
        let report_md = reports_dir.join(format!("run-{}.md", run.0));
        write_file(&report_md, render::report::markdown(&report).as_bytes())?;
        let report_json = reports_dir.join(format!("run-{}.json", run.0));
        let json = render::report::json(&report).map_err(|e| RunError::Output {
            path: report_json.clone(),
            message: e.to_string(),
        })?;
        write_file(&report_json, json.as_bytes())?;
        Ok(report_md)
    }

    /// Renders the day's digest from the store (every paper listed that day) and writes it.
    pub fn write_digest(
        &self,
        date: NaiveDate,
        out_dir: &Path,
        include_flagged: bool,
    ) -> Result<PathBuf, RunError> {
        let text = self.render_digest(date, include_flagged)?;
        let path = out_dir.join(format!("daily_papers_ko_{date}.md"));
        write_file(&path, text.as_bytes())?;
        Ok(path)
    }

    pub fn render_digest(
        &self,
        date: NaiveDate,
        include_flagged: bool,
    ) -> Result<String, RunError> {
        let current = self.store.current_for_date(date)?;
        let entries: Vec<DigestEntry> = current.iter().map(DigestEntry::from).collect();
        Ok(render::digest::render(date, &entries, include_flagged))
    }
}

/// What `summarize` did: the text to print and the statuses behind the exit code.
#[derive(Debug)]
pub struct SummarizeResult {
    pub printed: String,
    pub summary: RunSummary,
    pub unknown: Vec<ArxivId>,
}

impl SummarizeResult {
    pub fn exit_status(&self) -> ExitStatus {
        match self.summary.exit_status() {
            ExitStatus::Success if !self.unknown.is_empty() => ExitStatus::NotAllPublished,
            status => status,
        }
    }
}

impl Pipeline {
    /// Manual re-summarization: stored papers are used as stored, others are fetched from arXiv by
    /// `id_list`. Prints each result and re-renders every digest the papers appear in.
    pub async fn summarize_ids(
        &self,
        ids: &[ArxivId],
        force: bool,
        out_dir: &Path,
        include_flagged: bool,
    ) -> Result<SummarizeResult, RunError> {
        let mut papers = Vec::new();
        let mut to_fetch = Vec::new();
        for id in ids {
            match self.store.paper(id)? {
                Some(paper) => papers.push(paper),
                None => to_fetch.push(id.clone()),
            }
        }
        let mut unknown = Vec::new();
        if !to_fetch.is_empty() {
            let lookup = self.arxiv_client()?.lookup(&to_fetch).await?;
            self.store.upsert_papers(&lookup.found, None, "arxiv")?;
            for id in &lookup.missing {
                tracing::error!(id = %id, "unknown arXiv ID: arXiv has no paper with this ID");
            }
            unknown = lookup.missing;
            papers.extend(lookup.found);
        }
        let papers = dedup(papers);
        if papers.is_empty() {
            let list: Vec<_> = unknown.iter().map(ArxivId::to_string).collect();
            return Err(RunError::Usage(format!(
                "unknown arXiv ID: {}",
                list.join(", ")
            )));
        }
        let run =
            self.store
                .begin_run(&self.run_meta(RunKind::Summarize, None, "ids".to_string()))?;
        let mut summary = RunSummary {
            run: Some(run),
            listed: papers.len(),
            ..RunSummary::default()
        };
        self.summarize_all(run, &papers, force, &mut summary)
            .await?;
        let mut printed = String::new();
        for paper in &papers {
            printed.push_str(&self.describe_current(paper)?);
            for date in self.store.dates_of(&paper.id)? {
                let path = self.write_digest(date, out_dir, include_flagged)?;
                tracing::info!(id = %paper.id, digest = %path.display(), "digest re-rendered");
            }
        }
        for id in &unknown {
            printed.push_str(&format!(
                "{id}: unknown arXiv ID (arXiv returned no paper)\n\n"
            ));
        }
        Ok(SummarizeResult {
            printed,
            summary,
            unknown,
        })
    }

    fn arxiv_client(&self) -> Result<ArxivClient, RunError> {
        Ok(ArxivClient::new(
            &self.settings.source.arxiv_base_url,
            self.settings.source.arxiv_min_interval,
            self.settings.source.arxiv_page_size,
            self.http.clone(),
        )?)
    }

    /// The paper's current summary as a person reads it: status, reasons, the three sections.
    fn describe_current(&self, paper: &Paper) -> Result<String, RunError> {
        let mut text = format!("## {} — {}\n\n", paper.id, paper.title);
        match self.store.current(&paper.id)? {
            None => text.push_str("status: no summary\n\n"),
            Some(current) => {
                text.push_str(&format!("status: {}\n", current.status));
                for reason in &current.reasons {
                    text.push_str(&format!("reason: {reason}\n"));
                }
                text.push('\n');
                if let Some(sections) = &current.sections {
                    for (title, body) in sections.iter() {
                        text.push_str(&format!("- **{title}**: {body}\n"));
                    }
                    text.push('\n');
                }
            }
        }
        Ok(text)
    }
}

fn attempt_record(paper: &Paper, key: SummaryKey, outcome: &PaperOutcome) -> AttemptRecord {
    AttemptRecord {
        paper: paper.id.clone(),
        key,
        status: outcome.status,
        sections: outcome.sections.clone(),
        reasons: outcome.reasons.clone(),
        error: outcome.error.clone(),
        prompt_tokens: outcome.prompt_tokens,
        completion_tokens: outcome.completion_tokens,
        cost_usd: outcome.cost_usd,
        calls: outcome.calls,
        duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        trimmed: outcome.trimmed,
        output_mode: outcome.mode,
    }
}

fn log_outcome(paper: &Paper, outcome: &PaperOutcome) {
    let reasons = outcome.reasons.join("; ");
    match outcome.status {
        Status::Ok => tracing::info!(id = %paper.id, calls = outcome.calls, "ok"),
        Status::Flagged => {
            tracing::warn!(id = %paper.id, calls = outcome.calls, %reasons, "flagged")
        }
        Status::Failed => tracing::warn!(id = %paper.id, calls = outcome.calls, %reasons, "failed"),
    }
}

fn count(summary: &mut RunSummary, status: Status) {
    match status {
        Status::Ok => summary.ok += 1,
        Status::Flagged => summary.flagged += 1,
        Status::Failed => summary.failed += 1,
    }
}

/// A rate limit or an outage of a few minutes must not cost the day: a source is asked again, a few
/// times, spaced out (arXiv's own pacing still applies between the requests).
fn source_backoff(settings: &SourceSettings) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(settings.fetch_retry_initial)
        .with_max_delay(Duration::from_secs(120).max(settings.fetch_retry_initial))
        .with_max_times(settings.fetch_retries as usize)
        .with_jitter()
}

fn is_transient(error: &SourceError) -> bool {
    match error {
        SourceError::Unreachable { .. } => true,
        SourceError::Http { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn log_source_retry(error: &SourceError, wait: Duration) {
    tracing::warn!(%error, wait_secs = wait.as_secs_f64(), "source failed, asking again");
}

/// Keeps the first occurrence of each paper: sources can list a paper twice (cross-listings, pages).
fn dedup(papers: Vec<Paper>) -> Vec<Paper> {
    let mut seen: HashSet<ArxivId> = HashSet::new();
    papers
        .into_iter()
        .filter(|paper| seen.insert(paper.id.clone()))
        .collect()
}

/// `.../2024-09-23.json` → 2024-09-23: saved daily responses are named by their day.
fn date_in_file_name(path: &Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_str()?;
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|start| {
        let candidate = name.get(start..start + 10)?;
        NaiveDate::parse_from_str(candidate, "%Y-%m-%d").ok()
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| RunError::Output {
            path: parent.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    render::write_atomic(path, bytes).map_err(|e| RunError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_read_from_saved_file_names() {
        let date = |name: &str| date_in_file_name(Path::new(name));
        assert_eq!(
            date("../data/2024-09-23.json"),
            NaiveDate::from_ymd_opt(2024, 9, 23)
        );
        assert_eq!(
            date("hf_2024-10-01_page.json"),
            NaiveDate::from_ymd_opt(2024, 10, 1)
        );
        assert_eq!(date("papers.json"), None);
        assert_eq!(date("2024-13-45.json"), None);
    }
}
