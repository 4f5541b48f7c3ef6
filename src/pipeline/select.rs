//! The select stage: which of the listed papers need a summary. A paper whose current summary was
//! made from the same abstract, prompt version and model, and passed or was flagged, is done, and so
//! is one a person approved, rejected or wrote in review (the store decides both: `Store::done`); a
//! failed one is tried again; `force` asks again for everything.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fetch;
use super::shutdown::Shutdown;
use crate::paper::{ArxivId, Paper, SummaryKey};
use crate::store::{Candidate, Claim, RunId, Store, StoreError};

/// The papers summaries are contrasted with: `papers`, then every other paper listed on their days
/// (days in order, each in its listing order).
pub fn identity_batch(store: &Store, papers: &[Paper]) -> Result<Vec<Paper>, StoreError> {
    let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
    let known: HashSet<&ArxivId> = ids.iter().collect();
    let mut batch = papers.to_vec();
    for day in store.dates_of_all(&ids)? {
        for id in store.ids_for_date(day)? {
            if !known.contains(&id) {
                batch.extend(store.paper(&id)?);
            }
        }
    }
    Ok(fetch::dedup(batch))
}

/// What a summary is keyed by in this run: the prompt version and the model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaker {
    pub prompt_version: String,
    pub model: String,
}

impl KeyMaker {
    pub fn key(&self, paper: &Paper) -> SummaryKey {
        SummaryKey::new(paper, &self.prompt_version, &self.model)
    }
}

/// The papers to summarize, and those already done.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub todo: Vec<Paper>,
    pub done: Vec<ArxivId>,
}

pub fn select(
    store: &Store,
    papers: &[Paper],
    keys: &KeyMaker,
    force: bool,
) -> Result<Selection, StoreError> {
    let mut selection = Selection::default();
    let done = match force {
        true => Default::default(),
        false => store.done(papers, &keys.prompt_version, &keys.model)?,
    };
    for paper in papers {
        if done.contains(&paper.id) {
            selection.done.push(paper.id.clone());
        } else {
            selection.todo.push(paper.clone());
        }
    }
    tracing::info!(
        listed = papers.len(),
        to_summarize = selection.todo.len(),
        already_done = selection.done.len(),
        "papers picked"
    );
    Ok(selection)
}

/// What feeding the summarize stage found besides the papers it claimed.
#[derive(Debug, Default)]
pub struct Fed {
    /// Done since the list was read (another run finished them meanwhile).
    pub done: Vec<ArxivId>,
    /// Held by another run, which is summarizing them.
    pub elsewhere: Vec<(ArxivId, RunId)>,
    /// Not claimed or not handed on because the run was stopped.
    pub not_started: Vec<ArxivId>,
}

/// Claims `papers` in batches of `batch` as the summarize stage takes them (`out` is bounded), so
/// a paper is claimed shortly before it is asked for and another run or worker can take the rest.
pub async fn feed(
    store: Store,
    run: RunId,
    keys: KeyMaker,
    claims: ClaimSettings,
    papers: Vec<Paper>,
    out: mpsc::Sender<Paper>,
    shutdown: Shutdown,
) -> Result<Fed, StoreError> {
    let mut fed = Fed::default();
    let candidates: Vec<Candidate> = papers
        .iter()
        .map(|paper| Candidate {
            id: paper.id.clone(),
            key: keys.key(paper),
        })
        .collect();
    let mut next = 0;
    while next < papers.len() && !shutdown.is_stopped() {
        // A window of candidates per claim: enough to find a batch among papers done or held
        // elsewhere, without copying the whole rest of the list each time.
        let window = candidates[next..(next + claims.batch * 8).min(candidates.len())].to_vec();
        let store = store.clone();
        let examined = tokio::task::spawn_blocking(move || {
            store.claim_next(run, &window, claims.batch, claims.lease, claims.force)
        })
        .await
        .map_err(|join| StoreError::Sql {
            path: String::new(),
            operation: format!("claiming papers for run {run}"),
            message: join.to_string(),
        })??;
        if examined.is_empty() {
            break;
        }
        for (id, claim) in examined {
            let paper = &papers[next];
            next += 1;
            match claim {
                Claim::Done => fed.done.push(id),
                Claim::Elsewhere(holder) => fed.elsewhere.push((id, holder)),
                Claim::Claimed => {
                    let handed = tokio::select! {
                        biased;
                        _ = shutdown.stopped() => false,
                        sent = out.send(paper.clone()) => sent.is_ok(),
                    };
                    if !handed {
                        fed.not_started.push(id);
                    }
                }
            }
        }
    }
    // Stopped: the rest was never claimed.
    fed.not_started
        .extend(candidates[next..].iter().map(|c| c.id.clone()));
    Ok(fed)
}

/// How claims are taken (config `run.claim_lease_secs`; the batch follows the concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSettings {
    /// How long a claim holds without renewal: a crashed run's papers are free again after it.
    pub lease: Duration,
    /// Papers claimed at once.
    pub batch: usize,
    /// Claim papers already done too (`--force`).
    pub force: bool,
}

/// Renews the run's leases every third of a lease until `done` is cancelled (the summarize stage is
/// over); a run that dies stops renewing and its claims expire.
pub async fn keep_claims(store: Store, run: RunId, lease: Duration, done: CancellationToken) {
    loop {
        if crate::model::sleep(lease / 3, &done).await.is_err() {
            return;
        }
        let store = store.clone();
        let renewed = tokio::task::spawn_blocking(move || store.renew_claims(run, lease)).await;
        match renewed {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot renew the run's claims"),
            Err(error) => tracing::warn!(%error, "cannot renew the run's claims"),
        }
    }
}
