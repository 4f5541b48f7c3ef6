//! The OpenAI chat-completions wire format, read leniently: servers omit `id`, `object`, `created`
//! and `usage`, invent `finish_reason` values and send integer error codes.

use serde::Deserialize;
use serde_json::{json, Value};

use super::settings::ModelSettings;
use super::types::AnswerShape;
use crate::paper::OutputMode;
use crate::prompt::ChatMessage;

/// The `response_format` ladder, strictest first. Servers that reject a rung get the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Format {
    JsonSchema = 0,
    /// llama.cpp's JSON mode, which takes a schema and constrains the output with a grammar.
    JsonObjectWithSchema = 1,
    JsonObject = 2,
    Plain = 3,
}

impl Format {
    pub(crate) fn from_u8(value: u8) -> Format {
        match value {
            0 => Format::JsonSchema,
            1 => Format::JsonObjectWithSchema,
            2 => Format::JsonObject,
            _ => Format::Plain,
        }
    }

    pub(crate) fn next(self) -> Option<Format> {
        match self {
            Format::JsonSchema => Some(Format::JsonObjectWithSchema),
            Format::JsonObjectWithSchema => Some(Format::JsonObject),
            Format::JsonObject => Some(Format::Plain),
            Format::Plain => None,
        }
    }

    pub(crate) fn mode(self) -> OutputMode {
        match self {
            Format::JsonSchema => OutputMode::JsonSchema,
            Format::JsonObjectWithSchema | Format::JsonObject => OutputMode::JsonObject,
            Format::Plain => OutputMode::Plain,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Format::JsonSchema => "response_format json_schema",
            Format::JsonObjectWithSchema => "response_format json_object with a schema",
            Format::JsonObject => "response_format json_object",
            Format::Plain => "no response_format",
        }
    }

    fn response_format(self, shape: AnswerShape) -> Option<Value> {
        let (name, schema) = match shape {
            AnswerShape::Summary => ("korean_summary", summary_schema()),
            AnswerShape::JudgeVerdict => ("identity_verdict", judge_schema()),
        };
        match self {
            Format::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": name, "strict": true, "schema": schema},
            })),
            Format::JsonObjectWithSchema => Some(json!({"type": "json_object", "schema": schema})),
            Format::JsonObject => Some(json!({"type": "json_object"})),
            Format::Plain => None,
        }
    }
}

/// JSON schema of the answer the prompts ask for: three Korean sections, nothing else.
pub fn summary_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "whats_new": {"type": "string"},
            "technical_details": {"type": "string"},
            "performance_highlights": {"type": "string"},
        },
        "required": ["whats_new", "technical_details", "performance_highlights"],
        "additionalProperties": false,
    })
}

/// JSON schema of the identity judge's verdict.
pub fn judge_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "describes_paper": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        "required": ["describes_paper", "reason"],
        "additionalProperties": false,
    })
}

/// The chat-completions request body for `messages` under `format`.
pub(crate) fn request_body(
    settings: &ModelSettings,
    messages: &[ChatMessage],
    format: Format,
    shape: AnswerShape,
) -> Value {
    let mut body = json!({
        "model": settings.model,
        "messages": messages,
        "temperature": settings.temperature,
        "stream": false,
    });
    if let Some(object) = body.as_object_mut() {
        object.insert(
            settings.max_tokens_field.as_str().to_string(),
            json!(settings.max_output_tokens),
        );
        if let Some(response_format) = format.response_format(shape) {
            object.insert("response_format".to_string(), response_format);
        }
    }
    body
}

/// A chat completion with every field optional that some server leaves out.
#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<Choice>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// A few servers answer 200 with an error object instead of a completion.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    pub refusal: Option<String>,
}

impl Message {
    /// The text of the answer; content given as parts is joined.
    pub(crate) fn text(&self) -> Option<String> {
        match self.content.as_ref()? {
            Content::Text(text) => Some(text.clone()),
            Content::Parts(parts) => Some(parts.iter().filter_map(|p| p.text.as_deref()).collect()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
}

/// What an error body says, from whichever of the common shapes the server used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<String>,
}

impl ApiError {
    pub(crate) fn parse(body: &str) -> ApiError {
        let parsed = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|value| from_value(&value));
        parsed.unwrap_or_else(|| ApiError {
            message: if body.trim().is_empty() {
                "(empty body)".to_string()
            } else {
                clip(body.trim(), 300)
            },
            kind: None,
            code: None,
        })
    }

    pub(crate) fn is_insufficient_quota(&self) -> bool {
        [&self.kind, &self.code]
            .into_iter()
            .flatten()
            .any(|v| v == "insufficient_quota")
    }

    /// `message (type: …, code: …)`, leaving out what the server did not send.
    pub(crate) fn describe(&self) -> String {
        let extras: Vec<String> = [("type", &self.kind), ("code", &self.code)]
            .into_iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}: {v}")))
            .collect();
        if extras.is_empty() {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, extras.join(", "))
        }
    }
}

