//! The summarize stage in-process against a scripted chat model, on a paused clock: repair rounds,
//! the judge, a budget reached mid-repair, a stop while papers wait, and what is kept of a paid answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use paper_digest::checks::identity;
use paper_digest::model::{ChatAnswer, ChatModel, ChatRequest, FinishReason, ModelError, Usage};
use paper_digest::paper::{OutputMode, Paper, Status};
use paper_digest::pipeline::summarize::{
    BudgetLimits, Finished, PaperOutcome, StopError, SummarizeSettings, Summarizer,
};
use paper_digest::pipeline::Shutdown;
use paper_digest::prompt::PromptSet;
use paper_digest::store::RunEnd;
use tokio::sync::mpsc;

/// What the scripted model does on one call.
#[derive(Clone)]
enum Step {
    /// Answer with this content after this long.
    Answer(String, Duration),
    /// Answer with a correct summary of the paper asked about, after this long.
    Correct(Duration),
    Fail(ModelError),
}

/// A chat model that plays its script in order, one step per call (the last step repeats), and
/// remembers every request.
#[derive(Clone, Default)]
struct ScriptedModel {
    script: Arc<Mutex<VecDeque<Step>>>,
    requests: Arc<Mutex<Vec<ChatRequest>>>,
}

impl ScriptedModel {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        ScriptedModel {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            requests: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn judge_calls(&self) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.answer == paper_digest::model::AnswerShape::JudgeVerdict)
            .count()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn complete(&self, request: ChatRequest) -> Result<ChatAnswer, ModelError> {
        let asked = asked_about(&request);
        self.requests.lock().unwrap().push(request);
        let step = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front()
            } else {
                script.front().cloned()
            }
        };
        match step {
            Some(Step::Answer(content, delay)) => {
                tokio::time::sleep(delay).await;
                Ok(answer(&content))
            }
            Some(Step::Correct(delay)) => {
                tokio::time::sleep(delay).await;
                let (title, abstract_text) = asked;
                Ok(answer(&paper_digest_mock_llm::summary_for(
                    &title,
                    &abstract_text,
                )))
            }
            Some(Step::Fail(error)) => Err(error),
            None => panic!("the script is empty"),
        }
    }

    fn model_name(&self) -> &str {
        "scripted"
    }
}

