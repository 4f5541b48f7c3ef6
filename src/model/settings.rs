//! How to reach one OpenAI-compatible chat endpoint and how hard to push it.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

/// Name of the request field that caps the answer's length. Servers disagree: llama.cpp, vLLM and
/// most others take `max_tokens`; OpenAI's newer models want `max_completion_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    MaxTokens,
    MaxCompletionTokens,
}

impl MaxTokensField {
    pub fn as_str(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown max_tokens_field {0:?} (expected \"max_tokens\" or \"max_completion_tokens\")")]
pub struct UnknownMaxTokensField(pub String);

impl FromStr for MaxTokensField {
    type Err = UnknownMaxTokensField;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "max_tokens" => Ok(MaxTokensField::MaxTokens),
            "max_completion_tokens" => Ok(MaxTokensField::MaxCompletionTokens),
            other => Err(UnknownMaxTokensField(other.to_string())),
        }
    }
}

impl fmt::Display for MaxTokensField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the chat client needs; built from the config by `settings`, which validated every value.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: Url,
    pub model: String,
    pub temperature: f32,
    pub max_output_tokens: u32,
    pub max_tokens_field: MaxTokensField,
    /// Whole-request limit (connect, send, wait, read the body).
    pub request_timeout: Duration,
    /// Retries after the first attempt on 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// The longest wait a server may ask for (Retry-After, a rate-limit reset); a longer one stops
    /// the run like an exhausted quota.
    pub max_retry_after: Duration,
    /// Bodies larger than this are refused.
    pub max_response_bytes: usize,
    /// Requests in flight at most; fewer while the server shows signs of overload.
    pub max_concurrency: usize,
    /// Client-side limits; `None` follows whatever the server announces in `x-ratelimit-*` headers.
    pub requests_per_minute: Option<NonZeroU32>,
    pub tokens_per_minute: Option<NonZeroU32>,
    /// Ask for `response_format: json_schema` first; `false` starts without any `response_format`.
    pub structured_output: bool,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
}

impl ModelSettings {
    /// The chat completions endpoint under the base URL.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.base_url.as_str().trim_end_matches('/')
        )
    }
    /// `cost_usd` of one answer at this endpoint's prices.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        prompt_tokens as f64 * self.price_input_per_mtok / 1e6
            + completion_tokens as f64 * self.price_output_per_mtok / 1e6
    }
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
    fn cost_is_per_million_tokens() {
        let settings = ModelSettings {
            price_input_per_mtok: 0.15,
            price_output_per_mtok: 0.60,
            ..defaults()
        };
        let cost = settings.cost_usd(2_000, 500);
        assert!((cost - (0.0003 + 0.0003)).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn endpoint_joins_the_base_url_once() {
        let mut settings = defaults();
        settings.base_url = "http://127.0.0.1:8081/v1/".parse().unwrap();
        assert_eq!(
            settings.endpoint(),
            "http://127.0.0.1:8081/v1/chat/completions"
        );
    }

    #[test]
    fn max_tokens_field_parses_both_names_and_rejects_others() {
        assert_eq!("max_tokens".parse(), Ok(MaxTokensField::MaxTokens));
        assert_eq!(
            "max_completion_tokens".parse(),
            Ok(MaxTokensField::MaxCompletionTokens)
        );
        assert!("maxTokens".parse::<MaxTokensField>().is_err());
    }
}
