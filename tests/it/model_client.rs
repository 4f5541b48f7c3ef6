//! The chat client against a local wiremock server answering in OpenAI's real wire format.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paper_digest::model::{
    AnswerShape, ApiKey, ChatAnswer, ChatModel, ChatRequest, FinishReason, ModelError,
    ModelSettings, OpenAiCompatible, Usage,
};
use paper_digest::paper::{ArxivId, OutputMode};
use paper_digest::prompt::{ChatMessage, Role};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk-test-0123456789abcdef";
const COMPLETIONS: &str = "/v1/chat/completions";

fn fixture(name: &str) -> Value {
    let file = format!("{}/tests/fixtures/model/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

fn url(text: &str) -> reqwest::Url {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn settings(server: &MockServer) -> ModelSettings {
    ModelSettings {
        base_url: url(&format!("{}/v1", server.uri())),
        model: "test-model".to_string(),
        max_output_tokens: 512,
        request_timeout: Duration::from_secs(5),
        max_retries: 2,
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        price_input_per_mtok: 0.15,
        price_output_per_mtok: 0.60,
        requests_per_minute: None,
        tokens_per_minute: None,
        ..crate::common::defaults().model
    }
}

fn client(settings: ModelSettings) -> OpenAiCompatible {
    client_with_key(settings, Some(KEY))
}

fn client_with_key(settings: ModelSettings, key: Option<&str>) -> OpenAiCompatible {
    let key = key.and_then(|k| ApiKey::new(k).unwrap_or_else(|e| panic!("{e}")));
    OpenAiCompatible::new(settings, key, CancellationToken::new()).unwrap_or_else(|e| panic!("{e}"))
}

fn request() -> ChatRequest {
    ChatRequest {
        paper: "2409.13346"
            .parse::<ArxivId>()
            .unwrap_or_else(|e| panic!("{e}")),
        messages: vec![
            ChatMessage::new(Role::System, "You summarise papers in Korean as JSON."),
            ChatMessage::new(
                Role::User,
                "<abstract>We present a tuning-free personalization model.</abstract>",
            ),
        ],
        answer: AnswerShape::Summary,
    }
}

async fn answer(model: &OpenAiCompatible) -> ChatAnswer {
    model
        .complete(request())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn failure(model: &OpenAiCompatible) -> ModelError {
    match model.complete(request()).await {
        Ok(answer) => panic!("expected an error, got {answer:?}"),
        Err(err) => err,
    }
}

fn snapshot_error(name: &str, err: &ModelError) {
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")]}, {
        insta::assert_snapshot!(name, err.to_string());
    });
}

fn has_response_format(request: &Request) -> bool {
    serde_json::from_slice::<Value>(&request.body)
        .map(|body| body.get("response_format").is_some())
        .unwrap_or(false)
}

#[tokio::test]
async fn json_schema_answer_comes_back_with_usage_and_cost() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "test-model",
            "max_tokens": 512,
            "stream": false,
            "messages": [{"role": "system"}, {"role": "user"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "korean_summary", "strict": true}},
        })))
        .respond_with(ok("completion_json_schema.json"))
        .expect(1)
        .mount(&server)
        .await;
    let answer = answer(&client(settings(&server))).await;
    let content = answer.content.unwrap_or_default();
    assert!(
        content.starts_with("{\"whats_new\":\"튜닝 없이"),
        "{content}"
    );
    assert_eq!(answer.finish_reason, FinishReason::Stop);
    assert_eq!(
        answer.usage,
        Usage {
            prompt_tokens: 412,
            completion_tokens: 96,
            estimated: false
        }
    );
    let expected_cost = 412.0 * 0.15 / 1e6 + 96.0 * 0.60 / 1e6;
    assert!((answer.cost_usd - expected_cost).abs() < 1e-12);
    assert_eq!(answer.mode, OutputMode::JsonSchema);
    assert_eq!(answer.model, "gpt-4o-mini-2024-07-18");
    assert_eq!((answer.http_attempts, answer.retries_429), (1, 0));
    assert!(answer.refusal.is_none());
}