/// The title and abstract inside the request's first user message.
fn asked_about(request: &ChatRequest) -> (String, String) {
    let user = request
        .messages
        .iter()
        .find(|m| m.role == paper_digest::prompt::Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_default();
    let between = |open: &str, close: &str| {
        user.split_once(open)
            .and_then(|(_, rest)| rest.split_once(close))
            .map(|(inside, _)| inside.trim().to_string())
            .unwrap_or_default()
    };
    (
        between("<paper_title>", "</paper_title>"),
        between("<abstract>", "</abstract>"),
    )
}

fn answer(content: &str) -> ChatAnswer {
    ChatAnswer {
        content: Some(content.to_string()),
        refusal: None,
        finish_reason: FinishReason::Stop,
        usage: Usage {
            prompt_tokens: 600,
            completion_tokens: 300,
            estimated: false,
        },
        cost_usd: 0.001,
        mode: OutputMode::JsonSchema,
        model: "scripted".to_string(),
        http_attempts: 1,
        retries_429: 0,
    }
}

fn paper(n: u32) -> Paper {
    let title = format!("Q{n}Former: Sparse Routing for Long-Context Modeling");
    Paper {
        id: format!("2411.{n:05}").parse().unwrap(),
        version: None,
        title: title.clone(),
        authors: vec!["Author One".to_string()],
        abstract_text: format!(
            "We present Q{n}Former, a sparse routing model built on the K{n}-Router module and \
             trained on the Z{n}Corpus collection. Q{n}Former reduces attention memory by 42% \
             while keeping accuracy on the Z{n}Bench suite, and reaches a score of 71.5."
        ),
        upvotes: Some(3),
        thumbnail: None,
        published: None,
        updated: None,
        primary_category: None,
        categories: Vec::new(),
    }
}

/// A correct Korean summary of `paper` (the benchmark mock's generator).
fn good(paper: &Paper) -> Step {
    Step::Answer(
        paper_digest_mock_llm::summary_for(&paper.title, &paper.abstract_text),
        Duration::from_millis(300),
    )
}

fn english() -> Step {
    Step::Answer(
        serde_json::json!({
            "whats_new": "This paper introduces a new method and explains why it matters for the field.",
            "technical_details": "The method is trained on a large dataset and evaluated with standard metrics.",
            "performance_highlights": "It improves over strong baselines on every benchmark that was tested."
        })
        .to_string(),
        Duration::from_millis(300),
    )
}

fn garbage() -> Step {
    Step::Answer(
        "I cannot help with that request today, sorry.".to_string(),
        Duration::ZERO,
    )
}

fn settings() -> SummarizeSettings {
    crate::common::defaults().summarize
}

fn summarizer(
    model: &ScriptedModel,
    settings: SummarizeSettings,
    papers: &[Paper],
    shutdown: &Shutdown,
) -> Arc<Summarizer> {
    Arc::new(Summarizer::new(
        Arc::new(model.clone()),
        Arc::new(PromptSet::builtin()),
        settings,
        identity::prepare(papers),
        shutdown.clone(),
    ))
}

async fn one(model: &ScriptedModel, settings: SummarizeSettings) -> (PaperOutcome, Shutdown) {
    let paper = paper(1);
    let shutdown = Shutdown::new();
    let outcome = summarizer(model, settings, std::slice::from_ref(&paper), &shutdown)
        .summarize(&paper)
        .await;
    (outcome, shutdown)
}

#[tokio::test(start_paused = true)]
async fn an_english_answer_is_repaired_and_the_repair_published() {
    let model = ScriptedModel::new([english(), good(&paper(1))]);
    let (outcome, _) = one(&model, settings()).await;
    assert_eq!(outcome.status, Status::Ok, "{:?}", outcome.reasons);
    assert_eq!(outcome.calls, 2);
    assert_eq!(outcome.prompt_tokens, 1200);
    let requests = model.requests.lock().unwrap();
    let repair = &requests[1].messages;
    assert_eq!(
        repair.len(),
        4,
        "system, user, the previous answer, what was wrong"
    );
    assert!(
        repair[3].content.contains("Hangul"),
        "{}",
        repair[3].content
    );
}

#[tokio::test(start_paused = true)]
async fn after_every_repair_failed_the_paper_is_flagged_with_the_last_reasons() {
    let model = ScriptedModel::new([english()]);
    let (outcome, _) = one(&model, settings()).await;
    assert_eq!(outcome.status, Status::Flagged);
    assert_eq!(outcome.calls, 3, "the first answer and two repairs");
    assert!(outcome.sections.is_some(), "the reviewable answer is kept");
    assert!(outcome.reasons.iter().any(|r| r.contains("Hangul")));
}

/// A flagged answer was paid for; a repair that comes back unusable must not throw it away.
#[tokio::test(start_paused = true)]
async fn an_unusable_repair_keeps_the_flagged_answer_already_paid_for() {
    let model = ScriptedModel::new([english(), garbage()]);
    let (outcome, _) = one(&model, settings()).await;
    assert_eq!(outcome.status, Status::Flagged, "{:?}", outcome.reasons);
    assert!(outcome.sections.is_some());
    assert!(
        outcome
            .reasons
            .iter()
            .any(|r| r.starts_with("repair not usable")),
        "{:?}",
        outcome.reasons
    );
}

#[tokio::test(start_paused = true)]
async fn a_budget_reached_mid_repair_keeps_the_answer_and_stops_the_run() {
    let model = ScriptedModel::new([english(), good(&paper(1))]);
    let mut settings = settings();
    // One answer costs 900 tokens: the first call fits, the repair does not.
    settings.budget = BudgetLimits {
        max_tokens: Some(800),
        max_cost_usd: None,
    };
    let (outcome, shutdown) = one(&model, settings).await;
    assert_eq!(model.calls(), 1);
    assert_eq!(outcome.status, Status::Flagged);
    assert!(outcome.sections.is_some());
    assert!(
        outcome
            .reasons
            .iter()
            .any(|r| r.contains("repair not done") && r.contains("budget")),
        "{:?}",
        outcome.reasons
    );
    assert!(matches!(outcome.stop, Some(StopError::Budget(_))));
    assert_eq!(
        shutdown.cause().map(|s| s.end),
        Some(RunEnd::BudgetExhausted)
    );
}

/// With a margin of 1.0 every verdict that is not a swap counts as borderline, so the judge is asked.
fn judging() -> SummarizeSettings {
    let mut settings = settings();
    settings.judge.enabled = true;
    settings.judge.borderline_margin = 1.0;
    settings.max_repairs = 0;
    settings
}

async fn judged(says: &str) -> (PaperOutcome, ScriptedModel) {
    let paper = paper(1);
    let verdict = format!(r#"{{"describes_paper": {says}, "reason": "Judged by the script."}}"#);
    let model = ScriptedModel::new([good(&paper), Step::Answer(verdict, Duration::ZERO)]);
    let (outcome, _) = one(&model, judging()).await;
    (outcome, model)
}

#[tokio::test(start_paused = true)]
async fn the_judge_settles_a_borderline_verdict_and_its_call_is_counted() {
    let (outcome, model) = judged("true").await;
    assert_eq!(model.judge_calls(), 1);
    assert_eq!(outcome.status, Status::Ok, "{:?}", outcome.reasons);
    assert_eq!(
        outcome.calls, 2,
        "the judge call is counted in the paper's calls"
    );
    assert_eq!(outcome.prompt_tokens, 1200);
}

#[tokio::test(start_paused = true)]
async fn the_judge_saying_no_flags_the_paper_with_its_reason() {
    let (outcome, model) = judged("false").await;
    assert_eq!(model.judge_calls(), 1);
    assert_eq!(outcome.status, Status::Flagged);
    assert!(
        outcome
            .reasons
            .iter()
            .any(|r| r.contains("Judged by the script.")),
        "{:?}",
        outcome.reasons
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_judge_answer_leaves_the_deterministic_verdict() {
    let paper = paper(1);
    let model = ScriptedModel::new([
        good(&paper),
        Step::Answer("Yes, it does.".to_string(), Duration::ZERO),
    ]);
    let (outcome, _) = one(&model, judging()).await;
    assert_eq!(model.judge_calls(), 1);
    assert_eq!(outcome.status, Status::Ok, "{:?}", outcome.reasons);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_model_stops_the_run_and_later_papers_are_not_attempted() {
    let papers: Vec<Paper> = (1..=6).map(paper).collect();
    let unreachable = ModelError::Unreachable {
        url: "http://127.0.0.1:9/v1/chat/completions".to_string(),
        message: "connection refused".to_string(),
    };
    let model = ScriptedModel::new([Step::Fail(unreachable)]);
    let mut settings = settings();
    settings.concurrency = 1;
    let shutdown = Shutdown::new();
    let results = run_all(&model, settings, &papers, &shutdown).await;
    assert_eq!(results.len(), 6, "every paper comes back with a result");
    assert_eq!(
        model.calls(),
        1,
        "no call after the model was found unreachable"
    );
    let first = &results[0].outcome;
    assert_eq!(first.status, Status::Failed);
    assert!(matches!(first.stop, Some(StopError::Model(_))));
    assert!(results[1..].iter().all(|f| !f.outcome.attempted()));
    assert_eq!(shutdown.cause().map(|s| s.end), Some(RunEnd::Aborted));
}

/// A stop while papers wait for a free slot: those in flight finish (their answers are kept), none
/// starts, and the stop takes no longer than the request in flight.
#[tokio::test(start_paused = true)]
async fn a_stop_lets_the_papers_in_flight_finish_and_starts_none() {
    let papers: Vec<Paper> = (1..=10).map(paper).collect();
    let model = ScriptedModel::new([Step::Correct(Duration::from_secs(10))]);
    let mut settings = settings();
    settings.concurrency = 2;
    let shutdown = Shutdown::new();
    let stopper = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(15)).await;
            shutdown.stop(RunEnd::Interrupted, "interrupted by SIGTERM");
        })
    };
    let started = tokio::time::Instant::now();
    let results = run_all(&model, settings, &papers, &shutdown).await;
    stopper.await.unwrap();
    assert_eq!(results.len(), 10);
    // Two rounds of two: the second round was in flight at the stop (t = 15 s) and finished at 20 s.
    assert_eq!(model.calls(), 4);
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    let attempted = results.iter().filter(|f| f.outcome.attempted()).count();
    assert_eq!(attempted, 4);
    let not_started: Vec<_> = results
        .iter()
        .filter_map(|f| f.outcome.not_attempted.as_deref())
        .collect();
    assert!(
        not_started.iter().all(|r| r.contains("SIGTERM")),
        "{not_started:?}"
    );
}

async fn run_all(
    model: &ScriptedModel,
    settings: SummarizeSettings,
    papers: &[Paper],
    shutdown: &Shutdown,
) -> Vec<Finished> {
    let (sender, mut received) = mpsc::unbounded_channel();
    // The select stage hands papers over a bounded channel; here they are all there at once.
    let (queue, claimed) = mpsc::channel(papers.len().max(1));
    for paper in papers {
        queue.try_send(paper.clone()).unwrap();
    }
    drop(queue);
    summarizer(model, settings, papers, shutdown)
        .summarize_all(claimed, sender)
        .await;
    let mut results = Vec::new();
    while let Some(finished) = received.recv().await {
        results.push(finished);
    }
    results.sort_by(|a, b| a.paper.id.cmp(&b.paper.id));
    results
}

#[tokio::test]
async fn an_abstract_over_the_token_budget_is_trimmed_and_the_prompt_says_so() {
    let model = ScriptedModel::new([Step::Correct(Duration::ZERO)]);
    let mut settings = settings();
    settings.max_abstract_tokens = 16;
    let (outcome, _) = one(&model, settings).await;
    assert!(outcome.trimmed);
    let requests = model.requests.lock().unwrap();
    let user = &requests[0].messages[1].content;
    assert!(user.contains("shortened"), "{user}");
    assert!(
        !user.contains("Z1Bench"),
        "the end of the abstract was cut: {user}"
    );
}
