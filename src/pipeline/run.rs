//! One run, stage after stage: fetch → select → summarize → record → publish. A `run` covers a day
//! from a source; a manual `summarize` covers given papers and re-renders the days they appear on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fetch::{self, Announcement, DaySource, FetchError, Fetcher};
use super::publish::{self, PublishError};
use super::record::{self, Tally};
use super::select::{self, ClaimSettings, Fed, KeyMaker};
use super::shutdown::{Shutdown, Stop};
use super::summarize::{StopError, SummarizeSettings, Summarizer};
use crate::checks::identity;
use crate::logging::Progress;
use crate::model::ChatModel;
use crate::paper::{ArxivId, Paper};
use crate::prompt::PromptSet;
use crate::publish::{Attention, Publisher};
use crate::store::{
    Listing, PublishOutcome, PublishRecord, RunEnd, RunId, RunKind, RunMeta, RunOutcome, Skip,
    SkipKind, Store, StoreError,
};

/// What the stages of a run share, built once by the command.
pub struct Stages {
    pub store: Store,
    pub model: Arc<dyn ChatModel>,
    pub prompts: Arc<PromptSet>,
    pub settings: SummarizeSettings,
    pub progress: Progress,
    pub shutdown: Shutdown,
    /// How long a claim on a paper holds without renewal (`run.claim_lease_secs`).
    pub claim_lease: Duration,
    /// Where a day's run publishes the day and who hears when it needs a person (`[publish]`).
    pub publisher: Option<Arc<Publisher>>,
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
    /// Papers the run did not attempt: held by another run, or not started.
    pub skips: Vec<Skip>,
    /// Set when the day had no announcement (nothing was summarized), with why.
    pub no_announcement: Option<String>,
    /// Set when the source's list of the day was cut short (the digest holds only what was listed).
    pub incomplete: Option<String>,
    /// Why the run stopped early, if it did.
    pub stop: Option<Stop>,
    /// Every digest written (a day's run writes one; `summarize` re-renders each day of its papers).
    pub digests: Vec<PathBuf>,
    pub report: PathBuf,
    /// What the run published where (and what failed to publish), and the alert, if one was sent.
    pub published: Vec<PublishRecord>,
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

    /// The scheduled job: a day's list from its source, summarized where needed, digest, report and
    /// the publish targets; then the alert, when the run needs a person (also when it fails).
    pub async fn run_day(
        &self,
        fetcher: &Fetcher,
        request: &RunRequest,
    ) -> Result<RunSummary, PipelineError> {
        let result = self.run_day_stages(fetcher, request).await;
        let Some(publisher) = &self.publisher else {
            return result;
        };
        match result {
            Ok(mut summary) => {
                let attention = summary.attention();
                if let Some(alert) = publisher
                    .alert(Some(&self.store), &attention, Some(summary.run))
                    .await
                {
                    summary.published.push(alert);
                }
                if !summary.published.is_empty() {
                    // The report again, now with what was published where.
                    summary.report =
                        publish::write_report(&self.store, summary.run, &request.out_dir)?;
                }
                Ok(summary)
            }
            Err(error) => {
                let attention = Attention {
                    date: request.date,
                    error: Some(error.to_string()),
                    ..Attention::default()
                };
                publisher.alert(Some(&self.store), &attention, None).await;
                Err(error)
            }
        }
    }

