//! What goes to a chat model and what comes back, independent of any server's wire format.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::paper::{ArxivId, OutputMode};
use crate::prompt::ChatMessage;

/// One request. `paper` is carried for logs, limits and per-paper accounting; `answer` says which
/// JSON shape the answer is constrained to when the server supports structured output.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub paper: ArxivId,
    pub messages: Vec<ChatMessage>,
    pub answer: AnswerShape,
}

impl ChatRequest {
    /// A request for the three-part summary.
    pub fn summary(paper: ArxivId, messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            paper,
            messages,
            answer: AnswerShape::Summary,
        }
    }

    /// A request for the identity judge's verdict.
    pub fn judge(paper: ArxivId, messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            paper,
            messages,
            answer: AnswerShape::JudgeVerdict,
        }
    }
}

/// The JSON answers the prompts ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerShape {
    /// `{"whats_new", "technical_details", "performance_highlights"}`.
    Summary,
    /// `{"describes_paper": bool, "reason": string}`.
    JudgeVerdict,
}

/// Why the model stopped. Servers send values beyond OpenAI's list; those are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    Other(String),
    Missing,
}

impl FinishReason {
    pub fn from_wire(value: Option<&str>) -> Self {
        match value {
            None => FinishReason::Missing,
            Some("stop") => FinishReason::Stop,
            Some("length") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
            Some(other) => FinishReason::Other(other.to_string()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinishReason::Stop => f.write_str("stop"),
            FinishReason::Length => f.write_str("length"),
            FinishReason::ContentFilter => f.write_str("content_filter"),
            FinishReason::ToolCalls => f.write_str("tool_calls"),
            FinishReason::Other(value) => f.write_str(value),
            FinishReason::Missing => f.write_str("missing"),
        }
    }
}

/// Token usage of one answer. `estimated` when the server sent no `usage` and we counted ourselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
}

/// One answer from the model, as received (nothing checked yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatAnswer {
    pub content: Option<String>,
    pub refusal: Option<String>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub cost_usd: f64,
    pub mode: OutputMode,
    pub model: String,
    /// HTTP requests this answer took, retries included.
    pub http_attempts: u32,
    /// How many of those were answered 429.
    pub retries_429: u32,
}
