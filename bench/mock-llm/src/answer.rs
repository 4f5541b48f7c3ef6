//! What the mock reads from a chat request (the paper's ID, title and abstract) and what it writes
//! back: a Korean three-part summary built from that abstract, inside an OpenAI chat completion.

use serde_json::{json, Value};

/// The paper a request is about, read from its FIRST user message (repair requests append more
/// messages after it, which may quote other text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaperPrompt {
    /// The arXiv ID after `arXiv ` in the prompt, when there is one.
    pub id: Option<String>,
    pub title: String,
    pub abstract_text: String,
}

impl PaperPrompt {
    /// `None` when the request has no user message holding `<paper_title>` and `<abstract>`.
    pub(crate) fn from_request(body: &Value) -> Option<PaperPrompt> {
        let user = body
            .get("messages")?
            .as_array()?
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))?
            .get("content")
            .and_then(content_text)?;
        Some(PaperPrompt {
            id: arxiv_id(&user),
            title: between(&user, "<paper_title>", "</paper_title>")?,
            abstract_text: between(&user, "<abstract>", "</abstract>")?,
        })
    }
}

/// Message content as a string, or the text parts of a content array.
fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let (_, rest) = text.split_once(open)?;
    let (inside, _) = rest.split_once(close)?;
    Some(inside.trim().to_string())
}

/// `2409.12345` from "... (arXiv 2409.12345, cs.CL)"; old-style IDs (`hep-th/9901001`) too.
fn arxiv_id(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("arXiv ")?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-'))
        .collect();
    let id = id.trim_end_matches(['.', '-', '/']);
    (!id.is_empty()).then(|| id.to_string())
}

/// Distinctive terms (names with capitals or digits inside, like `GlowFormer`, `PG-19`) taken per summary.
const MAX_TERMS: usize = 3;
/// Figures (`63%`, `41.2`) taken per summary.
const MAX_FIGURES: usize = 2;
/// Each section is padded with plain Korean until Hangul is at least this share of its letters.
const MIN_HANGUL_SHARE: f64 = 0.6;
/// The checks' upper bound on a section's length, in characters.
const MAX_SECTION_CHARS: usize = 1200;

/// A valid answer for a paper: the JSON object `{"whats_new", "technical_details",
/// "performance_highlights"}` in Korean, naming the work (the title before ':'), and quoting the
/// abstract's own distinctive terms and figures, so shape and identity checks pass.
pub fn summary_for(title: &str, abstract_text: &str) -> String {
    let name = work_name(title);
    let terms = distinctive_terms(abstract_text, &name);
    let figures = figures(abstract_text);
    let terms_text = if terms.is_empty() {
        "제안한 구성 요소".to_string()
    } else {
        terms.join(", ")
    };
    let results = if figures.is_empty() {
        format!("여러 실험을 통해 {name}의 효과를 보였으며, 기존 방법과 비교해 의미 있는 개선을 확인했습니다.")
    } else {
        format!(
            "실험에서 {name}은(는) {}의 결과를 보고하며, 기존 방법과 비교해 의미 있는 개선을 확인했습니다.",
            figures.join(", ")
        )
    };
    json!({
        "whats_new": korean_enough(format!(
            "이 논문은 {name}을(를) 소개합니다. 기존 접근이 가진 한계를 짚고, 이를 해결하기 위한 새로운 방향을 제시합니다."
        )),
        "technical_details": korean_enough(format!(
            "{name}은(는) {terms_text}을(를) 핵심 요소로 사용합니다. 각 구성 요소의 역할과 학습 과정을 차례로 설명합니다."
        )),
        "performance_highlights": korean_enough(results),
    })
    .to_string()
}

/// `summary` (a JSON answer) with a tracker image and a link the paper never gave in its first section.
pub(crate) fn with_tracker_link(summary: &str) -> String {
    let mut value: serde_json::Value = match serde_json::from_str(summary) {
        Ok(value) => value,
        Err(_) => return summary.to_string(),
    };
    if let Some(text) = value.get_mut("whats_new") {
        let linked = format!(
            "{} 자세한 내용은 [여기](https://tracker.example/p?id=1)를 참고하세요. ![](https://tracker.example/pixel.gif)",
            text.as_str().unwrap_or_default()
        );
        *text = serde_json::Value::String(linked);
    }
    value.to_string()
}

