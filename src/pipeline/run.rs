//! One run, stage after stage: fetch → select → summarize → record → publish. A `run` covers a day
//! from a source; a manual `summarize` covers given papers and re-renders the days they appear on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use tokio::sync::mpsc;

use super::fetch::{self, Announcement, DaySource, FetchError, Fetcher};
use super::publish::{self, PublishError};
use super::record::{self, Tally};
use super::select::{self, KeyMaker};
use super::shutdown::{Shutdown, Stop};
use super::summarize::{StopError, SummarizeSettings, Summarizer};
use crate::checks::identity;
use crate::logging::Progress;
use crate::model::ChatModel;
use crate::paper::{ArxivId, Paper};
use crate::prompt::PromptSet;
use crate::store::{RunEnd, RunId, RunKind, RunMeta, RunOutcome, Store, StoreError};

/// What the stages of a run share, built once by the command.
pub struct Stages {
    pub store: Store,
    pub model: Arc<dyn ChatModel>,
    pub prompts: Arc<PromptSet>,
    pub settings: SummarizeSettings,
    pub progress: Progress,
    pub shutdown: Shutdown,
}

/// A day to run, after the command's flags were validated.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub date: Option<NaiveDate>,
    pub source: DaySource,
    /// Summarize at most this many papers of the list (in source order).
    pub limit: Option<usize>,
    pub force: bool,
    pub out_dir: PathBuf,
    pub include_flagged: bool,
}

/// What a run did.
#[derive(Debug)]
pub struct RunSummary {
    pub run: RunId,
    pub date: Option<NaiveDate>,
    pub listed: usize,
    /// Papers whose current summary already had this run's key.
    pub done: usize,
    pub tally: Tally,
    /// Set when the day had no announcement (nothing was summarized), with why.
    pub no_announcement: Option<String>,
    /// Why the run stopped early, if it did.
    pub stop: Option<Stop>,
    /// Every digest written (a day's run writes one; `summarize` re-renders each day of its papers).
    pub digests: Vec<PathBuf>,
    pub report: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Stages {
    /// The key summaries are stored under in this run.
    pub fn keys(&self) -> KeyMaker {
        KeyMaker {
            prompt_version: self.prompts.version().to_string(),
            model: self.model.model_name().to_string(),
        }
    }

    /// The scheduled job: a day's list from its source, summarized where needed, digest and report.
    pub async fn run_day(
        &self,
        fetcher: &Fetcher,
        request: &RunRequest,
    ) -> Result<RunSummary, PipelineError> {
        let mut day = fetcher.day(&request.source, request.date).await?;
        if let Some(limit) = request.limit {
            day.papers.truncate(limit);
        }
        let run = self.store.begin_run(&self.meta(
            RunKind::Run,
            Some(day.date),
            request.source.label(),
        ))?;
        if let Announcement::None(reason) = fetch::announcement(&self.store, &day)? {
            tracing::info!(date = %day.date, source = %request.source.label(), "no announcement: {reason}");
            let note = format!("no announcement for {}: {reason}", day.date);
            self.store.finish_run(
                run,
                &RunOutcome {
                    end: RunEnd::Finished,
                    skipped: 0,
                    note: Some(note),
                },
            )?;
            return Ok(RunSummary {
                run,
                date: Some(day.date),
                listed: 0,
                done: 0,
                tally: Tally::default(),
                no_announcement: Some(reason),
                stop: None,
                digests: Vec::new(),
                report: publish::write_report(&self.store, run, &request.out_dir)?,
            });
        }
        self.store
            .upsert_papers(&day.papers, Some(day.date), &request.source.label())?;
        let mut summary = self
            .summarize_and_record(run, &day.papers, request.force)
            .await?;
        summary.date = Some(day.date);
        summary.digests = vec![publish::write_digest(
            &self.store,
            day.date,
            &request.out_dir,
            request.include_flagged,
        )?];
        summary.report = publish::write_report(&self.store, run, &request.out_dir)?;
        Ok(summary)
    }

    /// Manual re-summarization of stored papers; re-renders the digest of every day they appear on.
    pub async fn summarize_papers(
        &self,
        papers: &[Paper],
        force: bool,
        out_dir: &Path,
        include_flagged: bool,
    ) -> Result<RunSummary, PipelineError> {
        let run = self
            .store
            .begin_run(&self.meta(RunKind::Summarize, None, "ids".to_string()))?;
        let mut summary = self.summarize_and_record(run, papers, force).await?;
        let mut days = Vec::new();
        for paper in papers {
            days.extend(self.store.dates_of(&paper.id)?);
        }
        days.sort();
        days.dedup();
        for date in days {
            let path = publish::write_digest(&self.store, date, out_dir, include_flagged)?;
            tracing::info!(%date, digest = %path.display(), "digest re-rendered");
            summary.digests.push(path);
        }
        summary.report = publish::write_report(&self.store, run, out_dir)?;
        Ok(summary)
    }

    /// select → summarize (bounded, concurrent) → record each result as it arrives → finish the run.
    async fn summarize_and_record(
        &self,
        run: RunId,
        papers: &[Paper],
        force: bool,
    ) -> Result<RunSummary, PipelineError> {
        let keys = self.keys();
        let selection = select::select(&self.store, papers, &keys, force)?;
        let batch = identity::prepare(&self.identity_batch(papers)?);
        let summarizer = Arc::new(Summarizer::new(
            Arc::clone(&self.model),
            Arc::clone(&self.prompts),
            self.settings.clone(),
            batch,
            self.shutdown.clone(),
        ));
        let (results, received) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record::record_all(
            self.store.clone(),
            run,
            move |paper| keys.key(paper),
            received,
            self.progress.papers(selection.todo.len() as u64),
            self.shutdown.clone(),
        ));
        summarizer.summarize_all(selection.todo, results).await;
        let tally = match recorder.await {
            Ok(tally) => tally,
            Err(join) => {
                return Err(PipelineError::Store(StoreError::Sql {
                    path: self.store.path().to_string(),
                    operation: "recording the run's results".to_string(),
                    message: join.to_string(),
                }))
            }
        };
        let stop = self.shutdown.cause();
        self.store
            .finish_run(run, &outcome(&tally, stop.as_ref(), selection.done.len()))?;
        Ok(RunSummary {
            run,
            date: None,
            listed: papers.len(),
            done: selection.done.len(),
            tally,
            no_announcement: None,
            stop,
            digests: Vec::new(),
            report: PathBuf::new(),
        })
    }

