//! One JSON POST to a webhook, tried again with exponential backoff and jitter on 429, 5xx, timeouts
//! and connection errors, honouring `Retry-After` (Slack and Discord send it with their 429s; Discord
//! also puts `retry_after` in the body), up to `publish.retries` tries after the first. A wait longer
//! than `publish.retry_max_wait_secs` is not waited for: the message is reported as failed. Other
//! answers (400, 403, 404, 410) are final. A stop ends every wait at once.
//!
//! The URL is a secret: it never appears in an error, a log line or the store (reqwest's errors are
//! stripped of it).

use std::fmt;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::{Delivery, WebhookUrl};
use crate::model::{parse_retry_after, sleep};
use crate::render::text::one_line;
use crate::source::error_chain;

/// Why a message was not delivered (the URL is never part of it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostError {
    #[error("unreachable after {tries} tries: {message}")]
    Unreachable { tries: usize, message: String },
    #[error("HTTP {status} after {tries} tries: {body}")]
    Status {
        status: u16,
        tries: usize,
        body: String,
    },
    #[error("rate limited (HTTP 429): asked to wait {wait_secs:.0} s, more than publish.retry_max_wait_secs ({max_secs:.0} s)")]
    WaitTooLong { wait_secs: f64, max_secs: f64 },
}

/// One try's failure.
#[derive(Debug, Clone)]
struct Attempt {
    /// `None` for a transport error (unreachable, timeout).
    status: Option<StatusCode>,
    message: String,
    retry_after: Option<Duration>,
}

impl Attempt {
    fn transient(&self) -> bool {
        match self.status {
            None => true,
            Some(status) => status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {}: {}", status.as_u16(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Delivers JSON messages to webhooks.
pub(crate) struct Poster {
    http: Client,
    delivery: Delivery,
    stop: CancellationToken,
}

impl Poster {
    pub(crate) fn new(
        delivery: Delivery,
        stop: CancellationToken,
    ) -> Result<Poster, reqwest::Error> {
        let http = Client::builder()
            .timeout(delivery.request_timeout)
            .user_agent(concat!("paper-digest/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Poster {
            http,
            delivery,
            stop,
        })
    }

    /// Whether the command was asked to stop (a signal): no new message is started then.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Waits `wait` (at most `publish.retry_max_wait_secs`), or until a stop.
    pub(crate) async fn pause(&self, wait: Duration) {
        // A stop only ends the pause: the caller sees it before the next message.
        let _ = sleep(wait.min(self.delivery.retry_max_wait), &self.stop).await;
    }

    /// POSTs `body` to `url`, trying again as the module says. On success, how long the service
    /// asks to wait before the next message, when it says so (Discord's `X-RateLimit-Remaining: 0`
    /// with `X-RateLimit-Reset-After`), so that a long day does not run into 429s.
    pub(crate) async fn post(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<Option<Duration>, PostError> {
        // A stopped run still makes one try (an alert must go out), but never waits for another.
        let max_wait = self.delivery.retry_max_wait;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.delivery.retry_initial)
            .with_max_delay(max_wait.max(self.delivery.retry_initial))
            .with_max_times(self.delivery.retries as usize)
            .with_jitter();
        let stop = self.stop.clone();
        let mut tries = 0usize;
        let mut too_long: Option<Duration> = None;
        let result = (|| {
            tries += 1;
            self.send(url, body)
        })
        .retry(backoff)
        .sleep(move |wait| {
            let stop = stop.clone();
            // A stop ends the wait at once (`when` then allows no further try).
            async move {
                let _ = sleep(wait, &stop).await;
            }
        })
        .when(|attempt: &Attempt| attempt.transient() && !self.stop.is_cancelled())
        .adjust(|attempt: &Attempt, backoff: Option<Duration>| {
            let wait = match (attempt.retry_after, backoff) {
                (_, None) => return None,
                (Some(asked), Some(_)) => asked,
                // Our own backoff is capped (jitter may add to the cap): only a server's ask can be
                // too long to wait for.
                (None, Some(backoff)) => return Some(backoff.min(max_wait)),
            };
            if wait > max_wait {
                too_long = Some(wait);
                return None;
            }
            Some(wait)
        })
        .notify(|attempt: &Attempt, wait: Duration| {
            tracing::warn!(error = %attempt, wait_secs = wait.as_secs_f64(), "webhook failed; trying again");
        })
        .await;
        let attempt = match result {
            Ok(wait) => return Ok(wait),
            Err(attempt) => attempt,
        };
        if let Some(wait) = too_long {
            return Err(PostError::WaitTooLong {
                wait_secs: wait.as_secs_f64(),
                max_secs: max_wait.as_secs_f64(),
            });
        }
        Err(match attempt.status {
            Some(status) => PostError::Status {
                status: status.as_u16(),
                tries,
                body: attempt.message,
            },
            None => PostError::Unreachable {
                tries,
                message: attempt.message,
            },
        })
    }

    async fn send(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<Option<Duration>, Attempt> {
        let transport = |e: reqwest::Error| Attempt {
            status: None,
            message: error_chain(e),
            retry_after: None,
        };
        let response = self
            .http
            .post(url.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(bucket_empty(response.headers()));
        }
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Err(Attempt {
            status: Some(status),
            retry_after: retry_after(&headers, &text),
            message: snippet(&text),
        })
    }
}

/// `Retry-After` in seconds (Slack and Discord send whole or fractional seconds; an HTTP date is
/// also allowed), or Discord's `retry_after` (seconds) in a JSON body.
fn retry_after(headers: &HeaderMap, body: &str) -> Option<Duration> {
    let from_header = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_retry_after);
    from_header.or_else(|| {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()?
            .get("retry_after")?
            .as_f64()
            .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 86_400.0)
            .map(Duration::from_secs_f64)
    })
}

/// `X-RateLimit-Reset-After` (seconds) when `X-RateLimit-Remaining` is 0: the next message would be
/// refused until then.
fn bucket_empty(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if header("x-ratelimit-remaining")? != "0" {
        return None;
    }
    header("x-ratelimit-reset-after")?
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs < 86_400.0)
        .map(Duration::from_secs_f64)
}

/// The start of an answer's body, on one line, for a report.
fn snippet(body: &str) -> String {
    const MAX_CHARS: usize = 200;
    let flat = one_line(body.trim());
    if flat.is_empty() {
        return "empty body".to_string();
    }
    match flat.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_dates_and_discord_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers, ""), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&headers, ""), Some(Duration::from_millis(500)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers, ""), Some(Duration::ZERO));
        let body =
            r#"{"message": "You are being rate limited.", "retry_after": 1.25, "global": false}"#;
        assert_eq!(
            retry_after(&HeaderMap::new(), body),
            Some(Duration::from_millis(1250))
        );
        assert_eq!(retry_after(&HeaderMap::new(), "nope"), None);
        // Past `Duration::MAX`: no Retry-After (it used to panic in `Duration::from_secs_f64`).
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1e20"));
        assert_eq!(retry_after(&headers, ""), None);
    }

    #[test]
    fn an_empty_bucket_asks_for_a_pause() {
        let mut headers = HeaderMap::new();
        assert_eq!(bucket_empty(&headers), None);
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset-after", HeaderValue::from_static("1.5"));
        assert_eq!(bucket_empty(&headers), Some(Duration::from_millis(1500)));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("4"));
        assert_eq!(bucket_empty(&headers), None);
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet("  "), "empty body");
        assert_eq!(snippet("invalid_payload\n"), "invalid_payload");
        assert_eq!(snippet(&"x".repeat(500)).chars().count(), 201);
    }
}