/// The work's name: the title before ':' when there is one, else its first three words.
fn work_name(title: &str) -> String {
    match title.split_once(':') {
        Some((name, _)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => title
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn distinctive_terms(abstract_text: &str, name: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in abstract_text.split(|c: char| c.is_whitespace() || ",.;:()".contains(c)) {
        let distinctive = word.len() >= 3
            && word
                .chars()
                .skip(1)
                .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if distinctive && word != name && !terms.iter().any(|t| t == word) {
            terms.push(word.to_string());
            if terms.len() == MAX_TERMS {
                break;
            }
        }
    }
    terms
}

/// Percentages and decimals as the abstract writes them (`63%`, `41.2`).
fn figures(abstract_text: &str) -> Vec<&str> {
    abstract_text
        .split_whitespace()
        .map(|w| w.trim_end_matches(['.', ',', ';', ':', ')']))
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter(|w| w.ends_with('%') || w.contains('.'))
        .take(MAX_FIGURES)
        .collect()
}

/// Adds plain Korean sentences while the Latin names make up too much of the section.
fn korean_enough(mut section: String) -> String {
    const FILLER: &str = " 자세한 내용은 초록에 제시된 설명을 바탕으로 정리했습니다.";
    while hangul_share(&section) < MIN_HANGUL_SHARE
        && section.chars().count() + FILLER.chars().count() <= MAX_SECTION_CHARS
    {
        section.push_str(FILLER);
    }
    section
}

fn hangul_share(text: &str) -> f64 {
    let hangul = text
        .chars()
        .filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c))
        .count();
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    if hangul + latin == 0 {
        return 0.0;
    }
    hangul as f64 / (hangul + latin) as f64
}

/// How a 200 answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The whole summary, `finish_reason: "stop"`.
    Complete,
    /// The summary cut off mid-way, `finish_reason: "length"`.
    Truncated,
    /// `content: ""` with `finish_reason: "stop"`.
    Empty,
}

/// Everything a completion body needs besides the content.
pub(crate) struct CompletionMeta<'a> {
    pub sequence: u64,
    pub model: &'a str,
    pub prompt_tokens: u64,
    pub max_tokens: Option<u64>,
}

/// A chat completion exactly as OpenAI sends it.
pub(crate) fn completion(meta: &CompletionMeta<'_>, summary: &str, ending: Ending) -> Value {
    let (content, finish_reason) = match ending {
        Ending::Complete => (summary.to_string(), "stop"),
        Ending::Truncated => (cut(summary, 0.6), "length"),
        Ending::Empty => (String::new(), "stop"),
    };
    let completion_tokens = match ending {
        Ending::Truncated => meta.max_tokens.unwrap_or_else(|| approx_tokens(&content)),
        _ => approx_tokens(&content),
    };
    json!({
        "id": format!("chatcmpl-mock{:08}", meta.sequence),
        "object": "chat.completion",
        "created": unix_seconds(),
        "model": meta.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": meta.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": meta.prompt_tokens + completion_tokens
        },
        "system_fingerprint": "fp_mock_llm"
    })
}

/// The first `share` of `text`, cut on a character boundary.
fn cut(text: &str, share: f64) -> String {
    let keep = (text.chars().count() as f64 * share) as usize;
    text.chars().take(keep).collect()
}

/// Token count as the mock bills it: one token per four bytes of UTF-8, at least one.
pub(crate) fn approx_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// An OpenAI error body.
pub(crate) fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_user_message_not_the_repair() {
        let body = json!({"messages": [
            {"role": "system", "content": "rules"},
            {"role": "user", "content": "Summarise this paper (arXiv 2409.12345, cs.CL).\n\n<paper_title>Q7Former: Fast</paper_title>\n\n<abstract>We present Q7Former.</abstract>"},
            {"role": "assistant", "content": "{}"},
            {"role": "user", "content": "<paper_title>Other: x</paper_title><abstract>y</abstract>"}
        ]});
        let prompt = PaperPrompt::from_request(&body);
        assert_eq!(
            prompt,
            Some(PaperPrompt {
                id: Some("2409.12345".to_string()),
                title: "Q7Former: Fast".to_string(),
                abstract_text: "We present Q7Former.".to_string(),
            })
        );
        assert_eq!(PaperPrompt::from_request(&json!({"messages": []})), None);
        assert_eq!(
            arxiv_id("see arXiv hep-th/9901001."),
            Some("hep-th/9901001".to_string())
        );
    }

    #[test]
    fn summary_names_the_work_and_quotes_terms_and_figures() {
        let summary = summary_for(
            "Q7Former: Sparse Routing for Long Inputs",
            "We present Q7Former, built on K7-Router and PG-19. It cuts memory by 63% and scores 41.2 on LongBench.",
        );
        let sections: Value = serde_json::from_str(&summary).unwrap_or_default();
        let text = |key: &str| sections[key].as_str().unwrap_or_default().to_string();
        assert!(text("whats_new").contains("Q7Former"));
        assert!(text("technical_details").contains("K7-Router, PG-19, LongBench"));
        assert!(text("performance_highlights").contains("63%, 41.2"));
        for key in ["whats_new", "technical_details", "performance_highlights"] {
            let section = text(key);
            assert!(section.ends_with('.'), "{section}");
            assert!((40..=1200).contains(&section.chars().count()), "{section}");
            assert!(hangul_share(&section) >= MIN_HANGUL_SHARE, "{section}");
        }
    }

    #[test]
    fn truncated_answers_are_cut_and_say_length() {
        let meta = CompletionMeta {
            sequence: 1,
            model: "m",
            prompt_tokens: 10,
            max_tokens: Some(99),
        };
        let body = completion(
            &meta,
            "{\"whats_new\": \"가나다라마바사\"}",
            Ending::Truncated,
        );
        let content = body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(serde_json::from_str::<Value>(content).is_err(), "{content}");
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(body["usage"]["completion_tokens"], 99);
    }
}
