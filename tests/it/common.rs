//! Shared by the end-to-end tests: an OpenAI-compatible chat server on loopback (wiremock) that answers
//! in the real wire format with a Korean summary of whichever fixture paper the request is about, and
//! counts the requests it received per paper.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const FIXTURE_DAY: &str = "2024-09-23";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

/// The real data folder next to the repository, when present (see ../shared/data/README.md).
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPER_DIGEST_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    dir.is_dir().then_some(dir)
}

/// A fixture paper: how requests mention it, and a correct Korean summary of it.
pub struct KnownPaper {
    pub id: &'static str,
    pub title: &'static str,
    pub summary: [&'static str; 3],
}

pub const PAPERS: [KnownPaper; 3] = [
    KnownPaper {
        id: "2409.10001",
        title: "GlowFormer: Efficient Long-Context Attention with Learned Sparsity",
        summary: [
            "GlowFormer는 어떤 어텐션(attention) 연결을 남길지 스스로 학습하는 트랜스포머(Transformer) 변형 모델을 제안합니다. 긴 문맥(long-context) 처리에서 메모리 부담을 줄이는 것이 목표입니다.",
            "GlowFormer는 학습된 희소성(learned sparsity)으로 32K 토큰 길이의 시퀀스에서 어텐션 메모리를 63% 줄이면서도, PG-19에서 밀집 어텐션(dense attention)과 같은 퍼플렉서티(perplexity)를 유지합니다.",
            "LongBench 평균 점수를 41.2에서 44.8로 끌어올렸습니다. 코드도 함께 공개되어 누구나 결과를 재현할 수 있습니다.",
        ],
    },
    KnownPaper {
        id: "2409.10002",
        title: "Seoul-Bench: Evaluating Korean Cultural Knowledge in Large Language Models",
        summary: [
            "Seoul-Bench는 대형 언어 모델(LLM)의 한국 문화 지식을 평가하는 새로운 벤치마크(benchmark)입니다. 문화에 특화된 지식은 지금까지 거의 평가되지 않았다는 점에 주목했습니다.",
            "원어민이 작성한 4,210개의 객관식 문항으로 한국의 역사, 법, 일상생활을 다루며, 12개 모델을 같은 조건에서 평가했습니다.",
            "가장 좋은 모델의 정확도는 71.5%로 인간 전문가의 93.0%에 크게 못 미쳤고, 주로 영어 데이터로 학습한 모델은 최대 25점까지 뒤처졌습니다.",
        ],
    },
    KnownPaper {
        id: "2409.10003",
        title: "Tidal: Ocean Current Forecasting with Graph Neural Networks",
        summary: [
            "Tidal은 위성 고도계(satellite altimetry) 자료로 해양 표층 해류를 예측하는 그래프 신경망(graph neural network)입니다. 수치 모델 중심이던 해류 예보에 학습 기반 접근을 제시합니다.",
            "Tidal은 바다를 18,000개 노드의 메시(mesh)로 표현하고, 이 그래프 위에서 10일 뒤의 해류를 예측합니다.",
            "운영 중인 수치 모델과 비교해 평균 제곱근 오차(RMSE)를 19% 낮췄고, 단일 GPU에서 300배 빠르게 실행됩니다.",
        ],
    },
];

/// How the mock answers a request about a paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// A correct Korean summary of the paper asked about.
    Correct,
    /// A fluent, correct-looking summary of the NEXT fixture paper (a swap within the batch).
    Swapped,
    /// The right content, in English.
    English,
    /// For any paper: a Korean summary assembled from the request's own title and abstract.
    FromAbstract,
}

#[derive(Clone)]
pub struct MockChat {
    behaviour: Behaviour,
    delay: Duration,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    /// What the identity judge answers (`describes_paper`), when asked.
    judge_says: bool,
    judge_calls: Arc<Mutex<usize>>,
}

impl MockChat {
    pub fn new(behaviour: Behaviour) -> Self {
        MockChat {
            behaviour,
            delay: Duration::ZERO,
            counts: Arc::default(),
            judge_says: true,
            judge_calls: Arc::default(),
        }
    }

    pub fn with_judge_saying(mut self, describes_paper: bool) -> Self {
        self.judge_says = describes_paper;
        self
    }

