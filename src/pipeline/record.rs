//! The record stage: each paper's result is stored in its own transaction the moment it arrives, on
//! a blocking thread (a locked or slow database never holds up the papers in flight), and counted.

use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::shutdown::Shutdown;
use super::summarize::{Finished, PaperOutcome, StopError};
use crate::checks::identity::WrittenFrom;
use crate::paper::{ArxivId, Paper, Status, SummaryKey};
use crate::store::{AttemptRecord, RunEnd, RunId, Store, StoreError};

/// What the record stage saw of a run's results.
#[derive(Debug, Default)]
pub struct Tally {
    pub ok: usize,
    pub flagged: usize,
    pub failed: usize,
    /// Papers that were not started (a stop came first), with why.
    pub not_attempted: Vec<(ArxivId, String)>,
    /// The first error that stopped the run.
    pub stop: Option<StopError>,
    /// Answers that came back but could not be stored, with why.
    pub unstored: Vec<(ArxivId, String)>,
    /// The first result that could not be stored; the run was stopped by it.
    pub store_error: Option<StoreError>,
}

/// Stores results from `results` until every sender is gone; `key` gives each paper's summary key.
pub async fn record_all(
    store: Store,
    run: RunId,
    key: impl Fn(&Paper) -> SummaryKey,
    mut results: mpsc::UnboundedReceiver<Finished>,
    bar: ProgressBar,
    shutdown: Shutdown,
) -> Tally {
    let mut tally = Tally::default();
    while let Some(Finished { paper, outcome }) = results.recv().await {
        bar.inc(1);
        if let Some(stop) = &outcome.stop {
            tally.stop.get_or_insert_with(|| stop.clone());
        }
        if let Some(reason) = &outcome.not_attempted {
            tally.not_attempted.push((paper.id.clone(), reason.clone()));
            continue;
        }
        let record = attempt_record(&paper, key(&paper), &outcome);
        let stored = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.record_attempt(run, &record)).await
        };
        match stored {
            Ok(Ok(())) => {
                log_outcome(&paper, &outcome);
                match outcome.status {
                    Status::Ok => tally.ok += 1,
                    Status::Flagged => tally.flagged += 1,
                    Status::Failed => tally.failed += 1,
                }
            }
            Ok(Err(error)) => store_failed(&mut tally, &paper, error, &shutdown),
            Err(join) => {
                let error = StoreError::Sql {
                    path: store.path().to_string(),
                    operation: format!("recording {}", paper.id),
                    message: join.to_string(),
                };
                store_failed(&mut tally, &paper, error, &shutdown);
            }
        }
    }
    bar.finish_and_clear();
    tally
}

/// A result that cannot be stored stops the run: papers still in flight are answered and tried.
fn store_failed(tally: &mut Tally, paper: &Paper, error: StoreError, shutdown: &Shutdown) {
    tracing::error!(id = %paper.id, %error, "cannot store the result; stopping the run");
    shutdown.stop(RunEnd::Aborted, error.to_string());
    tally.unstored.push((
        paper.id.clone(),
        format!("answered but not stored: {error}"),
    ));
    tally.store_error.get_or_insert(error);
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
        written_from: WrittenFrom::Abstract,
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
