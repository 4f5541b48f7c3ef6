//! The summarize stage: one paper through prompt → model → checks, with repairs that feed the reasons
//! back; and the driver that runs many papers at once, bounded, starting none after a stop. The run's
//! budget (tokens, cost) is a value of this stage, checked before every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::shutdown::Shutdown;
use crate::checks::identity::{Batch, IdentitySettings};
use crate::checks::judge::{self, JudgeSettings, JudgeVerdict};
use crate::checks::shape::{self, ShapeLimits};
use crate::checks::{answer, links, Reason};
use crate::model::{tokens, ChatAnswer, ChatModel, ChatRequest, ModelError};
use crate::paper::{OutputMode, Paper, Sections, Status};
use crate::prompt::{ChatMessage, PromptError, PromptInput, PromptSet};
use crate::store::RunEnd;

/// How the summarize stage works (config sections `[checks]`, `[run]` and `model.max_abstract_tokens`).
#[derive(Debug, Clone)]
pub struct SummarizeSettings {
    /// Papers in flight at once.
    pub concurrency: usize,
    /// Re-asks with the failure reasons before a paper is stored flagged or failed.
    pub max_repairs: u32,
    /// Abstracts longer than this (tokens) are trimmed at a sentence boundary.
    pub max_abstract_tokens: usize,
    pub shape: ShapeLimits,
    pub identity: IdentitySettings,
    pub judge: JudgeSettings,
    pub budget: BudgetLimits,
}

/// Per-run caps; `None` is no cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetLimits {
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
}

/// The run's cap on tokens or cost was reached: no further call is started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("run budget exhausted: {spent} used of {limit}")]
pub struct BudgetExhausted {
    pub spent: String,
    pub limit: String,
}

/// What the run has spent, against its limits. Shared by every paper of the run.
#[derive(Debug)]
pub struct Budget {
    limits: BudgetLimits,
    spent: Mutex<(u64, f64)>,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Budget {
        Budget {
            limits,
            spent: Mutex::new((0, 0.0)),
        }
    }

    /// `Err` once a cap is reached: the next call must not be made.
    pub fn check(&self) -> Result<(), BudgetExhausted> {
        let (tokens, cost) = *self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limit) = self.limits.max_tokens.filter(|limit| tokens >= *limit) {
            return Err(BudgetExhausted {
                spent: format!("{tokens} tokens"),
                limit: format!("{limit} tokens"),
            });
        }
        if let Some(limit) = self.limits.max_cost_usd.filter(|limit| cost >= *limit) {
            return Err(BudgetExhausted {
                spent: format!("${cost:.4}"),
                limit: format!("${limit:.4}"),
            });
        }
        Ok(())
    }

    fn spend(&self, answer: &ChatAnswer) {
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        spent.0 += answer.usage.prompt_tokens + answer.usage.completion_tokens;
        spent.1 += answer.cost_usd;
    }
}

/// Why a paper's processing stopped the whole run rather than just this paper.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StopError {
    /// The model cannot be reached, or the account cannot pay: every further call would fail too.
    #[error("model: {0}")]
    Model(ModelError),
    #[error(transparent)]
    Prompt(PromptError),
    #[error(transparent)]
    Budget(BudgetExhausted),
}

impl StopError {
    fn run_end(&self) -> RunEnd {
        match self {
            StopError::Budget(_) => RunEnd::BudgetExhausted,
            StopError::Model(_) | StopError::Prompt(_) => RunEnd::Aborted,
        }
    }
}

/// Everything one paper's processing produced, ready to be stored as one attempt.
#[derive(Debug, Clone)]
pub struct PaperOutcome {
    pub status: Status,
    pub sections: Option<Sections>,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub calls: u32,
    pub http_attempts: u32,
    pub retries_429: u32,
    pub duration: Duration,
    pub trimmed: bool,
    pub mode: Option<OutputMode>,
    /// Set when nothing was asked and nothing paid (a stop came first): the paper is not recorded
    /// as attempted, and the next run picks it up.
    pub not_attempted: Option<String>,
    /// Set when this paper's processing stopped the run.
    pub stop: Option<StopError>,
}

