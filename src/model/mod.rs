//! The model stage: send a rendered prompt to an OpenAI-compatible chat endpoint and bring back
//! the answer as received, with usage, cost and how it was obtained.
//!
//! [`ChatModel`] is what the summarize stage calls; [`OpenAiCompatible`] is the real client (retries
//! with backoff, client-side rate limits that follow the server's, an adaptive number of requests in
//! flight, a `response_format` fallback for servers that lack structured output). Nothing here
//! judges the answer (that is `checks`) or counts a run's budget (that is the summarize stage).

mod client;
mod error;
mod key;
mod limits;
mod settings;
pub mod tokens;
mod transport;
mod types;
mod window;
mod wire;

use async_trait::async_trait;

pub use client::OpenAiCompatible;
pub use error::ModelError;
pub(crate) use key::{secret_text, ControlCharacters};
pub use key::{ApiKey, UnusableKey};
pub(crate) use limits::sleep;
pub use settings::{MaxTokensField, ModelSettings, UnknownMaxTokensField};
pub(crate) use transport::parse_retry_after;
pub use transport::{Exchange, ExchangeError};
pub use types::{AnswerShape, ChatAnswer, ChatRequest, FinishReason, Usage};
pub use wire::{judge_schema, summary_schema};

/// A chat model that answers one request at a time (callers may run several concurrently).
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn complete(&self, request: ChatRequest) -> Result<ChatAnswer, ModelError>;

    /// The model name summaries are stored under (part of the idempotency key).
    fn model_name(&self) -> &str;
}
