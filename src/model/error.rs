//! Why a chat call produced no answer, in words that name the endpoint and what it said.

/// Every way [`super::ChatModel::complete`] can fail. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The settings cannot work (bad URL, zero concurrency, a key with control characters…).
    #[error("invalid model settings: {message}")]
    InvalidSettings { message: String },
    /// A permanent refusal of the request (400/401/403/404/422…); retrying would not help.
    #[error("model server rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// The account has no credit left (HTTP 402, or 429 with `insufficient_quota`).
    #[error("model quota exhausted: {message}")]
    QuotaExhausted { message: String },
    /// Transient failures (429, 5xx, timeouts) outlasted every retry.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    GaveUp { attempts: u32, last: String },
    /// Not one attempt could connect (refused, DNS, connect timeout).
    #[error("model server unreachable at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// A 2xx answer that is not a chat completion.
    #[error("model server sent something that is not a chat completion: {message}")]
    Malformed { message: String },
    /// The server asked to wait longer than `model.max_retry_after_secs` (treated like an exhausted
    /// quota: the run stops rather than sleeping for hours).
    #[error("{url} asks to wait {wait_secs:.0} s before asking again, more than the {limit_secs:.0} s allowed (model.max_retry_after_secs)")]
    WaitTooLong {
        url: String,
        wait_secs: f64,
        limit_secs: f64,
    },
    /// The run is shutting down: a wait (backoff, rate limit, a free slot) was cut short and
    /// nothing more is sent for this request.
    #[error("not sent: the run is shutting down")]
    Cancelled,
}

impl ModelError {
    /// True when the server could not be reached at all (the CLI maps this to exit code 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ModelError::Unreachable { .. })
    }

    /// The same error with every occurrence of `secret` replaced by `[REDACTED]`.
    pub(crate) fn redacted(self, secret: Option<&str>) -> Self {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return self;
        };
        let clean = |text: String| redact(&text, secret);
        match self {
            ModelError::InvalidSettings { message } => ModelError::InvalidSettings {
                message: clean(message),
            },
            ModelError::Rejected { status, message } => ModelError::Rejected {
                status,
                message: clean(message),
            },
            ModelError::QuotaExhausted { message } => ModelError::QuotaExhausted {
                message: clean(message),
            },
            ModelError::GaveUp { attempts, last } => ModelError::GaveUp {
                attempts,
                last: clean(last),
            },
            ModelError::Unreachable { url, message } => ModelError::Unreachable {
                url: clean(url),
                message: clean(message),
            },
            ModelError::Malformed { message } => ModelError::Malformed {
                message: clean(message),
            },
            ModelError::Cancelled => ModelError::Cancelled,
            ModelError::WaitTooLong {
                url,
                wait_secs,
                limit_secs,
            } => ModelError::WaitTooLong {
                url: clean(url),
                wait_secs,
                limit_secs,
            },
        }
    }
}

/// Replaces `secret` (when non-empty) wherever it appears in `text`.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_replaces_the_key_in_every_text_field() {
        let err = ModelError::Unreachable {
            url: "http://sk-abc@host/v1".to_string(),
            message: "echo: Bearer sk-abc".to_string(),
        }
        .redacted(Some("sk-abc"));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("sk-abc"), "{shown}");
        assert_eq!(shown.matches("[REDACTED]").count(), 4, "{shown}");
    }

    #[test]
    fn empty_key_leaves_messages_alone() {
        let err = ModelError::Malformed {
            message: "abc".to_string(),
        };
        assert_eq!(err.clone().redacted(Some("")), err);
        assert_eq!(redact("abc", ""), "abc");
    }

    #[test]
    fn only_unreachable_is_unreachable() {
        let gave_up = ModelError::GaveUp {
            attempts: 3,
            last: "HTTP 500".to_string(),
        };
        assert!(!gave_up.is_unreachable());
        let down = ModelError::Unreachable {
            url: "http://127.0.0.1:9/v1".to_string(),
            message: "connection refused".to_string(),
        };
        assert!(down.is_unreachable());
    }
}