/// One paper's result, as the driver hands it to the record stage.
#[derive(Debug)]
pub struct Finished {
    pub paper: Paper,
    pub outcome: PaperOutcome,
}

pub struct Summarizer {
    model: Arc<dyn ChatModel>,
    prompts: Arc<PromptSet>,
    settings: SummarizeSettings,
    /// Every paper the summaries may be confused with (the run's, the day's).
    batch: Batch,
    budget: Budget,
    shutdown: Shutdown,
}

impl Summarizer {
    pub fn new(
        model: Arc<dyn ChatModel>,
        prompts: Arc<PromptSet>,
        settings: SummarizeSettings,
        batch: Batch,
        shutdown: Shutdown,
    ) -> Summarizer {
        Summarizer {
            budget: Budget::new(settings.budget),
            model,
            prompts,
            settings,
            batch,
            shutdown,
        }
    }

    /// Summarizes the papers that come from `papers` (the select stage claims them as it goes),
    /// `concurrency` at a time, sending each result to `results` as it arrives. After a stop no paper
    /// starts: those still waiting are sent back as not attempted.
    pub async fn summarize_all(
        self: &Arc<Self>,
        mut papers: mpsc::Receiver<Paper>,
        results: mpsc::UnboundedSender<Finished>,
    ) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        // At most `concurrency` entries: finished tasks are removed as the run goes.
        let mut in_flight: HashMap<tokio::task::Id, Paper> = HashMap::new();
        loop {
            let permit = tokio::select! {
                biased;
                _ = self.shutdown.stopped() => None,
                permit = Arc::clone(&permits).acquire_owned() => permit.ok(),
            };
            // Finished tasks are let go as the run goes, so memory stays flat however long the day.
            while let Some(joined) = tasks.try_join_next_with_id() {
                settle(joined, &mut in_flight, &results);
            }
            let next = match permit {
                Some(permit) => tokio::select! {
                    biased;
                    _ = self.shutdown.stopped() => None,
                    paper = papers.recv() => paper.map(|paper| (paper, permit)),
                },
                None => None,
            };
            let Some((paper, permit)) = next else {
                break;
            };
            if self.shutdown.is_stopped() {
                let outcome = PaperOutcome::not_attempted(self.stop_reason());
                let _ = results.send(Finished { paper, outcome });
                break;
            }
            let this = Arc::clone(self);
            let kept = paper.clone();
            let sender = results.clone();
            let handle = tasks.spawn(async move {
                let outcome = this.summarize(&paper).await;
                drop(permit);
                let _ = sender.send(Finished { paper, outcome });
            });
            in_flight.insert(handle.id(), kept);
        }
        // Whatever is still waiting was not started (after a stop; none otherwise).
        papers.close();
        while let Some(paper) = papers.recv().await {
            let outcome = PaperOutcome::not_attempted(self.stop_reason());
            let _ = results.send(Finished { paper, outcome });
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            settle(joined, &mut in_flight, &results);
        }
    }

    fn stop_reason(&self) -> String {
        match self.shutdown.cause() {
            Some(stop) => format!("not started: {}", stop.reason),
            None => "not started: the run was stopped".to_string(),
        }
    }

    /// Summarizes `paper`; a fatal error stops the run (see [`PaperOutcome::stop`]).
    pub async fn summarize(&self, paper: &Paper) -> PaperOutcome {
        let started = Instant::now();
        let mut outcome = PaperOutcome::new();
        if let Err(stop) = self.summarize_into(paper, &mut outcome).await {
            self.shutdown.stop(stop.run_end(), stop.to_string());
            outcome.stop = Some(stop);
        }
        outcome.duration = started.elapsed();
        outcome
    }

    async fn summarize_into(
        &self,
        paper: &Paper,
        outcome: &mut PaperOutcome,
    ) -> Result<(), StopError> {
        if paper.abstract_text.trim().is_empty() {
            // A summary of nothing is an invented summary: never ask.
            outcome.fail("no abstract: nothing to summarize".to_string());
            return Ok(());
        }
        let trimmed = self.trimmed(&paper.abstract_text).await;
        outcome.trimmed = trimmed.is_some();
        let input = PromptInput {
            paper,
            abstract_text: trimmed.as_deref().unwrap_or(&paper.abstract_text),
            trimmed: trimmed.is_some(),
        };
        let mut messages = self.prompts.render(&input).map_err(StopError::Prompt)?;
        for round in 0..=self.settings.max_repairs {
            let Some(answer) = self
                .ask(
                    // A repair round writes new messages: these are not needed again.
                    ChatRequest::summary(paper.id.clone(), std::mem::take(&mut messages)),
                    outcome,
                )
                .await?
            else {
                return Ok(());
            };
            let assessed = self.assess(&answer, &input, outcome).await?;
            let reasons = assessed.reasons().to_vec();
            outcome.keep_best(assessed);
            if outcome.status == Status::Ok || round == self.settings.max_repairs {
                return Ok(());
            }
            messages = self.repair(&input, &answer, &reasons)?;
        }
        Ok(())
    }

    /// The abstract cut to the token budget, or `None` when it fits. A token is at least one byte,
    /// so a short abstract needs no tokenizer; a long one is counted on a blocking thread (the
    /// tokenizer's first use builds its tables, a fifth of a second of CPU).
    async fn trimmed(&self, abstract_text: &str) -> Option<String> {
        let max_tokens = self.settings.max_abstract_tokens;
        if abstract_text.len() <= max_tokens {
            return None;
        }
        let text = abstract_text.to_string();
        let counted =
            tokio::task::spawn_blocking(move || tokens::trim_to_budget(&text, max_tokens)).await;
        match counted {
            Ok(trimmed) => trimmed.trimmed.then_some(trimmed.text),
            // A defect of the tokenizer: send the whole abstract rather than lose the paper.
            Err(error) => {
                tracing::error!(%error, "counting the abstract's tokens failed; sending it whole");
                None
            }
        }
    }

    /// One model call, after the budget and the stop were checked. `Ok(None)`: no answer came, and
    /// `outcome` says why (kept as it was when an earlier answer is there to review).
    async fn ask(
        &self,
        request: ChatRequest,
        outcome: &mut PaperOutcome,
    ) -> Result<Option<ChatAnswer>, StopError> {
        if let Err(exhausted) = self.budget.check() {
            outcome.no_answer(format!("not asked: {exhausted}"), true);
            return Err(StopError::Budget(exhausted));
        }
        if self.shutdown.is_stopped() {
            outcome.no_answer(self.stop_reason(), true);
            return Ok(None);
        }
        match self.model.complete(request).await {
            Ok(answer) => {
                self.budget.spend(&answer);
                outcome.add_call(&answer);
                Ok(Some(answer))
            }
            Err(ModelError::Cancelled) => {
                outcome.no_answer(self.stop_reason(), true);
                Ok(None)
            }
            Err(error) => {
                // An error that stops the run came without an answer to pay for (nobody answered, the
                // account cannot pay, a refusal): a paper it stops before any answer was not attempted.
                let stops = stops_run(&error);
                outcome.no_answer(error.to_string(), stops);
                if stops {
                    Err(StopError::Model(error))
                } else {
                    Ok(None)
                }
            }
        }
    }

    fn repair(
        &self,
        input: &PromptInput<'_>,
        answer: &ChatAnswer,
        reasons: &[Reason],
    ) -> Result<Vec<ChatMessage>, StopError> {
        let previous = answer.content.as_deref().unwrap_or("");
        self.prompts
            .render_repair(input, previous, &messages_of(reasons))
            .map_err(StopError::Prompt)
    }

    async fn assess(
        &self,
        answer: &ChatAnswer,
        input: &PromptInput<'_>,
        outcome: &mut PaperOutcome,
    ) -> Result<Assessed, StopError> {
        let paper = input.paper;
        match shape::check(answer, &self.settings.shape) {
            Ok(sections) => {
                let mut reasons = links::check(&sections, &paper.title, &paper.abstract_text);
                reasons.extend(self.identity_reasons(&sections, input, outcome).await?);
                Ok(if reasons.is_empty() {
                    Assessed::Publishable(sections)
                } else {
                    Assessed::Flagged(sections, reasons)
                })
            }
            Err(mut reasons) => {
                // Sections that parse but fail a rule are reviewable; an answer without sections is not.
                Ok(match answer.content.as_deref().map(answer::parse) {
                    Some(Ok(parsed)) => {
                        reasons.extend(links::check(
                            &parsed.sections,
                            &paper.title,
                            &paper.abstract_text,
                        ));
                        Assessed::Flagged(parsed.sections, reasons)
                    }
                    _ => Assessed::Unusable(reasons),
                })
            }
        }
    }

    /// The identity checks' failures; a borderline verdict is settled by the judge when it is enabled.
    async fn identity_reasons(
        &self,
        sections: &Sections,
        input: &PromptInput<'_>,
        outcome: &mut PaperOutcome,
    ) -> Result<Vec<Reason>, StopError> {
        let identity = &self.settings.identity;
        let report = self.batch.check(sections, input.paper, identity);
        let borderline = self.settings.judge.enabled
            && judge::is_borderline(&report, identity, &self.settings.judge);
        if !borderline {
            return Ok(report.reasons());
        }
        Ok(match self.ask_judge(sections, input, outcome).await? {
            Some(verdict) if verdict.describes_paper => {
                tracing::info!(id = %input.paper.id, reason = %verdict.reason, "judge: the summary describes the paper");
                Vec::new()
            }
            Some(verdict) => vec![Reason::new(
                "judge",
                format!(
                    "judge: the summary does not describe this paper: {}",
                    verdict.reason
                ),
            )],
            None => report.reasons(),
        })
    }

    /// One judge call, counted in the paper's usage. `None` when it gave no usable verdict: the
    /// deterministic checks then decide alone.
    async fn ask_judge(
        &self,
        sections: &Sections,
        input: &PromptInput<'_>,
        outcome: &mut PaperOutcome,
    ) -> Result<Option<JudgeVerdict>, StopError> {
        self.budget.check().map_err(StopError::Budget)?;
        let messages = self
            .prompts
            .render_judge(input, &sections.joined())
            .map_err(StopError::Prompt)?;
        let request = ChatRequest::judge(input.paper.id.clone(), messages);
        match self.model.complete(request).await {
            Ok(answer) => {
                self.budget.spend(&answer);
                outcome.add_call(&answer);
                match answer.content.as_deref().map(judge::parse_verdict) {
                    Some(Ok(verdict)) => Ok(Some(verdict)),
                    Some(Err(reason)) => {
                        tracing::warn!(id = %input.paper.id, %reason, "judge gave no verdict");
                        Ok(None)
                    }
                    None => Ok(None),
                }
            }
            Err(error) if stops_run(&error) => Err(StopError::Model(error)),
            Err(error) => {
                tracing::warn!(id = %input.paper.id, %error, "judge call failed");
                Ok(None)
            }
        }
    }
}

