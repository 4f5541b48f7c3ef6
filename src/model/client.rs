//! [`OpenAiCompatible`]: one chat endpoint (OpenAI, vLLM, Ollama, llama.cpp…) behind [`ChatModel`],
//! with retries, pacing, an adaptive number of requests in flight and a `response_format` fallback
//! ladder. Every wait (backoff, rate limit, a free slot) ends at once when the run is cancelled; a
//! request already sent is always answered and counted.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::Client;
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::error::{redact, ModelError};
use super::key::ApiKey;
use super::limits::Limiter;
use super::settings::ModelSettings;
use super::tokens;
use super::transport::{error_chain, Exchange, ExchangeError, HttpFailure, Transport};
use super::types::{ChatAnswer, ChatRequest, FinishReason, Usage};
use super::window::Window;
use super::wire::{clip, request_body, Completion, Format, WireUsage};
use super::ChatModel;

/// Chat client for any server speaking OpenAI's `/chat/completions`.
pub struct OpenAiCompatible {
    client: Client<OpenAIConfig>,
    settings: ModelSettings,
    /// Kept to redact it from error messages.
    api_key: Option<ApiKey>,
    endpoint: String,
    limiter: Arc<Limiter>,
    window: Window,
    /// The strictest [`Format`] the server is known to accept; only ever moves down the ladder.
    format: AtomicU8,
    /// Prompt tokens the server counts per token of our estimate (at least 1; see [`Self::learn_prompt_scale`]).
    prompt_scale: Mutex<f64>,
    cancel: CancellationToken,
}