    async fn run_day_stages(
        &self,
        fetcher: &Fetcher,
        request: &RunRequest,
    ) -> Result<RunSummary, PipelineError> {
        let mut day = fetcher.day(&request.source, request.date).await?;
        let listed = day.papers.len();
        if let Some(limit) = request.limit {
            day.papers.truncate(limit);
        }
        let run = self.store.begin_run(&self.meta(
            RunKind::Run,
            Some(day.date),
            request.source.label(),
        ))?;
        self.store.record_listing(
            run,
            &Listing {
                listed,
                complete: day.complete,
                note: day.note.clone(),
            },
        )?;
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
                skips: Vec::new(),
                no_announcement: Some(reason),
                incomplete: None,
                stop: None,
                digests: Vec::new(),
                report: publish::write_report(&self.store, run, &request.out_dir)?,
                published: Vec::new(),
            });
        }
        self.store
            .upsert_papers(&day.papers, Some(day.date), &request.source.label())?;
        let mut summary = self
            .summarize_and_record(run, &day.papers, request.force)
            .await?;
        summary.date = Some(day.date);
        summary.incomplete = (!day.complete).then(|| {
            day.note
                .clone()
                .unwrap_or_else(|| "the source's list was cut short".to_string())
        });
        summary.digests = vec![publish::write_digest(
            &self.store,
            day.date,
            &request.out_dir,
            request.include_flagged,
        )?];
        summary.report = publish::write_report(&self.store, run, &request.out_dir)?;
        if let Some(publisher) = &self.publisher {
            summary.published = publish::publish_day(
                publisher,
                &self.store,
                run,
                day.date,
                request.include_flagged,
                summary.stop.as_ref(),
            )
            .await;
        }
        Ok(summary)
    }

    /// Manual re-summarization of stored papers; re-renders the digest of every day they appear on,
    /// and publishes those days where a run publishes.
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
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
        let days = self.store.dates_of_all(&ids)?;
        summary.digests.extend(publish::write_digests(
            &self.store,
            &days,
            out_dir,
            include_flagged,
        )?);
        if let Some(publisher) = &self.publisher {
            for &date in &days {
                let records = publish::publish_day(
                    publisher,
                    &self.store,
                    run,
                    date,
                    include_flagged,
                    summary.stop.as_ref(),
                )
                .await;
                summary.published.extend(records);
            }
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
        let batch = identity::prepare(&select::identity_batch(&self.store, papers)?);
        let summarizer = Arc::new(Summarizer::new(
            Arc::clone(&self.model),
            Arc::clone(&self.prompts),
            self.settings.clone(),
            batch,
            self.shutdown.clone(),
        ));
        let concurrency = self.settings.concurrency.max(1);
        let claims = ClaimSettings {
            lease: self.claim_lease,
            batch: concurrency,
            force,
        };
        let (to_summarize, claimed) = mpsc::channel(concurrency);
        let feeder = tokio::spawn(select::feed(
            self.store.clone(),
            run,
            keys.clone(),
            claims,
            selection.todo.clone(),
            to_summarize,
            self.shutdown.clone(),
        ));
        let summarizing = CancellationToken::new();
        let heartbeat = tokio::spawn(select::keep_claims(
            self.store.clone(),
            run,
            self.claim_lease,
            summarizing.clone(),
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
        summarizer.summarize_all(claimed, results).await;
        let fed = joined(feeder.await, &self.store);
        summarizing.cancel();
        let _ = heartbeat.await;
        let tally = joined(recorder.await.map(Ok), &self.store)?;
        let fed = match fed {
            Ok(fed) => fed,
            Err(error) => {
                // The list could not be claimed further: what was not claimed is not attempted.
                tracing::error!(%error, "cannot claim more papers; stopping the run");
                self.shutdown.stop(RunEnd::Aborted, error.to_string());
                Fed::default()
            }
        };
        let skips = skips(&tally, &fed, self.shutdown.cause().as_ref());
        self.store.record_skips(run, &skips)?;
        self.store.release_claims(run)?;
        let stop = self.shutdown.cause();
        let done = selection.done.len() + fed.done.len();
        self.store
            .finish_run(run, &outcome(&tally, stop.as_ref(), &skips, done))?;
        Ok(RunSummary {
            run,
            date: None,
            listed: papers.len(),
            done,
            tally,
            skips,
            no_announcement: None,
            incomplete: None,
            stop,
            digests: Vec::new(),
            report: PathBuf::new(),
            published: Vec::new(),
        })
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

impl RunSummary {
    /// Publishing targets that failed (the day's data is kept; a later run or `publish` retries).
    pub fn publish_failures(&self) -> impl Iterator<Item = &PublishRecord> {
        self.published
            .iter()
            .filter(|record| record.outcome == PublishOutcome::Failed)
    }

    /// What a person may need to hear about the run (the alert's content).
    fn attention(&self) -> Attention {
        let tally = &self.tally;
        let stopped = tally
            .stop
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| tally.store_error.as_ref().map(ToString::to_string))
            .or_else(|| self.stop.as_ref().map(|stop| stop.reason.clone()));
        Attention {
            run: Some(self.run.0),
            date: self.date,
            listed: self.listed,
            ok: tally.ok,
            flagged: tally.flagged,
            failed: tally.failed,
            not_attempted: self
                .skips
                .iter()
                .filter(|s| s.kind == SkipKind::NotAttempted)
                .count(),
            stopped,
            error: None,
            incomplete_list: self.incomplete.clone(),
            no_announcement: self.no_announcement.clone(),
            publish_failures: self
                .publish_failures()
                .map(|r| match r.date {
                    Some(date) => format!("{} ({date}): {}", r.target, r.detail),
                    None => format!("{}: {}", r.target, r.detail),
                })
                .collect(),
            report: Some(self.report.display().to_string()),
        }
    }
}

/// A task's result, or its failure as a store error (a panic is a defect, never a lost result).
fn joined<T>(
    result: Result<Result<T, StoreError>, tokio::task::JoinError>,
    store: &Store,
) -> Result<T, StoreError> {
    result.unwrap_or_else(|join| {
        Err(StoreError::Sql {
            path: store.path().to_string(),
            operation: "a stage of the run".to_string(),
            message: join.to_string(),
        })
    })
}

/// The papers the run was to summarize and did not attempt: held by another run, or not started.
fn skips(tally: &Tally, fed: &Fed, stop: Option<&Stop>) -> Vec<Skip> {
    let why = stop.map_or_else(
        || "not started".to_string(),
        |stop| format!("not started: {}", stop.reason),
    );
    let fed_ids: std::collections::HashSet<&ArxivId> = fed
        .done
        .iter()
        .chain(fed.elsewhere.iter().map(|(id, _)| id))
        .chain(&fed.not_started)
        .collect();
    let mut skips: Vec<Skip> = fed
        .elsewhere
        .iter()
        .map(|(paper, holder)| Skip {
            paper: paper.clone(),
            kind: SkipKind::Elsewhere,
            detail: format!("in progress in run {holder}"),
        })
        .collect();
    skips.extend(fed.not_started.iter().map(|paper| Skip {
        paper: paper.clone(),
        kind: SkipKind::NotAttempted,
        detail: why.clone(),
    }));
    skips.extend(
        tally
            .not_attempted
            .iter()
            .chain(&tally.unstored)
            .filter(|(paper, _)| !fed_ids.contains(paper))
            .map(|(paper, detail)| Skip {
                paper: paper.clone(),
                kind: SkipKind::NotAttempted,
                detail: detail.clone(),
            }),
    );
    skips
}

/// How the run ended; the note names the papers it did not attempt.
fn outcome(tally: &Tally, stop: Option<&Stop>, skips: &[Skip], done: usize) -> RunOutcome {
    let end = match (&tally.stop, stop) {
        (Some(StopError::Budget(_)), _) => RunEnd::BudgetExhausted,
        (Some(_), _) => RunEnd::Aborted,
        (None, Some(stop)) => stop.end,
        (None, None) => RunEnd::Finished,
    };
    let not_attempted: Vec<String> = skips
        .iter()
        .filter(|s| s.kind == SkipKind::NotAttempted)
        .map(|s| s.paper.to_string())
        .collect();
    let note = stop.map(|stop| {
        if not_attempted.is_empty() {
            stop.reason.clone()
        } else {
            format!(
                "{}; not attempted: {}",
                stop.reason,
                not_attempted.join(", ")
            )
        }
    });
    RunOutcome {
        end,
        skipped: done as u64,
        note,
    }
}