    /// The papers summaries are contrasted with: the run's, plus every paper listed on their days.
    fn identity_batch(&self, papers: &[Paper]) -> Result<Vec<Paper>, StoreError> {
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
        let known: HashSet<&ArxivId> = ids.iter().collect();
        let mut batch = papers.to_vec();
        for day in self.store.dates_of_all(&ids)? {
            for id in self.store.ids_for_date(day)? {
                if !known.contains(&id) {
                    batch.extend(self.store.paper(&id)?);
                }
            }
        }
        Ok(fetch::dedup(batch))
    }

    fn meta(&self, kind: RunKind, date: Option<NaiveDate>, source: String) -> RunMeta {
        RunMeta {
            kind,
            date,
            source,
            dry_run: false,
            model: self.model.model_name().to_string(),
            prompt_version: self.prompts.version().to_string(),
        }
    }
}

/// How the run ended, with the papers it could not start named in the note.
fn outcome(tally: &Tally, stop: Option<&Stop>, done: usize) -> RunOutcome {
    let end = match (&tally.stop, stop) {
        (Some(StopError::Budget(_)), _) => RunEnd::BudgetExhausted,
        (Some(_), _) => RunEnd::Aborted,
        (None, Some(stop)) => stop.end,
        (None, None) => RunEnd::Finished,
    };
    let note = stop.map(|stop| {
        let ids: Vec<String> = tally
            .not_attempted
            .iter()
            .chain(&tally.unstored)
            .map(|(id, _)| id.to_string())
            .collect();
        if ids.is_empty() {
            stop.reason.clone()
        } else {
            format!("{}; not attempted: {}", stop.reason, ids.join(", "))
        }
    });
    RunOutcome {
        end,
        skipped: done as u64,
        note,
    }
}
