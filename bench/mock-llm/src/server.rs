//! The HTTP side: accept loop, routing, and one chat request from admission to answer or fault.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::answer::{self, CompletionMeta, Ending, PaperPrompt};
use crate::faults::{Fault, FaultDice, Faults, PaperAnswer};

/// The paper a wrong answer describes: of another field, with its own names and figures.
const OTHER_TITLE: &str = "TideNet: Coastal Flood Forecasting with Graph Neural Networks";
const OTHER_ABSTRACT: &str = "We present TideNet, a graph neural network that forecasts coastal \
    flooding from the SEALEVEL-12 gauge network and the OCEANIA-4 reanalysis. TideNet lowers the \
    forecast error by 27% at a 48-hour horizon on the STORMSURGE benchmark.";
use crate::limits::Limits;
use crate::stats::Stats;
use crate::Latency;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub addr: SocketAddr,
    pub latency: Latency,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub faults: Faults,
    pub seed: u64,
    pub hold: Duration,
    pub retry_after: Duration,
    pub model: String,
}

impl Settings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.faults.validate()?;
        if self.requests_per_minute == Some(0) || self.tokens_per_minute == Some(0) {
            return Err("requests_per_minute and tokens_per_minute must be at least 1".to_string());
        }
        if let Latency::Uniform { min, max } = self.latency {
            if min > max {
                return Err(format!("latency range {min:?}..={max:?} is empty"));
            }
        }
        Ok(())
    }
}

/// Shared by every connection.
pub(crate) struct State {
    settings: Settings,
    dice: Mutex<FaultDice>,
    limits: Mutex<Limits>,
    stats: Mutex<Stats>,
}

/// Returned by the service to make hyper drop the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("mock-llm dropped the connection on purpose")]
pub(crate) struct Dropped;