/// `{"error": {...}}`, `{"error": "..."}`, vLLM's flat `{"message", "type", "code"}`, FastAPI's
/// `{"detail": ...}`.
fn from_value(value: &Value) -> Option<ApiError> {
    let object = value.as_object()?;
    let (holder, message) = match object.get("error") {
        Some(Value::Object(inner)) => (inner, inner.get("message").map(scalar)),
        Some(Value::String(text)) => (object, Some(text.clone())),
        _ => (
            object,
            object
                .get("message")
                .map(scalar)
                .or_else(|| object.get("detail").map(detail)),
        ),
    };
    Some(ApiError {
        message: clip(message.filter(|m| !m.trim().is_empty())?.trim(), 1000),
        kind: holder.get("type").map(scalar).filter(|s| !s.is_empty()),
        code: holder.get("code").map(scalar).filter(|s| !s.is_empty()),
    })
}

/// A string, number or other JSON value as plain text (`"x"` → `x`, `400` → `400`, null → ``).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// FastAPI validation errors: a string, or a list of `{loc, msg}`.
fn detail(value: &Value) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let msg = item
                    .get("msg")
                    .map(scalar)
                    .unwrap_or_else(|| item.to_string());
                match item.get("loc").and_then(Value::as_array) {
                    Some(loc) => {
                        let path: Vec<String> = loc.iter().map(scalar).collect();
                        format!("{}: {msg}", path.join("."))
                    }
                    None => msg,
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => scalar(other),
    }
}

/// At most `max_chars` characters of `text`, marked with `…` when cut.
pub(crate) fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MaxTokensField;
    use crate::prompt::Role;

    fn defaults() -> ModelSettings {
        crate::settings::Settings::defaults()
            .unwrap_or_else(|e| panic!("{e}"))
            .model
    }

    #[test]
    fn body_carries_settings_and_the_format() {
        let settings = ModelSettings {
            model: "smollm2".to_string(),
            max_output_tokens: 300,
            ..defaults()
        };
        let messages = [ChatMessage::new(Role::User, "hi")];
        let body = request_body(
            &settings,
            &messages,
            Format::JsonSchema,
            AnswerShape::Summary,
        );
        assert_eq!(body["model"], "smollm2");
        assert_eq!(body["max_tokens"], 300);
        assert_eq!(body["stream"], false);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        let object = request_body(
            &settings,
            &messages,
            Format::JsonObjectWithSchema,
            AnswerShape::Summary,
        );
        assert_eq!(object["response_format"]["schema"], summary_schema());
        let plain = request_body(&settings, &messages, Format::Plain, AnswerShape::Summary);
        assert!(plain.get("response_format").is_none());
    }

    #[test]
    fn max_completion_tokens_field_is_used_when_configured() {
        let settings = ModelSettings {
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            max_output_tokens: 1024,
            ..defaults()
        };
        let body = request_body(&settings, &[], Format::Plain, AnswerShape::Summary);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["max_completion_tokens"], 1024);
    }

    /// Models that honour structured output write the fields in schema order: the summary must be
    /// asked for in reading order, not alphabetically (results first).
    #[test]
    fn schema_asks_for_the_sections_in_reading_order() {
        let settings = defaults();
        for format in [Format::JsonSchema, Format::JsonObjectWithSchema] {
            let body = request_body(&settings, &[], format, AnswerShape::Summary).to_string();
            let at = |key: &str| body.find(&format!("\"{key}\"")).unwrap_or(usize::MAX);
            assert!(
                at("whats_new") < at("technical_details")
                    && at("technical_details") < at("performance_highlights"),
                "{body}"
            );
        }
    }

    #[test]
    fn schema_requires_exactly_the_three_sections() {
        let schema = summary_schema();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn error_bodies_of_every_common_shape() {
        let openai = ApiError::parse(
            r#"{"error":{"message":"Invalid key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        );
        assert_eq!(
            openai.describe(),
            "Invalid key (type: invalid_request_error, code: invalid_api_key)"
        );
        let integer_code = ApiError::parse(r#"{"error":{"message":"bad","code":400}}"#);
        assert_eq!(integer_code.code.as_deref(), Some("400"));
        let flat = ApiError::parse(
            r#"{"object":"error","message":"too long","type":"BadRequestError","code":400}"#,
        );
        assert_eq!(
            flat.describe(),
            "too long (type: BadRequestError, code: 400)"
        );
        let fastapi = ApiError::parse(
            r#"{"detail":[{"loc":["body","response_format"],"msg":"Input should be 'json_object'","type":"literal_error"}]}"#,
        );
        assert_eq!(
            fastapi.message,
            "body.response_format: Input should be 'json_object'"
        );
        let text = ApiError::parse("<html>Bad Gateway</html>");
        assert_eq!(text.message, "<html>Bad Gateway</html>");
        assert_eq!(ApiError::parse("").message, "(empty body)");
    }

    #[test]
    fn quota_is_recognised_by_type_or_code() {
        let by_code = ApiError::parse(
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert!(by_code.is_insufficient_quota());
        let rate = ApiError::parse(
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert!(!rate.is_insufficient_quota());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("한국어 요약", 2), "한국…");
        assert_eq!(clip("short", 10), "short");
    }

    #[test]
    fn lenient_completion_accepts_missing_fields_and_parts() {
        let completion: Completion = serde_json::from_str(
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"eos_token"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let choice = completion.choices.as_ref().and_then(|c| c.first());
        assert_eq!(
            choice
                .and_then(|c| c.message.as_ref())
                .and_then(Message::text)
                .as_deref(),
            Some("ab")
        );
        assert!(completion.usage.is_none());
    }
}