/// A server counting more than this many prompt tokens per token of ours is misreporting.
const MAX_PROMPT_SCALE: f64 = 4.0;

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .field("format", &self.current_format())
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// A client over HTTP. `cancel` ends every wait of every request (the run is shutting down).
    pub fn new(
        settings: ModelSettings,
        api_key: Option<ApiKey>,
        cancel: CancellationToken,
    ) -> Result<Self, ModelError> {
        let http = http_client(&settings)?;
        let exchange = Arc::new(http.clone());
        Ok(Self::build(settings, api_key, cancel, exchange, http))
    }

    /// A client whose requests go through `exchange` (tests script the server with it).
    pub fn with_exchange(
        settings: ModelSettings,
        api_key: Option<ApiKey>,
        cancel: CancellationToken,
        exchange: Arc<dyn Exchange>,
    ) -> Result<Self, ModelError> {
        let http = http_client(&settings)?;
        Ok(Self::build(settings, api_key, cancel, exchange, http))
    }

    /// `http` only builds async-openai's requests; `exchange` sends them.
    fn build(
        settings: ModelSettings,
        api_key: Option<ApiKey>,
        cancel: CancellationToken,
        exchange: Arc<dyn Exchange>,
        http: reqwest::Client,
    ) -> Self {
        let limiter = Arc::new(Limiter::new(
            settings.requests_per_minute.map(u32::from),
            settings.tokens_per_minute.map(u32::from),
            settings.max_retry_after,
        ));
        let endpoint = settings.endpoint();
        let base_url = endpoint.trim_end_matches("/chat/completions").to_string();
        // Org and project are set explicitly so OPENAI_* variables in the environment are ignored.
        let config = OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(
                api_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_string())
                    .unwrap_or_default(),
            )
            .with_org_id("")
            .with_project_id("");
        let transport = Transport::new(
            exchange,
            Arc::clone(&limiter),
            settings.request_timeout,
            settings.max_response_bytes,
            api_key.clone(),
        );
        let client = Client::build(http, config).with_http_service(transport);
        let start = if settings.structured_output {
            Format::JsonSchema
        } else {
            Format::Plain
        };
        OpenAiCompatible {
            client,
            api_key,
            endpoint,
            limiter,
            window: Window::new(settings.max_concurrency),
            format: AtomicU8::new(start as u8),
            prompt_scale: Mutex::new(1.0),
            cancel,
            settings,
        }
    }

    fn current_format(&self) -> Format {
        Format::from_u8(self.format.load(Ordering::SeqCst))
    }

    /// Tokens the limiter reserves for a request whose prompt we count as `prompt_tokens`: the
    /// prompt plus the whole `max_tokens`, which is what OpenAI-style servers charge against their
    /// tokens/min limit when they admit a request.
    fn reservation(&self, prompt_tokens: u64) -> u64 {
        let scale = *self
            .prompt_scale
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (prompt_tokens as f64 * scale).ceil() as u64 + u64::from(self.settings.max_output_tokens)
    }

    /// Servers count prompts with their own tokenizer or estimate (the mock, like rate limiters,
    /// counts bytes / 4). Reserving less than the server charges let the client run into the
    /// server's tokens/min limit at full pace, so the largest ratio the server reported is kept.
    fn learn_prompt_scale(&self, estimated: u64, reported: u64) {
        if estimated == 0 {
            return;
        }
        let ratio = (reported as f64 / estimated as f64).clamp(1.0, MAX_PROMPT_SCALE);
        let mut scale = self
            .prompt_scale
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *scale = scale.max(ratio);
    }

    async fn with_retries(
        &self,
        request: &ChatRequest,
        counted: Option<u64>,
        tally: &Tally,
    ) -> Result<(Completion, Format), AttemptError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.backoff_initial)
            .with_max_delay(self.settings.backoff_max)
            .with_max_times(self.settings.max_retries as usize)
            .with_jitter();
        let cancel = self.cancel.clone();
        (|| self.attempt(request, counted, tally))
            .retry(backoff)
            .sleep(move |wait| {
                let cancel = cancel.clone();
                // A cancelled backoff ends at once; the next attempt then sees the cancellation.
                async move {
                    let _ = super::limits::sleep(wait, &cancel).await;
                }
            })
            .when(AttemptError::is_transient)
            .adjust(|err, delay| {
                let wait = delay?.max(err.retry_after().unwrap_or_default());
                if err.is_rate_limit() {
                    // Everyone backs off, not just this request: the limit is per account.
                    self.limiter.pause_for(wait);
                }
                Some(wait)
            })
            .notify(|err, wait| {
                tracing::warn!(
                    paper = %request.paper,
                    error = %self.redact(&err.to_string()),
                    wait_secs = wait.as_secs_f64(),
                    "model call failed; retrying"
                );
            })
            .await
    }

    /// One attempt: walks down the `response_format` ladder while the server rejects it, which
    /// costs HTTP requests but no retry.
    async fn attempt(
        &self,
        request: &ChatRequest,
        counted: Option<u64>,
        tally: &Tally,
    ) -> Result<(Completion, Format), AttemptError> {
        if self.cancel.is_cancelled() {
            return Err(AttemptError::Cancelled);
        }
        tally.attempts.fetch_add(1, Ordering::SeqCst);
        let _slot = self
            .window
            .slot(&self.cancel)
            .await
            .map_err(|_| AttemptError::Cancelled)?;
        let start = self.current_format();
        let mut format = start;
        let mut first_rejection: Option<String> = None;
        loop {
            // Reserved at the latest learned scale (see `learn_prompt_scale`).
            let estimate = counted.map_or(0, |prompt| self.reservation(prompt));
            self.limiter
                .wait_turn(estimate, &self.cancel)
                .await
                .map_err(|_| AttemptError::Cancelled)?;
            tally.http_attempts.fetch_add(1, Ordering::SeqCst);
            let body = request_body(&self.settings, &request.messages, format, request.answer);
            let result: Result<Completion, OpenAIError> =
                self.client.chat().create_byot(body).await;
            if let Ok(completion) = &result {
                let reported = completion.usage.as_ref().and_then(|u| u.prompt_tokens);
                if let (Some(reported), Some(counted)) = (reported, counted) {
                    self.learn_prompt_scale(counted, reported);
                }
            }
            // Whatever came back, the first request has shown what the server allows (its headers
            // and how it counts a prompt are learned by now).
            self.limiter.learned();
            let err = match result {
                Ok(completion) => {
                    self.window.answered();
                    if let Some(words) = first_rejection {
                        self.settle(format, &words);
                    }
                    return Ok((completion, format));
                }
                Err(e) => AttemptError::from_openai(
                    self.without_key(e),
                    &self.endpoint,
                    self.settings.request_timeout,
                ),
            };
            if let Some(wait) = err
                .retry_after()
                .filter(|w| *w > self.settings.max_retry_after)
            {
                return Err(AttemptError::WaitTooLong {
                    url: self.endpoint.clone(),
                    wait,
                    limit: self.settings.max_retry_after,
                });
            }
            if err.is_overload() {
                self.window.overloaded();
            }
            if err.status() == Some(429) {
                tally.retries_429.fetch_add(1, Ordering::SeqCst);
            }
            match format.next().filter(|_| err.rejects_response_format()) {
                Some(next) => {
                    first_rejection.get_or_insert_with(|| err.to_string());
                    format = next;
                }
                None => {
                    if matches!(err, AttemptError::Connect { .. }) {
                        tally.connect_failures.fetch_add(1, Ordering::SeqCst);
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Remembers that only `format` (or less) works, once a request in that format succeeded.
    fn settle(&self, format: Format, server_said: &str) {
        let previous = Format::from_u8(self.format.fetch_max(format as u8, Ordering::SeqCst));
        if previous < format {
            tracing::warn!(
                model = %self.settings.model,
                from = previous.describe(),
                to = format.describe(),
                server_said = %self.redact(server_said),
                "model server rejected {}; using {} for the rest of this run",
                previous.describe(),
                format.describe(),
            );
        }
    }

    fn answer(
        &self,
        completion: Completion,
        format: Format,
        request: &ChatRequest,
        counted: Option<u64>,
        tally: &Tally,
    ) -> Result<ChatAnswer, ModelError> {
        let Some(choice) = completion.choices.and_then(|c| c.into_iter().next()) else {
            let said = completion
                .error
                .map(|e| {
                    format!(
                        " (the body carries an error: {})",
                        clip(&self.redact(&e.to_string()), 300)
                    )
                })
                .unwrap_or_default();
            return Err(ModelError::Malformed {
                message: format!("no choices in the answer from {}{said}", self.endpoint),
            });
        };
        let content = choice.message.as_ref().and_then(|m| m.text());
        let refusal = choice.message.and_then(|m| m.refusal);
        let answered = content.as_deref().or(refusal.as_deref()).unwrap_or("");
        let usage = usage_or_estimate(completion.usage, answered, || {
            counted.unwrap_or_else(|| tokens::count_messages(&request.messages) as u64)
        });
        let cost_usd = self
            .settings
            .cost_usd(usage.prompt_tokens, usage.completion_tokens);
        Ok(ChatAnswer {
            content,
            refusal,
            finish_reason: FinishReason::from_wire(choice.finish_reason.as_deref()),
            usage,
            cost_usd,
            mode: format.mode(),
            model: completion
                .model
                .unwrap_or_else(|| self.settings.model.clone()),
            http_attempts: tally.http_attempts.load(Ordering::SeqCst),
            retries_429: tally.retries_429.load(Ordering::SeqCst),
        })
    }

    fn final_error(&self, err: AttemptError, tally: &Tally) -> ModelError {
        let attempts = tally.attempts.load(Ordering::SeqCst);
        match err {
            AttemptError::Cancelled => ModelError::Cancelled,
            AttemptError::WaitTooLong { url, wait, limit } => ModelError::WaitTooLong {
                url,
                wait_secs: wait.as_secs_f64(),
                limit_secs: limit.as_secs_f64(),
            },
            err @ AttemptError::TooLarge { .. } => ModelError::Malformed {
                message: err.to_string(),
            },
            AttemptError::Http(failure) if failure.is_quota() => ModelError::QuotaExhausted {
                message: failure.error.describe(),
            },
            AttemptError::Http(failure) if !is_transient_status(failure.status) => {
                ModelError::Rejected {
                    status: failure.status,
                    message: failure.error.describe(),
                }
            }
            AttemptError::Malformed(message) => ModelError::Malformed { message },
            AttemptError::Connect { message, .. }
                if tally.connect_failures.load(Ordering::SeqCst) == attempts =>
            {
                ModelError::Unreachable {
                    url: self.endpoint.clone(),
                    message: format!("{message} ({attempts} attempts)"),
                }
            }
            last => ModelError::GaveUp {
                attempts,
                last: last.to_string(),
            },
        }
    }

    fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => redact(text, key.expose_secret()),
            None => text.to_string(),
        }
    }

    /// A 2xx body that is not JSON is quoted, clipped, in the error: the key goes first, since a
    /// clip could cut it in half and leave a prefix no later redaction recognises.
    fn without_key(&self, err: OpenAIError) -> OpenAIError {
        match err {
            OpenAIError::JSONDeserialize(e, body) => {
                OpenAIError::JSONDeserialize(e, self.redact(&body))
            }
            other => other,
        }
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatible {
    async fn complete(&self, request: ChatRequest) -> Result<ChatAnswer, ModelError> {
        // Counting costs CPU on every request: done only when a tokens/min limit needs it.
        let counted = self
            .limiter
            .counts_tokens()
            .then(|| tokens::count_messages(&request.messages) as u64);
        let tally = Tally::default();
        tracing::debug!(paper = %request.paper, "calling the model");
        match self.with_retries(&request, counted, &tally).await {
            Ok((completion, format)) => self.answer(completion, format, &request, counted, &tally),
            Err(err) => Err(self.final_error(err, &tally)),
        }
        .map_err(|e| e.redacted(self.api_key.as_ref().map(|k| k.expose_secret())))
    }

    fn model_name(&self) -> &str {
        &self.settings.model
    }
}

/// Counters of one `complete` call, shared by its attempts.
#[derive(Default)]
struct Tally {
    attempts: AtomicU32,
    http_attempts: AtomicU32,
    retries_429: AtomicU32,
    connect_failures: AtomicU32,
}

/// What went wrong with one HTTP request, before deciding whether to retry.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Http(HttpFailure),
    #[error("no answer from {url} within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("could not connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("{0}")]
    Malformed(String),
    #[error("the run is shutting down")]
    Cancelled,
    #[error("{url} asks to wait {wait:?} before asking again, more than the {limit:?} allowed")]
    WaitTooLong {
        url: String,
        wait: Duration,
        limit: Duration,
    },
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

impl AttemptError {
    fn from_openai(err: OpenAIError, url: &str, timeout: Duration) -> AttemptError {
        let url = url.to_string();
        match err {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
                Ok(failure) => AttemptError::Http(*failure),
                Err(other) => match other.downcast::<ExchangeError>() {
                    Ok(exchange) => match *exchange {
                        ExchangeError::TooLarge { limit } => AttemptError::TooLarge { url, limit },
                        ExchangeError::Connect(message) => AttemptError::Connect { url, message },
                        ExchangeError::Timeout => AttemptError::Timeout {
                            url,
                            after: timeout,
                        },
                        ExchangeError::Other(message) => AttemptError::Transport { url, message },
                    },
                    Err(other) => AttemptError::Transport {
                        url,
                        message: error_chain(other.as_ref()),
                    },
                },
            },
            // Connect before timeout: a connect timeout means nobody answered at all.
            OpenAIError::Reqwest(e) if e.is_connect() => AttemptError::Connect {
                url,
                message: error_chain(&e),
            },
            OpenAIError::Reqwest(e) if e.is_timeout() => AttemptError::Timeout {
                url,
                after: timeout,
            },
            OpenAIError::Reqwest(e) => AttemptError::Transport {
                url,
                message: error_chain(&e),
            },
            OpenAIError::JSONDeserialize(e, body) => {
                AttemptError::Malformed(format!("{e}; the body starts: {}", clip(body.trim(), 300)))
            }
            other => AttemptError::Malformed(other.to_string()),
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            AttemptError::Http(failure) => Some(failure.status),
            _ => None,
        }
    }

    fn is_transient(&self) -> bool {
        match self {
            AttemptError::Http(failure) => {
                !failure.is_quota() && is_transient_status(failure.status)
            }
            // A garbled 2xx body is a glitch between us and the model (a proxy, a cut stream), not
            // an answer: asking again is the only way to get one.
            AttemptError::Timeout { .. }
            | AttemptError::Connect { .. }
            | AttemptError::Transport { .. }
            | AttemptError::Malformed(_) => true,
            AttemptError::Cancelled
            | AttemptError::WaitTooLong { .. }
            | AttemptError::TooLarge { .. } => false,
        }
    }

    /// The server is struggling (rate-limited, failing or too slow): fewer requests in flight.
    fn is_overload(&self) -> bool {
        match self {
            AttemptError::Http(failure) => {
                !failure.is_quota() && (failure.status == 429 || failure.status >= 500)
            }
            AttemptError::Timeout { .. } => true,
            _ => false,
        }
    }

    fn is_rate_limit(&self) -> bool {
        matches!(self, AttemptError::Http(failure) if failure.status == 429 && !failure.is_quota())
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Http(failure) => failure.retry_after,
            _ => None,
        }
    }

    /// 400/422 to a request with a `response_format`, or a 5xx that names it.
    fn rejects_response_format(&self) -> bool {
        match self {
            AttemptError::Http(failure) => {
                matches!(failure.status, 400 | 422)
                    || (failure.status >= 500 && failure.names_response_format())
            }
            _ => false,
        }
    }
}

fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// Usage as reported, with whatever the server left out counted by us (and marked estimated).
fn usage_or_estimate(
    reported: Option<WireUsage>,
    answer: &str,
    prompt_estimate: impl FnOnce() -> u64,
) -> Usage {
    let (prompt, completion) = reported
        .map(|u| (u.prompt_tokens, u.completion_tokens))
        .unwrap_or_default();
    Usage {
        prompt_tokens: prompt.unwrap_or_else(prompt_estimate),
        completion_tokens: completion.unwrap_or_else(|| tokens::count(answer) as u64),
        estimated: prompt.is_none() || completion.is_none(),
    }
}

fn http_client(settings: &ModelSettings) -> Result<reqwest::Client, ModelError> {
    reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout)
        .build()
        .map_err(|e| ModelError::InvalidSettings {
            message: format!("cannot build the HTTP client: {}", error_chain(&e)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ModelSettings {
        crate::settings::Settings::defaults()
            .unwrap_or_else(|e| panic!("{e}"))
            .model
    }

    #[test]
    fn missing_usage_is_estimated_and_marked() {
        let usage = usage_or_estimate(None, "hello world", || 120);
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 120,
                completion_tokens: 2,
                estimated: true
            }
        );
        let reported = WireUsage {
            prompt_tokens: Some(10),
            completion_tokens: Some(20),
        };
        assert!(!usage_or_estimate(Some(reported), "x", || 120).estimated);
    }

    /// bench/ratelimit.sh, matched limits: the mock counted ~10% more prompt tokens than our
    /// tiktoken estimate, so the limiter let requests go that the server's bucket could not take.
    #[test]
    fn limiter_reserved_fewer_prompt_tokens_than_the_server_counts() {
        let settings = ModelSettings {
            max_output_tokens: 1000,
            ..defaults()
        };
        let client = OpenAiCompatible::new(settings, None, CancellationToken::new())
            .unwrap_or_else(|e| panic!("default settings are valid: {e}"));
        assert_eq!(client.reservation(500), 1500);
        client.learn_prompt_scale(500, 550);
        assert_eq!(client.reservation(500), 1550);
        assert_eq!(client.reservation(1000), 2100);
        // A server counting fewer tokens does not lower the reservation, nor does nonsense raise it without bound.
        client.learn_prompt_scale(500, 100);
        assert_eq!(client.reservation(500), 1550);
        client.learn_prompt_scale(1, 1_000_000);
        assert_eq!(client.reservation(500), 3000);
        client.learn_prompt_scale(0, 10);
        assert_eq!(client.reservation(500), 3000);
    }
}
