//! The chat client's waits on a paused clock, against a scripted server (no network): Retry-After,
//! a stop during a backoff, the server's announced rate limits, the probe before a burst when limits
//! are configured, and fewer requests in flight while the server is overloaded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use paper_digest::model::{
    ChatModel, ChatRequest, Exchange, ExchangeError, ModelError, ModelSettings, OpenAiCompatible,
};
use paper_digest::prompt::{ChatMessage, Role};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One scripted response: status, headers, how long the server takes.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

fn ok_after(delay: Duration) -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        delay,
    }
}

fn status(status: u16, headers: &[(&'static str, &str)]) -> Reply {
    Reply {
        status,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        delay: Duration::ZERO,
    }
}

/// Plays its replies in order (the last repeats); records when each request arrived and how many
/// were in flight at most.
#[derive(Default)]
struct ScriptedServer {
    replies: Mutex<VecDeque<Reply>>,
    arrivals: Mutex<Vec<Duration>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    started: Mutex<Option<Instant>>,
}

impl ScriptedServer {
    fn new(replies: impl IntoIterator<Item = Reply>) -> Arc<Self> {
        Arc::new(ScriptedServer {
            replies: Mutex::new(replies.into_iter().collect()),
            started: Mutex::new(Some(Instant::now())),
            ..ScriptedServer::default()
        })
    }

    fn arrivals(&self) -> Vec<Duration> {
        self.arrivals.lock().unwrap().clone()
    }
}

const COMPLETION: &str = r#"{"model":"scripted","choices":[{"message":{"role":"assistant","content":"{\"whats_new\":\"a\",\"technical_details\":\"b\",\"performance_highlights\":\"c\"}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":50}}"#;

#[async_trait]
impl Exchange for ScriptedServer {
    async fn send(&self, _request: reqwest::Request) -> Result<reqwest::Response, ExchangeError> {
        let started = self.started.lock().unwrap().unwrap_or_else(Instant::now);
        self.arrivals.lock().unwrap().push(started.elapsed());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let reply = {
            let mut replies = self.replies.lock().unwrap();
            if replies.len() > 1 {
                replies.pop_front()
            } else {
                replies.front().cloned()
            }
        }
        .unwrap_or_else(|| ok_after(Duration::ZERO));
        tokio::time::sleep(reply.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let body = if reply.status == 200 {
            COMPLETION.to_string()
        } else {
            r#"{"error":{"message":"scripted failure","type":"server_error"}}"#.to_string()
        };
        let mut response = http::Response::builder()
            .status(reply.status)
            .header("content-type", "application/json");
        for (name, value) in &reply.headers {
            response = response.header(*name, value.as_str());
        }
        let response = response
            .body(body)
            .map_err(|e| ExchangeError::Other(e.to_string()))?;
        Ok(reqwest::Response::from(response))
    }
}

fn settings() -> ModelSettings {
    ModelSettings {
        base_url: "http://scripted.test/v1".parse().unwrap(),
        model: "scripted".to_string(),
        max_retries: 3,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        request_timeout: Duration::from_secs(120),
        requests_per_minute: None,
        tokens_per_minute: None,
        max_concurrency: 8,
        ..crate::common::defaults().model
    }
}

fn client(
    settings: ModelSettings,
    server: &Arc<ScriptedServer>,
    cancel: &CancellationToken,
) -> Arc<OpenAiCompatible> {
    Arc::new(
        OpenAiCompatible::with_exchange(settings, None, cancel.clone(), server.clone())
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn request() -> ChatRequest {
    ChatRequest::summary(
        "2409.13346".parse().unwrap(),
        vec![ChatMessage::new(
            Role::User,
            "<abstract>A paper.</abstract>",
        )],
    )
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_out_before_the_retry() {
    let server = ScriptedServer::new([
        status(429, &[("retry-after", "20")]),
        ok_after(Duration::ZERO),
    ]);
    let model = client(settings(), &server, &CancellationToken::new());
    let answer = model.complete(request()).await.unwrap();
    assert_eq!(answer.http_attempts, 2);
    assert_eq!(answer.retries_429, 1);
    let arrivals = server.arrivals();
    assert!(arrivals[1] >= Duration::from_secs(20), "{arrivals:?}");
}

/// SIGTERM while a request waits out a long Retry-After: the wait ends at once, nothing more is sent.
#[tokio::test(start_paused = true)]
async fn a_stop_during_a_backoff_ends_the_call_at_once() {
    let server = ScriptedServer::new([status(429, &[("retry-after", "200")])]);
    let cancel = CancellationToken::new();
    let model = client(settings(), &server, &cancel);
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            cancel.cancel();
        })
    };
    let started = Instant::now();
    let error = model.complete(request()).await.unwrap_err();
    stopper.await.unwrap();
    assert_eq!(error, ModelError::Cancelled);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_limit_the_server_announces_paces_the_requests_without_any_configured() {
    // One request per second: the server says it has none left and resets in a second.
    let server = ScriptedServer::new([Reply {
        status: 200,
        headers: vec![
            ("x-ratelimit-limit-requests", "60".to_string()),
            ("x-ratelimit-remaining-requests", "0".to_string()),
            ("x-ratelimit-reset-requests", "1s".to_string()),
        ],
        delay: Duration::ZERO,
    }]);
    let model = client(settings(), &server, &CancellationToken::new());
    for _ in 0..4 {
        model.complete(request()).await.unwrap();
    }
    let arrivals = server.arrivals();
    for pair in arrivals.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_secs(1), "{arrivals:?}");
    }
}

/// With a configured limit, the first request goes alone: a burst only follows once the server's
/// headers could correct the client's view (the burst of the adaptive rate-limit bench drew 429s).
#[tokio::test(start_paused = true)]
async fn with_a_configured_limit_the_first_request_goes_alone() {
    let server = ScriptedServer::new([ok_after(Duration::from_secs(2))]);
    let mut settings = settings();
    settings.tokens_per_minute = std::num::NonZeroU32::new(1_000_000);
    let model = client(settings, &server, &CancellationToken::new());
    let calls = (0..6).map(|_| {
        let model = Arc::clone(&model);
        tokio::spawn(async move { model.complete(request()).await })
    });
    for call in futures::future::join_all(calls).await {
        assert!(call.unwrap().is_ok());
    }
    let arrivals = server.arrivals();
    assert_eq!(arrivals[0], Duration::ZERO);
    assert!(
        arrivals[1..].iter().all(|at| *at >= Duration::from_secs(2)),
        "{arrivals:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_configured_limits_requests_go_at_once_up_to_the_maximum() {
    let server = ScriptedServer::new([ok_after(Duration::from_secs(2))]);
    let model = client(settings(), &server, &CancellationToken::new());
    let calls = (0..12).map(|_| {
        let model = Arc::clone(&model);
        tokio::spawn(async move { model.complete(request()).await })
    });
    futures::future::join_all(calls).await;
    assert_eq!(server.most_in_flight.load(Ordering::SeqCst), 8);
    let arrivals = server.arrivals();
    assert_eq!(arrivals.iter().filter(|at| at.is_zero()).count(), 8);
}

/// 503s and 429s are signs of overload: fewer requests in flight until the server answers well.
#[tokio::test(start_paused = true)]
async fn an_overloaded_server_gets_fewer_requests_in_flight() {
    let mut replies = vec![status(503, &[]); 8];
    replies.push(ok_after(Duration::from_secs(1)));
    let server = ScriptedServer::new(replies);
    let model = client(settings(), &server, &CancellationToken::new());
    let calls = (0..8).map(|_| {
        let model = Arc::clone(&model);
        tokio::spawn(async move { model.complete(request()).await })
    });
    let started = Instant::now();
    futures::future::join_all(calls).await;
    // The first eight failed together; the retries went out at most four at a time.
    let arrivals = server.arrivals();
    let retries: Vec<_> = arrivals[8..].to_vec();
    assert_eq!(retries.len(), 8, "{arrivals:?}");
    let first_wave = retries
        .iter()
        .filter(|at| **at < retries[0] + Duration::from_millis(500))
        .count();
    assert!(first_wave <= 4, "{arrivals:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
}

/// Bodies were read whole, however large: an answer over `max_response_bytes` is refused, naming the
/// server and the limit, and not asked for again.
#[tokio::test]
async fn an_answer_larger_than_the_limit_is_refused() {
    struct Huge;
    #[async_trait]
    impl Exchange for Huge {
        async fn send(&self, _: reqwest::Request) -> Result<reqwest::Response, ExchangeError> {
            let body = format!(
                r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
                "가".repeat(100_000)
            );
            Ok(reqwest::Response::from(http::Response::new(body)))
        }
    }
    let settings = ModelSettings {
        max_response_bytes: 64 * 1024,
        ..settings()
    };
    let model =
        OpenAiCompatible::with_exchange(settings, None, CancellationToken::new(), Arc::new(Huge))
            .unwrap_or_else(|e| panic!("{e}"));
    let error = model.complete(request()).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("larger than 65536 bytes"), "{text}");
    assert!(
        text.contains("http://scripted.test/v1/chat/completions"),
        "{text}"
    );
}