#[tokio::test]
async fn plain_markdown_answer_without_response_format_or_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .and(|r: &Request| !has_response_format(r) && !r.headers.contains_key("authorization"))
        .respond_with(ok("completion_markdown_llamacpp.json"))
        .expect(1)
        .mount(&server)
        .await;
    let model = client_with_key(
        ModelSettings {
            structured_output: false,
            ..settings(&server)
        },
        None,
    );
    let answer = answer(&model).await;
    assert_eq!(answer.mode, OutputMode::Plain);
    assert!(answer
        .content
        .is_some_and(|c| c.starts_with("- **What's New**: 새로운 방법(method)")));
    assert_eq!(answer.model, "smollm2");
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_before_the_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(fixture("error_rate_limit.json")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_json_schema.json"))
        .mount(&server)
        .await;
    let model = client(settings(&server));
    let started = Instant::now();
    let answer = answer(&model).await;
    // The backoff alone is at most 40 ms here, so reaching 1 s means Retry-After was obeyed.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((answer.http_attempts, answer.retries_429), (2, 1));
}

#[tokio::test]
async fn a_retry_after_too_large_for_a_duration_is_ignored_without_a_panic() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1e20")
                .set_body_json(fixture("error_rate_limit.json")),
        )
        .expect(3)
        .mount(&server)
        .await;
    // Past `Duration::MAX`: taken as no Retry-After at all, so the backoff paces the tries.
    let err = failure(&client(settings(&server))).await;
    assert!(
        matches!(err, ModelError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn repeated_500s_give_up_naming_the_attempts_and_last_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream model crashed"))
        .expect(3)
        .mount(&server)
        .await;
    let err = failure(&client(settings(&server))).await;
    assert!(
        matches!(err, ModelError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(!err.is_unreachable());
    snapshot_error("gave_up_after_500s", &err);
}

#[tokio::test]
async fn timeouts_are_retried_then_give_up() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_json_schema.json").set_delay(Duration::from_secs(3)))
        .expect(2)
        .mount(&server)
        .await;
    let model = client(ModelSettings {
        request_timeout: Duration::from_millis(200),
        max_retries: 1,
        ..settings(&server)
    });
    let err = failure(&model).await;
    assert!(
        matches!(err, ModelError::GaveUp { attempts: 2, .. }),
        "{err:?}"
    );
    snapshot_error("gave_up_after_timeouts", &err);
}

#[tokio::test]
async fn finish_reason_length_passes_through() {
    let server = MockServer::start().await;
    let mut body = fixture("completion_json_schema.json");
    body["choices"][0]["finish_reason"] = json!("length");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let answer = answer(&client(settings(&server))).await;
    assert_eq!(answer.finish_reason, FinishReason::Length);
}

#[tokio::test]
async fn unknown_finish_reason_and_missing_object_and_usage_are_tolerated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_minimal_eos.json"))
        .mount(&server)
        .await;
    let answer = answer(&client(settings(&server))).await;
    assert_eq!(
        answer.finish_reason,
        FinishReason::Other("eos_token".to_string())
    );
    assert!(answer.usage.estimated);
    assert!(answer.usage.prompt_tokens > 20, "{:?}", answer.usage);
    assert!(answer.usage.completion_tokens > 0, "{:?}", answer.usage);
    assert!(answer.cost_usd > 0.0);
    assert_eq!(answer.model, "local-gguf");
}

#[tokio::test]
async fn integer_error_code_on_400_is_rejected_with_the_servers_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error_integer_code.json")))
        .expect(1)
        .mount(&server)
        .await;
    let model = client(ModelSettings {
        structured_output: false,
        ..settings(&server)
    });
    let err = failure(&model).await;
    assert!(
        matches!(err, ModelError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    snapshot_error("rejected_integer_code", &err);
}

#[tokio::test]
async fn a_400_in_every_format_is_rejected_and_the_format_is_not_downgraded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error_integer_code.json")))
        .expect(8)
        .mount(&server)
        .await;
    let model = client(settings(&server));
    for _ in 0..2 {
        let err = failure(&model).await;
        assert!(
            matches!(err, ModelError::Rejected { status: 400, .. }),
            "{err:?}"
        );
    }
    let requests = server.received_requests().await.unwrap_or_default();
    let formats: Vec<Value> = requests
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).map_or(Value::Null, |b| {
                b.get("response_format")
                    .map_or(Value::Null, |f| f["type"].clone())
            })
        })
        .collect();
    // Both calls walk the whole ladder: a 400 the plain request also gets is not about the format.
    let ladder = [
        json!("json_schema"),
        json!("json_object"),
        json!("json_object"),
        Value::Null,
    ];
    assert_eq!(formats, [ladder.clone(), ladder].concat());
}