/// What the checks made of one answer.
enum Assessed {
    Publishable(Sections),
    Flagged(Sections, Vec<Reason>),
    Unusable(Vec<Reason>),
}

impl Assessed {
    fn reasons(&self) -> &[Reason] {
        match self {
            Assessed::Publishable(_) => &[],
            Assessed::Flagged(_, reasons) | Assessed::Unusable(reasons) => reasons,
        }
    }
}

/// A task ended: forget it, and give its paper a status if it ended in a panic (a defect, not an
/// input: the paper still gets a result instead of vanishing).
fn settle(
    joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    in_flight: &mut HashMap<tokio::task::Id, Paper>,
    results: &mpsc::UnboundedSender<Finished>,
) {
    let (id, panic) = match joined {
        Ok((id, ())) => (id, None),
        Err(error) => (error.id(), Some(error.to_string())),
    };
    let (Some(paper), Some(panic)) = (in_flight.remove(&id), panic) else {
        return;
    };
    tracing::error!(id = %paper.id, %panic, "summarizing a paper panicked");
    let mut outcome = PaperOutcome::new();
    outcome.fail(format!("internal error while summarizing: {panic}"));
    let _ = results.send(Finished { paper, outcome });
}

/// Errors after which every further call would fail the same way: stop starting papers.
fn stops_run(error: &ModelError) -> bool {
    match error {
        ModelError::Unreachable { .. }
        | ModelError::QuotaExhausted { .. }
        | ModelError::WaitTooLong { .. }
        | ModelError::InvalidSettings { .. } => true,
        ModelError::Rejected { status, .. } => matches!(status, 401 | 403 | 404),
        ModelError::GaveUp { .. } | ModelError::Malformed { .. } | ModelError::Cancelled => false,
    }
}