type Answer = Result<Response<Full<Bytes>>, Dropped>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters and RNG state stay usable even if a holder panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub(crate) fn new(settings: Settings) -> Self {
        State {
            dice: Mutex::new(FaultDice::new(settings.faults, settings.seed)),
            limits: Mutex::new(Limits::new(
                settings.requests_per_minute,
                settings.tokens_per_minute,
            )),
            stats: Mutex::new(Stats::default()),
            settings,
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    async fn route(&self, request: Request<Incoming>) -> Answer {
        let path = request.uri().path().to_string();
        match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/chat/completions" | "/chat/completions") => {
                match request.into_body().collect().await {
                    Ok(body) => self.chat(&body.to_bytes()).await,
                    Err(_) => Err(Dropped),
                }
            }
            (&Method::GET, "/stats") => Ok(json_response(
                StatusCode::OK,
                &serde_json::to_value(self.stats()).unwrap_or_default(),
                &[],
            )),
            _ => Ok(json_response(
                StatusCode::NOT_FOUND,
                &answer::error_body(
                    &format!("mock-llm has no route {} {path}", request.method()),
                    "invalid_request_error",
                    None,
                ),
                &[],
            )),
        }
    }

    async fn chat(&self, body: &[u8]) -> Answer {
        let parsed: Option<(Value, PaperPrompt)> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| PaperPrompt::from_request(&v).map(|p| (v, p)));
        let Some((request, prompt)) = parsed else {
            lock(&self.stats).outcomes.bad_requests += 1;
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &answer::error_body(
                    "mock-llm: the body is not a chat request whose first user message holds <paper_title> and <abstract>",
                    "invalid_request_error",
                    None,
                ),
                &[],
            ));
        };
        let paper = prompt.id.clone().unwrap_or_else(|| "unknown".to_string());
        let sequence = {
            let mut stats = lock(&self.stats);
            stats.request(&paper);
            stats.requests
        };
        let prompt_tokens = answer::approx_tokens(&message_text(&request));
        let max_tokens = ["max_tokens", "max_completion_tokens"]
            .iter()
            .find_map(|k| request.get(*k).and_then(Value::as_u64));
        let admission = lock(&self.limits).admit(prompt_tokens + max_tokens.unwrap_or(0));
        if let Some(wait) = admission.refused_for {
            lock(&self.stats).outcomes.limited += 1;
            return Ok(rate_limited(wait, &admission.headers));
        }
        self.wait_latency().await;
        let fault = lock(&self.dice).roll();
        let model = request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(&self.settings.model);
        let meta = CompletionMeta {
            sequence,
            model,
            prompt_tokens,
            max_tokens,
        };
        let summary = answer::summary_for(&prompt.title, &prompt.abstract_text);
        let headers = lock(&self.limits).headers();
        let ok = |ending| {
            json_response(
                StatusCode::OK,
                &answer::completion(&meta, &summary, ending),
                &headers,
            )
        };
        let outcome = match fault {
            None => return Ok(self.answer(&paper, &meta, &summary, &headers)),
            Some(fault) => fault,
        };
        self.count(outcome);
        match outcome {
            Fault::RateLimited => Ok(rate_limited(self.settings.retry_after, &headers)),
            Fault::ServerError(status) => Ok(server_error(status)),
            Fault::Reset => Err(Dropped),
            Fault::Timeout => {
                tokio::time::sleep(self.settings.hold).await;
                Err(Dropped)
            }
            Fault::Malformed => {
                let full = answer::completion(&meta, &summary, Ending::Complete).to_string();
                let half: String = full.chars().take(full.chars().count() / 2).collect();
                Ok(raw_response(
                    StatusCode::OK,
                    half,
                    "application/json",
                    &headers,
                ))
            }
            Fault::Truncated => Ok(ok(Ending::Truncated)),
            Fault::Empty => Ok(ok(Ending::Empty)),
        }
    }

    /// The answer due when no fault was drawn: correct, or what this paper always gets instead.
    fn answer(
        &self,
        paper: &str,
        meta: &CompletionMeta<'_>,
        summary: &str,
        headers: &[(String, String)],
    ) -> Response<Full<Bytes>> {
        let kind = self.settings.faults.answer_for(paper, self.settings.seed);
        let content = match kind {
            PaperAnswer::Correct => {
                lock(&self.stats).delivered(paper);
                summary.to_string()
            }
            PaperAnswer::WrongPaper => {
                lock(&self.stats).outcomes.wrong_paper += 1;
                answer::summary_for(OTHER_TITLE, OTHER_ABSTRACT)
            }
            PaperAnswer::Linked => {
                lock(&self.stats).outcomes.linked += 1;
                answer::with_tracker_link(summary)
            }
        };
        json_response(
            StatusCode::OK,
            &answer::completion(meta, &content, Ending::Complete),
            headers,
        )
    }

    fn count(&self, fault: Fault) {
        let outcomes = &mut lock(&self.stats).outcomes;
        let counter = match fault {
            Fault::RateLimited => &mut outcomes.rate_limited,
            Fault::ServerError(_) => &mut outcomes.server_errors,
            Fault::Reset => &mut outcomes.resets,
            Fault::Timeout => &mut outcomes.timeouts,
            Fault::Malformed => &mut outcomes.malformed,
            Fault::Truncated => &mut outcomes.truncated,
            Fault::Empty => &mut outcomes.empty,
        };
        *counter += 1;
    }

    async fn wait_latency(&self) {
        let wait = match self.settings.latency {
            Latency::Fixed(wait) => wait,
            Latency::Uniform { min, max } => {
                let millis =
                    lock(&self.dice).between(min.as_millis() as u64, max.as_millis() as u64);
                Duration::from_millis(millis)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// All message text of a request, for the prompt token estimate.
fn message_text(request: &Value) -> String {
    request
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m.get("content").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn rate_limited(wait: Duration, headers: &[(String, String)]) -> Response<Full<Bytes>> {
    let mut all = headers.to_vec();
    all.push(("retry-after-ms".to_string(), wait.as_millis().to_string()));
    all.push((
        "retry-after".to_string(),
        wait.as_secs_f64().ceil().to_string(),
    ));
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &answer::error_body(
            &format!(
                "Rate limit reached for mock-llm. Please try again in {}ms.",
                wait.as_millis()
            ),
            "requests",
            Some("rate_limit_exceeded"),
        ),
        &all,
    )
}

/// The bodies OpenAI and the proxies in front of it send.
fn server_error(status: u16) -> Response<Full<Bytes>> {
    match status {
        502 => raw_response(
            StatusCode::BAD_GATEWAY,
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n".to_string(),
            "text/html",
            &[],
        ),
        503 => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &answer::error_body(
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            ),
            &[],
        ),
        _ => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &answer::error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            ),
            &[],
        ),
    }
}

fn json_response(
    status: StatusCode,
    body: &Value,
    headers: &[(String, String)],
) -> Response<Full<Bytes>> {
    raw_response(status, body.to_string(), "application/json", headers)
}

fn raw_response(
    status: StatusCode,
    body: String,
    content_type: &'static str,
    headers: &[(String, String)],
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    response
}

/// Serves until `stopped` turns true; then open connections (held requests too) are dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                // Accept errors (too many open files) are transient for a test server: try again.
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { state.route(request).await }
                    });
                    // A dropped connection is an error for hyper and the point for us.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        }
    }
    connections.shutdown().await;
}
