//! How to reach one OpenAI-compatible chat endpoint and how hard to push it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Name of the request field that caps the answer's length. Servers disagree: llama.cpp, vLLM and
/// most others take `max_tokens`; OpenAI's newer models want `max_completion_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    #[default]
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

/// Everything the chat client needs. `Debug` never shows the API key.
#[derive(Clone)]
pub struct ModelSettings {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …`; `None` sends no Authorization header (local servers).
    pub api_key: Option<String>,
    pub temperature: f32,
    pub max_output_tokens: u32,
    pub max_tokens_field: MaxTokensField,
    /// Whole-request limit (connect, send, wait, read the body).
    pub request_timeout: Duration,
    /// Retries after the first attempt on 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    /// Ask for `response_format: json_schema` first; `false` starts without any `response_format`.
    pub structured_output: bool,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    /// Stop starting new calls once this many tokens (prompt + completion) were used by this client.
    pub max_run_tokens: Option<u64>,
    /// Stop starting new calls once this much was spent by this client.
    pub max_run_cost_usd: Option<f64>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            base_url: "https://api.openai.com/v1".to_string(),
            model: "gpt-4o-mini".to_string(),
            api_key: None,
            temperature: 0.2,
            max_output_tokens: 1024,
            max_tokens_field: MaxTokensField::MaxTokens,
            request_timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            concurrency: 4,
            requests_per_minute: None,
            tokens_per_minute: None,
            structured_output: true,
            price_input_per_mtok: 0.0,
            price_output_per_mtok: 0.0,
            max_run_tokens: None,
            max_run_cost_usd: None,
        }
    }
}

impl fmt::Debug for ModelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out by hand so the key can never reach a log through `{:?}`.
        f.debug_struct("ModelSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("temperature", &self.temperature)
            .field("max_output_tokens", &self.max_output_tokens)
            .field("max_tokens_field", &self.max_tokens_field)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("concurrency", &self.concurrency)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("tokens_per_minute", &self.tokens_per_minute)
            .field("structured_output", &self.structured_output)
            .field("price_input_per_mtok", &self.price_input_per_mtok)
            .field("price_output_per_mtok", &self.price_output_per_mtok)
            .field("max_run_tokens", &self.max_run_tokens)
            .field("max_run_cost_usd", &self.max_run_cost_usd)
            .finish()
    }
}

impl ModelSettings {
    /// `cost_usd` of one answer at this endpoint's prices.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        prompt_tokens as f64 * self.price_input_per_mtok / 1e6
            + completion_tokens as f64 * self.price_output_per_mtok / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_api_key() {
        let settings = ModelSettings {
            api_key: Some("sk-secret-123".to_string()),
            ..ModelSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let settings = ModelSettings {
            price_input_per_mtok: 0.15,
            price_output_per_mtok: 0.60,
            ..ModelSettings::default()
        };
        let cost = settings.cost_usd(2_000, 500);
        assert!((cost - (0.0003 + 0.0003)).abs() < 1e-12, "{cost}");
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