    pub fn judge_calls(&self) -> usize {
        self.judge_calls.lock().map(|n| *n).unwrap_or_default()
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Requests received per fixture paper ID.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}

impl Respond for MockChat {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if first_user_message(request).contains("<summary>") {
            if let Ok(mut calls) = self.judge_calls.lock() {
                *calls += 1;
            }
            let verdict = json!({"describes_paper": self.judge_says, "reason": "The summary is about a different method."});
            return ResponseTemplate::new(200)
                .set_body_json(completion(&verdict.to_string(), "stop"));
        }
        if self.behaviour == Behaviour::FromAbstract {
            return self.answer_from_abstract(request);
        }
        // The paper asked about is the one inside the prompt's title tags; repair prompts may name others.
        let asked = between(
            &first_user_message(request),
            "<paper_title>",
            "</paper_title>",
        );
        let Some(index) = PAPERS.iter().position(|p| asked == p.title) else {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": {"message": "mock: request names no fixture paper", "type": "invalid_request_error", "code": 400}
            }));
        };
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(PAPERS[index].id.to_string()).or_default() += 1;
        }
        let content = match self.behaviour {
            Behaviour::Correct | Behaviour::FromAbstract => summary_json(&PAPERS[index]),
            Behaviour::Swapped => summary_json(&PAPERS[(index + 1) % PAPERS.len()]),
            Behaviour::English => json!({
                "whats_new": "This paper introduces a new method and explains why it matters for the field.",
                "technical_details": "The method is trained on a large dataset and evaluated with standard metrics.",
                "performance_highlights": "It improves over strong baselines on every benchmark that was tested."
            })
            .to_string(),
        };
        ResponseTemplate::new(200)
            .set_delay(self.delay)
            .set_body_json(completion(&content, "stop"))
    }
}

impl MockChat {
    fn answer_from_abstract(&self, request: &Request) -> ResponseTemplate {
        let user = first_user_message(request);
        let title = between(&user, "<paper_title>", "</paper_title>");
        let abstract_text = between(&user, "<abstract>", "</abstract>");
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(title.clone()).or_default() += 1;
        }
        ResponseTemplate::new(200)
            .set_delay(self.delay)
            .set_body_json(completion(&korean_from(&title, &abstract_text), "stop"))
    }
}

/// The prompt about the paper (repair prompts come after it).
fn first_user_message(request: &Request) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    body["messages"]
        .as_array()
        .and_then(|messages| messages.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn between(text: &str, open: &str, close: &str) -> String {
    text.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map(|(inside, _)| inside.trim().to_string())
        .unwrap_or_default()
}

/// A plausible Korean summary that names the work and uses the abstract's own terms and figures (the
/// benchmark mock's generator, so tests and benchmarks answer alike).
pub fn korean_from(title: &str, abstract_text: &str) -> String {
    paper_digest_mock_llm::summary_for(title, abstract_text)
}

pub fn summary_json(paper: &KnownPaper) -> String {
    json!({
        "whats_new": paper.summary[0],
        "technical_details": paper.summary[1],
        "performance_highlights": paper.summary[2],
    })
    .to_string()
}

/// A chat completion exactly as OpenAI sends it.
pub fn completion(content: &str, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-A9x2fW1Q",
        "object": "chat.completion",
        "created": 1727078400,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {"prompt_tokens": 612, "completion_tokens": 288, "total_tokens": 900},
        "system_fingerprint": "fp_3aa7262c27"
    })
}

