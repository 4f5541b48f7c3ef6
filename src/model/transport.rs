//! The tower service async-openai sends through: our reqwest client (our timeouts), our view of
//! rate-limit headers, and non-2xx answers turned into [`HttpFailure`] before async-openai's own
//! strict error parsing (which rejects integer `code`s) ever sees them.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_trait::async_trait;
use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use secrecy::ExposeSecret;

use super::error::redact;
use super::key::ApiKey;
use super::limits::{header, Limiter};
use super::wire::{clip, ApiError};

/// A non-2xx answer: status, what the server said, and when it asked us to come back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("HTTP {status} from {url}: {}", .error.describe())]
pub(crate) struct HttpFailure {
    pub url: String,
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub error: ApiError,
    /// The start of the raw body, for the server's own words when `error` could not be parsed.
    body: String,
}

impl HttpFailure {
    /// Whether the server complained about `response_format` (llama.cpp does so with a 500).
    pub(crate) fn names_response_format(&self) -> bool {
        let body = self.body.to_ascii_lowercase();
        ["response_format", "json_schema"]
            .iter()
            .any(|word| body.contains(word))
    }

    pub(crate) fn is_quota(&self) -> bool {
        self.status == 402 || (self.status == 429 && self.error.is_insufficient_quota())
    }
}

/// Sends one request and brings back the response: reqwest in production; tests script it to drive
/// the client's retries, pacing and shutdown on a paused clock without a network.
#[async_trait]
pub trait Exchange: Send + Sync {
    async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, ExchangeError>;
}

/// Why no response came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// Nobody answered at the address (refused, DNS, connect timeout).
    #[error("{0}")]
    Connect(String),
    /// The server took longer than the request timeout.
    #[error("no answer in time")]
    Timeout,
    /// The connection broke, or anything else on the way.
    #[error("{0}")]
    Other(String),
    /// The body is larger than the limit; reading stopped there.
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

#[async_trait]
impl Exchange for reqwest::Client {
    async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, ExchangeError> {
        self.execute(request).await.map_err(|e| {
            // Connect first: a connect timeout means nobody answered at all.
            if e.is_connect() {
                ExchangeError::Connect(error_chain(&e))
            } else if e.is_timeout() {
                ExchangeError::Timeout
            } else {
                ExchangeError::Other(error_chain(&e))
            }
        })
    }
}

#[derive(Clone)]
pub(crate) struct Transport {
    exchange: Arc<dyn Exchange>,
    limiter: Arc<Limiter>,
    timeout: Duration,
    max_body: usize,
    /// The API key, if any: sent as `Authorization`, and removed from error bodies that echo it.
    api_key: Option<ApiKey>,
}

impl Transport {
    pub(crate) fn new(
        exchange: Arc<dyn Exchange>,
        limiter: Arc<Limiter>,
        timeout: Duration,
        max_body: usize,
        api_key: Option<ApiKey>,
    ) -> Self {
        Transport {
            exchange,
            limiter,
            timeout,
            max_body,
            api_key,
        }
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let mut request = factory.build().await?;
            if this.api_key.is_none() {
                // async-openai always sets `Bearer <key>`; keyless local servers get nothing.
                request.headers_mut().remove(AUTHORIZATION);
            }
            let url = request.url().to_string();
            let sent = tokio::time::timeout(this.timeout, this.exchange.send(request)).await;
            let response = match sent {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => return Err(OpenAIError::Boxed(Box::new(error))),
                Err(_) => return Err(OpenAIError::Boxed(Box::new(ExchangeError::Timeout))),
            };
            this.limiter.observe(response.headers());
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_limited(response, this.max_body)
                .await
                .map_err(|e| OpenAIError::Boxed(Box::new(e)))?;
            if status.is_success() {
                let mut rebuilt = http::Response::new(body);
                *rebuilt.status_mut() = status;
                *rebuilt.headers_mut() = headers;
                return Ok(reqwest::Response::from(rebuilt));
            }
            let status = status.as_u16();
            let retry_after = retry_after(&headers);
            let body = String::from_utf8_lossy(&body).into_owned();
            // Before any clipping: a key cut in half by a clip would no longer be recognised.
            let key = this
                .api_key
                .as_ref()
                .map(|k| k.expose_secret())
                .unwrap_or_default();
            let body = redact(&body, key);
            let failure = HttpFailure {
                url,
                status,
                retry_after,
                error: ApiError::parse(&body),
                body: clip(&body, 4000),
            };
            Err(OpenAIError::Boxed(Box::new(failure)))
        })
    }
}

/// The body, read chunk by chunk and refused once it passes `limit` (never read whole first).
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ExchangeError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ExchangeError::Other(error_chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(ExchangeError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its causes, `outer: inner: innermost` (reqwest hides the cause in `Display`).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The longer of `retry-after-ms` and `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let millis = header(headers, "retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok());
    let standard = header(headers, "retry-after").and_then(parse_retry_after);
    millis.max(standard)
}

/// A `Retry-After` value: seconds (whole or fractional) or an HTTP date (a past one is no wait).
/// Seconds that are negative, not a number or past `Duration::MAX` are no value at all.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(*name, value);
            }
        }
        map
    }

    #[test]
    fn retry_after_in_seconds_millis_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after-ms", "1500"),
                ("retry-after", "1")
            ])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&headers(&[("retry-after", &future)])).unwrap_or_default();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "later")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn response_format_complaints_are_recognised() {
        let failure = |body: &str| HttpFailure {
            url: "http://x/v1/chat/completions".to_string(),
            status: 500,
            retry_after: None,
            error: ApiError::parse(body),
            body: body.to_string(),
        };
        assert!(failure(
            r#"{"error":{"message":"1 validation error: body -> response_format -> type"}}"#
        )
        .names_response_format());
        assert!(!failure("upstream connect error").names_response_format());
    }
}