fn messages_of(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(|r| r.message.clone()).collect()
}

impl PaperOutcome {
    fn new() -> Self {
        PaperOutcome {
            status: Status::Failed,
            sections: None,
            reasons: Vec::new(),
            error: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            calls: 0,
            http_attempts: 0,
            retries_429: 0,
            duration: Duration::ZERO,
            trimmed: false,
            mode: None,
            not_attempted: None,
            stop: None,
        }
    }

    fn not_attempted(reason: String) -> Self {
        let mut outcome = PaperOutcome::new();
        outcome.not_attempted = Some(reason);
        outcome
    }

    fn fail(&mut self, error: String) {
        self.status = Status::Failed;
        self.sections = None;
        self.reasons = vec![error.clone()];
        self.error = Some(error);
    }

    /// No answer came for a call. Before any paid answer the paper either was not attempted (a
    /// stop: `stopped`) or failed; after one, the answer already paid for is kept with a note.
    fn no_answer(&mut self, why: String, stopped: bool) {
        match (self.calls, stopped) {
            (0, true) => self.not_attempted = Some(why),
            (0, false) => self.fail(why),
            _ if self.sections.is_some() => self.reasons.push(format!("repair not done: {why}")),
            _ => {
                self.error = Some(why.clone());
                self.reasons.push(why);
            }
        }
    }