/// A started mock, its server (kept alive by holding it) and a temp dir with the matching environment.
pub struct Setup {
    pub mock: MockChat,
    pub server: MockServer,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

pub async fn setup(mock: MockChat) -> Setup {
    let server = mock.start().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
    let env = env_for(&server.uri(), dir.path());
    Setup {
        mock,
        server,
        dir,
        env,
    }
}

/// Environment for running the binary against `server` with its store and output in `dir`.
pub fn env_for(server_uri: &str, dir: &Path) -> Vec<(String, String)> {
    [
        ("OPENAI_API_KEY", "sk-test-e2e-0123456789"),
        ("PAPER_DIGEST_MODEL__BASE_URL", &format!("{server_uri}/v1")),
        ("PAPER_DIGEST_MODEL__MAX_RETRIES", "2"),
        ("PAPER_DIGEST_MODEL__BACKOFF_INITIAL_MS", "10"),
        ("PAPER_DIGEST_MODEL__BACKOFF_MAX_SECS", "0.1"),
        ("PAPER_DIGEST_MODEL__REQUEST_TIMEOUT_SECS", "10"),
        (
            "PAPER_DIGEST_RUN__DATABASE",
            &dir.join("digest.db").display().to_string(),
        ),
        (
            "PAPER_DIGEST_RUN__OUT_DIR",
            &dir.join("out").display().to_string(),
        ),
        ("PAPER_DIGEST_LOG_FORMAT", "json"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The binary with a clean environment (no stray PAPER_DIGEST_* or OPENAI_* from the caller).
pub fn binary(env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paper-digest"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PAPER_DIGEST_") || key.starts_with("OPENAI_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

/// `run --source file --input <the fixture day>`.
fn fixture_day_args() -> Vec<String> {
    let input = fixture("hf_2024-09-23.json");
    ["run", "--source", "file", "--input"]
        .map(String::from)
        .into_iter()
        .chain([input.to_string_lossy().into_owned()])
        .collect()
}

/// `paper-digest run --source file --input <the fixture day> [extra...]`, in-process.
pub fn run_fixture_day(env: &[(String, String)], extra: &[&str]) -> Output {
    let day = fixture_day_args();
    let args: Vec<&str> = day
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    run_cli(env, &args)
}

/// The binary running the fixture day in the background (logs discarded), for tests that signal
/// or kill it.
pub fn spawn_fixture_day(env: &[(String, String)]) -> std::process::Child {
    binary(env)
        .args(fixture_day_args())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `paper-digest ARGS` run in this process, with `env` as its whole environment: what the binary
/// would print to stdout, its error message (`error: …`) as stderr, and its exit code. Logs go
/// nowhere; tests of the log lines use [`run_binary`].
pub fn run_cli(env: &[(String, String)], args: &[&str]) -> Output {
    use clap::Parser;
    use paper_digest::app::{self, Context};
    use paper_digest::cli::Cli;
    use paper_digest::logging::Progress;
    use paper_digest::pipeline::Shutdown;
    use paper_digest::settings::Env;
    use std::os::unix::process::ExitStatusExt;

    let finished = |code: u8, stdout: Vec<u8>, stderr: String| Output {
        status: std::process::ExitStatus::from_raw(i32::from(code) << 8),
        stdout,
        stderr: stderr.into_bytes(),
    };
    let cli = match Cli::try_parse_from(std::iter::once("paper-digest").chain(args.iter().copied()))
    {
        Ok(cli) => cli,
        Err(error) => {
            let code = u8::try_from(error.exit_code()).unwrap_or(2);
            return finished(code, Vec::new(), error.to_string());
        }
    };
    let execute = async move {
        let mut stdout = Vec::new();
        let ctx = Context {
            env: Env::from_pairs(env.iter().cloned()),
            out: &mut stdout,
            progress: Progress::hidden(),
            shutdown: Shutdown::new(),
        };
        match app::execute(cli, ctx).await {
            Ok(status) => finished(status.code(), stdout, String::new()),
            Err(error) => finished(
                error.exit_status().code(),
                stdout,
                format!("error: {error}\n"),
            ),
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(execute)),
        Err(_) => tokio::runtime::Runtime::new()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"))
            .block_on(execute),
    }
}

/// The real binary (its own process, its logs on stderr): for signals, kills and log lines.
pub fn run_binary(env: &[(String, String)], args: &[&str]) -> Output {
    match binary(env).args(args).output() {
        Ok(output) => output,
        Err(error) => panic!("cannot start paper-digest: {error}"),
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The built-in settings (`config/default.toml`): the only place defaults come from.
pub fn defaults() -> paper_digest::settings::Settings {
    paper_digest::settings::Settings::defaults()
        .unwrap_or_else(|e| panic!("the built-in config is valid: {e}"))
}

/// A paper of a day built for the publishing tests, stored with [`store_day`].
#[derive(Debug, Clone)]
pub struct DayPaper {
    pub id: String,
    pub title: String,
    pub authors: Vec<String>,
    pub votes: Option<i64>,
    /// `None`: listed but not summarized yet.
    pub status: Option<paper_digest::paper::Status>,
    pub sections: [String; 3],
    pub reasons: Vec<String>,
}

/// Paper `n` of a synthetic day: an ok summary whose sections run from 300 to about 1,100 characters
/// (the default checks allow 40..1200), so that days of many papers cross every message limit.
pub fn day_paper(n: usize) -> DayPaper {
    let sentence = "이 논문은 대형 언어 모델(LLM)의 추론 효율을 높이는 새로운 방법을 제안합니다. ";
    let section = |k: usize| {
        let target = 300 + (n * 37 + k * 211) % 800;
        let mut text = String::new();
        while text.chars().count() < target {
            text.push_str(sentence);
        }
        text.trim_end().to_string()
    };
    DayPaper {
        id: format!("2409.{:05}", 10_000 + n),
        title: format!("Paper {n}: Efficient Inference for Large Language Models"),
        authors: (0..(1 + n % 7))
            .map(|a| format!("Author {n}-{a}"))
            .collect(),
        votes: Some((100 - (n % 100)) as i64),
        status: Some(paper_digest::paper::Status::Ok),
        sections: [section(0), section(1), section(2)],
        reasons: Vec::new(),
    }
}

/// Lists `papers` on `day` in the store at `db` (created if needed) and records their summaries as
/// one run of that day would.
pub fn store_day(db: &Path, day: &str, papers: &[DayPaper]) {
    use paper_digest::checks::identity::WrittenFrom;
    use paper_digest::paper::{Paper, Sections, SummaryKey};
    use paper_digest::store::{AttemptRecord, RunKind, RunMeta, Store};

    let store = Store::open(db).unwrap_or_else(|e| panic!("{e}"));
    let date = day.parse().unwrap_or_else(|e| panic!("{day}: {e}"));
    let stored: Vec<Paper> = papers
        .iter()
        .map(|p| Paper {
            id: p.id.parse().unwrap_or_else(|e| panic!("{}: {e}", p.id)),
            version: Some(1),
            title: p.title.clone(),
            authors: p.authors.clone(),
            abstract_text: format!("The abstract of {}.", p.title),
            upvotes: p.votes,
            thumbnail: None,
            published: None,
            updated: None,
            primary_category: None,
            categories: Vec::new(),
        })
        .collect();
    store
        .upsert_papers(&stored, Some(date), "hf-daily")
        .unwrap_or_else(|e| panic!("{e}"));
    let run = store
        .begin_run(&RunMeta {
            kind: RunKind::Run,
            date: Some(date),
            source: "hf-daily".into(),
            dry_run: false,
            model: "gpt-4o-mini".into(),
            prompt_version: "test".into(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for (paper, stored) in papers.iter().zip(&stored) {
        let Some(status) = paper.status else {
            continue;
        };
        let [whats_new, technical_details, performance_highlights] = paper.sections.clone();
        store
            .record_attempt(
                run,
                &AttemptRecord {
                    paper: stored.id.clone(),
                    key: SummaryKey::new(stored, "test", "gpt-4o-mini"),
                    status,
                    sections: Some(Sections {
                        whats_new,
                        technical_details,
                        performance_highlights,
                    }),
                    reasons: paper.reasons.clone(),
                    error: None,
                    prompt_tokens: 10,
                    completion_tokens: 10,
                    cost_usd: 0.0,
                    calls: 1,
                    duration_ms: 1,
                    trimmed: false,
                    output_mode: None,
                    written_from: WrittenFrom::Abstract,
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The environment of a publishing command: the store at `dir/digest.db`, output under `dir/out`.
pub fn publish_env(dir: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PAPER_DIGEST_RUN__DATABASE".to_string(),
            dir.join("digest.db").display().to_string(),
        ),
        (
            "PAPER_DIGEST_RUN__OUT_DIR".to_string(),
            dir.join("out").display().to_string(),
        ),
        (
            "PAPER_DIGEST_PUBLISH__RETRY_INITIAL_SECS".to_string(),
            "0.05".to_string(),
        ),
        (
            "PAPER_DIGEST_PUBLISH__REQUEST_TIMEOUT_SECS".to_string(),
            "10".to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}
