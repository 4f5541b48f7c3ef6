//! One paper through prompt → model → checks, with repairs: the unit of work a run schedules.

use std::time::{Duration, Instant};

use crate::checks::judge::{self, JudgeSettings, JudgeVerdict};
use crate::checks::{answer, shape, Reason};
use crate::model::{tokens, ChatAnswer, ChatModel, ChatRequest, ModelError, OutputMode};
use crate::paper::{Paper, Sections, Status};
use crate::prompt::{PromptError, PromptInput, PromptSet};

use super::identity::IdentityGate;

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
}

/// Why a paper's processing stopped the whole run rather than just this paper.
#[derive(Debug)]
pub enum Fatal {
    /// The model cannot be reached, or the account cannot pay: every further call would fail too.
    Model(ModelError),
    Prompt(PromptError),
}

pub struct Summarizer<'a> {
    pub model: &'a dyn ChatModel,
    pub prompts: &'a PromptSet,
    pub limits: &'a shape::ShapeLimits,
    pub identity: &'a IdentityGate,
    pub judge: &'a JudgeSettings,
    pub max_repairs: u32,
    pub max_abstract_tokens: usize,
}

impl Summarizer<'_> {
    /// Summarizes `paper` (the identity gate holds the batch it is contrasted with).
    /// Returns the outcome to store, plus the fatal error when the run must stop after it.
    pub async fn summarize(&self, paper: &Paper) -> (PaperOutcome, Option<Fatal>) {
        let started = Instant::now();
        let mut outcome = PaperOutcome::new();
        let fatal = self.summarize_into(paper, &mut outcome).await.err();
        outcome.duration = started.elapsed();
        (outcome, fatal)
    }

    async fn summarize_into(&self, paper: &Paper, outcome: &mut PaperOutcome) -> Result<(), Fatal> {
        if paper.abstract_text.trim().is_empty() {
            // A summary of nothing is an invented summary: never ask.
            outcome.fail("no abstract: nothing to summarize".to_string());
            return Ok(());
        }
        let trimmed = tokens::trim_to_budget(&paper.abstract_text, self.max_abstract_tokens);
        outcome.trimmed = trimmed.trimmed;
        let input = PromptInput {
            paper,
            abstract_text: &trimmed.text,
            trimmed: trimmed.trimmed,
        };
        let mut messages = self.prompts.render(&input).map_err(Fatal::Prompt)?;
        for round in 0..=self.max_repairs {
            let answer = match self
                .model
                .complete(ChatRequest::summary(paper.id.clone(), messages.clone()))
                .await
            {
                Ok(answer) => answer,
                Err(error) => {
                    if outcome.status == Status::Flagged {
                        // Keep the reviewable answer already paid for; note why the repair did not happen.
                        outcome
                            .reasons
                            .push(format!("repair not possible: {error}"));
                    } else {
                        outcome.fail(error.to_string());
                    }
                    return if stops_run(&error) {
                        Err(Fatal::Model(error))
                    } else {
                        Ok(())
                    };
                }
            };
            outcome.add_call(&answer);
            let verdict = self.assess(&answer, &input, outcome).await?;
            match verdict {
                Verdict::Publishable(sections) => {
                    outcome.finish(Status::Ok, Some(sections), Vec::new());
                    return Ok(());
                }
                Verdict::Flagged(sections, reasons) => {
                    outcome.finish(Status::Flagged, Some(sections), messages_of(&reasons));
                    if round < self.max_repairs {
                        messages = self.repair(&input, &answer, &reasons)?;
                    }
                }
                Verdict::Unusable(reasons) => {
                    outcome.finish(Status::Failed, None, messages_of(&reasons));
                    outcome.error = Some(messages_of(&reasons).join("; "));
                    if round < self.max_repairs {
                        messages = self.repair(&input, &answer, &reasons)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn repair(
        &self,
        input: &PromptInput<'_>,
        answer: &ChatAnswer,
        reasons: &[Reason],
    ) -> Result<Vec<crate::prompt::ChatMessage>, Fatal> {
        let previous = answer.content.as_deref().unwrap_or("");
        self.prompts
            .render_repair(input, previous, &messages_of(reasons))
            .map_err(Fatal::Prompt)
    }

    async fn assess(
        &self,
        answer: &ChatAnswer,
        input: &PromptInput<'_>,
        outcome: &mut PaperOutcome,
    ) -> Result<Verdict, Fatal> {
        match shape::check(answer, self.limits) {
            Ok(sections) => {
                let reasons = self.identity_reasons(&sections, input, outcome).await?;
                Ok(if reasons.is_empty() {
                    Verdict::Publishable(sections)
                } else {
                    Verdict::Flagged(sections, reasons)
                })
            }
            Err(reasons) => {
                // Sections that parse but fail a rule are reviewable; an answer without sections is not.
                Ok(match answer.content.as_deref().map(answer::parse) {
                    Some(Ok(parsed)) => Verdict::Flagged(parsed.sections, reasons),
                    _ => Verdict::Unusable(reasons),
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
    ) -> Result<Vec<Reason>, Fatal> {
        let report = self.identity.check(sections, input.paper);
        let borderline = self.judge.enabled
            && judge::is_borderline(&report, self.identity.settings(), self.judge);
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
    ) -> Result<Option<JudgeVerdict>, Fatal> {
        let messages = self
            .prompts
            .render_judge(input, &sections.joined())
            .map_err(Fatal::Prompt)?;
        let request = ChatRequest::judge(input.paper.id.clone(), messages);
        match self.model.complete(request).await {
            Ok(answer) => {
                outcome.add_call(&answer);
                let verdict = answer.content.as_deref().map(judge::parse_verdict);
                match verdict {
                    Some(Ok(verdict)) => Ok(Some(verdict)),
                    Some(Err(reason)) => {
                        tracing::warn!(id = %input.paper.id, %reason, "judge gave no verdict");
                        Ok(None)
                    }
                    None => Ok(None),
                }
            }
            Err(error) if stops_run(&error) => Err(Fatal::Model(error)),
            Err(error) => {
                tracing::warn!(id = %input.paper.id, %error, "judge call failed");
                Ok(None)
            }
        }
    }
}

enum Verdict {
    Publishable(Sections),
    Flagged(Sections, Vec<Reason>),
    Unusable(Vec<Reason>),
}

/// Errors after which every further call would fail the same way: stop starting papers.
fn stops_run(error: &ModelError) -> bool {
    match error {
        ModelError::Unreachable { .. }
        | ModelError::QuotaExhausted { .. }
        | ModelError::BudgetExhausted { .. }
        | ModelError::InvalidSettings { .. } => true,
        ModelError::Rejected { status, .. } => matches!(status, 401 | 403 | 404),
        ModelError::GaveUp { .. } | ModelError::Malformed { .. } => false,
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
        }
    }

    fn fail(&mut self, error: String) {
        self.status = Status::Failed;
        self.sections = None;
        self.reasons = vec![error.clone()];
        self.error = Some(error);
    }

    fn finish(&mut self, status: Status, sections: Option<Sections>, reasons: Vec<String>) {
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
}