    /// Keeps the best answer reached so far: a publishable one, else the latest reviewable one; an
    /// unusable repair never replaces a reviewable answer already paid for.
    fn keep_best(&mut self, assessed: Assessed) {
        match assessed {
            Assessed::Publishable(sections) => self.set(Status::Ok, Some(sections), Vec::new()),
            Assessed::Flagged(sections, reasons) => {
                self.set(Status::Flagged, Some(sections), messages_of(&reasons))
            }
            Assessed::Unusable(reasons) if self.sections.is_some() => {
                let why = messages_of(&reasons).join("; ");
                self.reasons.push(format!("repair not usable: {why}"));
            }
            Assessed::Unusable(reasons) => {
                self.set(Status::Failed, None, messages_of(&reasons));
                self.error = Some(messages_of(&reasons).join("; "));
            }
        }
    }

    fn set(&mut self, status: Status, sections: Option<Sections>, reasons: Vec<String>) {
        self.status = status;
        self.sections = sections;
        self.reasons = reasons;
        self.error = None;
    }

    fn add_call(&mut self, answer: &ChatAnswer) {
        self.calls += 1;
        self.prompt_tokens += answer.usage.prompt_tokens;
        self.completion_tokens += answer.usage.completion_tokens;
        self.cost_usd += answer.cost_usd;
        self.http_attempts += answer.http_attempts;
        self.retries_429 += answer.retries_429;
        self.mode = Some(answer.mode);
    }

    /// The paper this outcome is about was attempted: something was asked (or there was nothing to ask).
    pub fn attempted(&self) -> bool {
        self.not_attempted.is_none()
    }
}