#[tokio::test]
async fn a_refusal_is_returned_with_null_content() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_refusal.json"))
        .mount(&server)
        .await;
    let answer = answer(&client(settings(&server))).await;
    assert_eq!(answer.content, None);
    assert_eq!(
        answer.refusal.as_deref(),
        Some("I'm sorry, I can't help with that request.")
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn llama_cpp_500_naming_response_format_falls_back_to_json_object_and_warns_once() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"response_format": {"type": "json_schema"}}),
        ))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(fixture("error_llamacpp_response_format.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"response_format": {"type": "json_object"}}),
        ))
        .and(|r: &Request| {
            serde_json::from_slice::<Value>(&r.body)
                .is_ok_and(|b| b["response_format"]["schema"]["required"].is_array())
        })
        .respond_with(ok("completion_markdown_llamacpp.json"))
        .expect(3)
        .mount(&server)
        .await;
    let model = client(settings(&server));
    let first = answer(&model).await;
    assert_eq!(first.mode, OutputMode::JsonObject);
    assert_eq!(first.http_attempts, 2, "the fallback spent no retry");
    for _ in 0..2 {
        let later = answer(&model).await;
        assert_eq!(
            (later.mode, later.http_attempts),
            (OutputMode::JsonObject, 1)
        );
    }
    let logs = logs.text();
    assert_eq!(
        logs.matches("for the rest of this run").count(),
        1,
        "{logs}"
    );
    assert!(
        logs.contains("Input should be 'text' or 'json_object'"),
        "{logs}"
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error_invalid_key.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = failure(&client(settings(&server))).await;
    assert!(
        matches!(err, ModelError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    snapshot_error("rejected_401", &err);
}

#[tokio::test]
async fn quota_429_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(fixture("error_quota.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = failure(&client(settings(&server))).await;
    assert!(matches!(err, ModelError::QuotaExhausted { .. }), "{err:?}");
    snapshot_error("quota_exhausted", &err);
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port()
    };
    let model = client(ModelSettings {
        base_url: url(&format!("http://127.0.0.1:{port}/v1")),
        max_retries: 1,
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(10),
        ..crate::common::defaults().model
    });
    let err = failure(&model).await;
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        matches!(&err, ModelError::Unreachable { url, .. } if url == &format!("http://127.0.0.1:{port}/v1/chat/completions")),
        "{err:?}"
    );
    assert!(err.to_string().contains("(2 attempts)"), "{err}");
}

#[tokio::test]
async fn api_key_echoed_by_the_server_is_redacted_everywhere() {
    let server = MockServer::start().await;
    let echo = format!("Invalid header: Authorization: Bearer {KEY}");
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"message": echo, "code": 403}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string(format!("proxy saw key {KEY}")))
        .mount(&server)
        .await;
    let model = client(settings(&server));
    let rejected = failure(&model).await;
    let gave_up = failure(&model).await;
    for err in [&rejected, &gave_up] {
        let shown = format!("{err} | {err:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }
    assert!(matches!(rejected, ModelError::Rejected { status: 403, .. }));
    assert!(!format!("{model:?}").contains(KEY));
}

#[tokio::test]
async fn empty_choices_are_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "chat.completion", "choices": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = failure(&client(settings(&server))).await;
    assert!(matches!(err, ModelError::Malformed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"))
        .mount(&server)
        .await;
    let err = failure(&client(settings(&server))).await;
    assert!(
        matches!(&err, ModelError::Malformed { message } if message.contains("<html>captive portal")),
        "{err:?}"
    );
}

/// Regression: a garbled 200 body used to fail the paper for the whole run; it is a glitch, asked again.
#[tokio::test]
async fn a_malformed_body_is_retried_like_a_transient_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"choices\": [{\"mess"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_json_schema.json"))
        .mount(&server)
        .await;
    let answer = answer(&client(settings(&server))).await;
    assert_eq!(answer.http_attempts, 2);
    assert!(answer.content.is_some());
}

#[tokio::test]
async fn exhausted_ratelimit_headers_hold_the_next_request_until_reset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ok("completion_json_schema.json")
                .insert_header("x-ratelimit-remaining-requests", "0")
                .insert_header("x-ratelimit-reset-requests", "1s"),
        )
        .mount(&server)
        .await;
    let model = client(settings(&server));
    answer(&model).await;
    let started = Instant::now();
    answer(&model).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn concurrency_one_sends_one_request_at_a_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("completion_json_schema.json").set_delay(Duration::from_millis(300)))
        .expect(2)
        .mount(&server)
        .await;
    let model = client(ModelSettings {
        max_concurrency: 1,
        ..settings(&server)
    });
    let started = Instant::now();
    let (a, b) = tokio::join!(model.complete(request()), model.complete(request()));
    assert!(a.is_ok() && b.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}
