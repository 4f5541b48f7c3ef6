//! The tower service async-openai sends through: our reqwest client (our timeouts), our view of
//! rate-limit headers, and non-2xx answers turned into [`HttpFailure`] before async-openai's own
//! strict error parsing (which rejects integer `code`s) ever sees them.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, AUTHORIZATION};

use super::error::redact;
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

#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    limiter: Arc<Limiter>,
    /// The API key, if any: sent as `Authorization`, and removed from error bodies that echo it.
    api_key: Option<Arc<str>>,
}

impl Transport {
    pub(crate) fn new(http: reqwest::Client, limiter: Arc<Limiter>, api_key: Option<&str>) -> Self {
        Transport {
            http,
            limiter,
            api_key: api_key.map(Arc::from),
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
            let response = this
                .http
                .execute(request)
                .await
                .map_err(OpenAIError::Reqwest)?;
            this.limiter.observe(response.headers());
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            let body = response.text().await.map_err(OpenAIError::Reqwest)?;
            // Before any clipping: a key cut in half by a clip would no longer be recognised.
            let body = redact(&body, this.api_key.as_deref().unwrap_or_default());
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

/// The longer of `retry-after-ms` and `Retry-After` (seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let millis = header(headers, "retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok());
    let standard = header(headers, "retry-after").and_then(parse_retry_after);
    millis.max(standard)
}

fn parse_retry_after(value: &str) -> Option<Duration> {
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
