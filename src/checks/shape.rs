//! Is this answer shaped like a publishable summary? Everything wrong is reported, not just the first.
//!
//! Answer-level problems: a refusal, a truncated or filtered answer, an empty or unparseable answer,
//! text around the sections. Section-level problems ([`check_sections`], also used to audit
//! published digests): empty, too short or too long, not Korean enough, a code fence, stray JSON,
//! chatter or a refusal inside the text, a last sentence that stops midway.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::checks::answer::{self, excerpt, EXCERPT_CHARS};
use crate::checks::Reason;
use crate::model::{ChatAnswer, FinishReason};
use crate::paper::Sections;

/// Characters of a section's end quoted when it stops mid-sentence.
const ENDING_CHARS: usize = 30;
/// Characters quoted from where stray JSON, chatter or a refusal starts.
const FOUND_CHARS: usize = 24;

/// Bounds a section must respect (`[checks]`; the defaults in `config/default.toml` were measured on
/// 3,283 real published Korean summaries, see `tests/checks_real_data.rs`): well-formed ones pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeLimits {
    /// Hangul letters / all letters. Real Korean summaries go as low as 23% because English
    /// terms are kept (`variational autoencoder (VAE)를 사용하여 …`); English or Chinese answers are 0%.
    pub min_hangul_share: f64,
    /// The shortest real section is 52 characters; a cut-off one was 29.
    pub min_section_chars: usize,
    /// The longest well-formed real section is about 800 characters; longer means a runaway answer.
    pub max_section_chars: usize,
}

/// Checks a whole answer; `Ok` only when nothing is wrong.
pub fn check(answer: &ChatAnswer, limits: &ShapeLimits) -> Result<Sections, Vec<Reason>> {
    let mut reasons = Vec::new();
    let refusal = answer
        .refusal
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty());
    if let Some(text) = refusal {
        reasons.push(refused(text));
    }
    if let Some(reason) = finish_reason_problem(&answer.finish_reason) {
        reasons.push(reason);
    }
    let content = answer.content.as_deref().unwrap_or("").trim();
    if content.is_empty() {
        // With a refusal the missing content is already explained.
        if refusal.is_none() {
            reasons.push(Reason::new("empty", "empty answer"));
        }
        return Err(reasons);
    }
    match answer::parse(content) {
        Err(reason) => {
            let refusal_text =
                refusal.is_none() && find_phrase(content, &REFUSAL_PATTERN).is_some();
            reasons.push(if refusal_text {
                refused(content)
            } else {
                reason
            });
            Err(reasons)
        }
        Ok(parsed) => {
            if let Some(text) = &parsed.preamble {
                reasons.push(Reason::new(
                    "preamble",
                    format!(
                        "preamble before the sections: {:?}",
                        excerpt(text, EXCERPT_CHARS)
                    ),
                ));
            }
            if let Some(text) = &parsed.postscript {
                reasons.push(Reason::new(
                    "postscript",
                    format!(
                        "text after the sections: {:?}",
                        excerpt(text, EXCERPT_CHARS)
                    ),
                ));
            }
            reasons.extend(check_sections(&parsed.sections, limits));
            if reasons.is_empty() {
                Ok(parsed.sections)
            } else {
                Err(reasons)
            }
        }
    }
}

/// Everything wrong with the sections' text, in section order.
pub fn check_sections(sections: &Sections, limits: &ShapeLimits) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for (title, text) in sections.iter() {
        check_section(title, text.trim(), limits, &mut reasons);
    }
    reasons
}

fn check_section(title: &str, text: &str, limits: &ShapeLimits, reasons: &mut Vec<Reason>) {
    if text.is_empty() {
        reasons.push(Reason::new("empty", format!("section {title:?} is empty")));
        return;
    }
    let chars = text.chars().count();
    if chars > limits.max_section_chars {
        reasons.push(Reason::new(
            "length",
            format!(
                "section {title:?} is {} characters (maximum {})",
                thousands(chars),
                thousands(limits.max_section_chars)
            ),
        ));
    } else if chars < limits.min_section_chars {
        reasons.push(Reason::new(
            "length",
            format!(
                "section {title:?} is {} characters (minimum {})",
                thousands(chars),
                thousands(limits.min_section_chars)
            ),
        ));
    }
    let share = hangul_share(text);
    if share < limits.min_hangul_share {
        reasons.push(Reason::new(
            "hangul",
            format!(
                "section {title:?} is {}% Hangul (minimum {}%)",
                // Floor, so a share just under the minimum never prints as equal to it.
                (share * 100.0).floor(),
                (limits.min_hangul_share * 100.0).round()
            ),
        ));
    }
    if text.contains("```") || text.contains("~~~") {
        reasons.push(Reason::new(
            "code_fence",
            format!("section {title:?} contains a code fence"),
        ));
    }
    if let Some(found) = STRAY_JSON.find(text) {
        reasons.push(Reason::new(
            "stray_json",
            format!(
                "section {title:?} contains stray JSON: {:?}",
                excerpt(&text[found.start()..], FOUND_CHARS)
            ),
        ));
    }
    if let Some(at) = find_at_edges(text, &REFUSAL_PATTERN) {
        reasons.push(Reason::new(
            "refusal",
            format!(
                "section {title:?} contains a refusal: {:?}",
                excerpt(&text[at..], FOUND_CHARS)
            ),
        ));
    }
    if let Some(at) = find_at_edges(text, &CHATTER_PATTERN) {
        reasons.push(Reason::new(
            "chatter",
            format!(
                "section {title:?} contains chatter: {:?}",
                excerpt(&text[at..], FOUND_CHARS)
            ),
        ));
    }
    if ends_mid_sentence(text) {
        reasons.push(Reason::new(
            "truncated",
            format!(
                "section {title:?} ends mid-sentence: {:?}",
                format!("...{}", last_chars(text, ENDING_CHARS))
            ),
        ));
    }
}

fn refused(text: &str) -> Reason {
    Reason::new(
        "refusal",
        format!("model refused: {}", excerpt(text, EXCERPT_CHARS)),
    )
}

/// Unknown or missing finish reasons are tolerated: several servers send their own or none.
fn finish_reason_problem(finish: &FinishReason) -> Option<Reason> {
    match finish {
        FinishReason::Length => Some(Reason::new(
            "truncated",
            "answer truncated: finish_reason=length",
        )),
        FinishReason::ContentFilter => Some(Reason::new(
            "content_filter",
            "answer withheld by the server's content filter: finish_reason=content_filter",
        )),
        FinishReason::ToolCalls => Some(Reason::new(
            "tool_calls",
            "answer is a tool call, not text: finish_reason=tool_calls",
        )),
        FinishReason::Stop | FinishReason::Other(_) | FinishReason::Missing => None,
    }
}

/// Hangul letters / all letters (Latin, Hangul, CJK…); digits and punctuation do not count.
/// Text without letters has share 0.
pub fn hangul_share(text: &str) -> f64 {
    let (hangul, letters) = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .fold((0usize, 0usize), |(h, l), c| {
            (h + usize::from(is_hangul(c)), l + 1)
        });
    if letters == 0 {
        0.0
    } else {
        hangul as f64 / letters as f64
    }
}

fn is_hangul(c: char) -> bool {
    matches!(c,
        '\u{AC00}'..='\u{D7A3}'   // syllables
        | '\u{1100}'..='\u{11FF}' // jamo
        | '\u{3130}'..='\u{318F}' // compatibility jamo
        | '\u{A960}'..='\u{A97F}' // jamo extended-A
        | '\u{D7B0}'..='\u{D7FF}' // jamo extended-B
    )
}

/// An opening bracket, a quoted string, then `:` `,` `]` or `}`: `{"key": …`, `['a', …`, `{'k': …`.
/// Real malformed summaries carry Python-style dicts and lists, hence both quote kinds.
static STRAY_JSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[\[{]\s*(?:"[^"\n]{0,200}"|'[^'\n]{0,200}')\s*[:,\]}]"#)
        .expect("constant pattern")
});

/// Phrases a model uses to decline; matched case-insensitively. Only unambiguous ones: a
/// summary may well say a method "cannot" do something.
const REFUSALS: &[&str] = &[
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i'm unable to",
    "i am unable to",
    "as an ai",
    "as a language model",
    "죄송하지만",
    "죄송합니다",
    "도와드릴 수 없",
    "도움을 드릴 수 없",
];

/// Phrases of a model talking to the reader instead of summarising.
const CHATTER: &[&str] = &[
    "sure, here",
    "sure! here",
    "here is the summary",
    "here's the summary",
    "here is a summary",
    "here's a summary",
    "i hope this helps",
    "let me know if",
    "물론입니다",
    "물론이죠",
    "요약해 드리겠습니다",
    "요약해드리겠습니다",
    "요약하면 다음과 같습니다",
    "다음은 요약입니다",
    "도움이 되셨기를",
    "도움이 되었기를",
    "도움이 되길 바랍니다",
];

static REFUSAL_PATTERN: LazyLock<Regex> = LazyLock::new(|| phrase_pattern(REFUSALS));
static CHATTER_PATTERN: LazyLock<Regex> = LazyLock::new(|| phrase_pattern(CHATTER));

/// One case-insensitive pattern for a phrase list; `'` also matches the typographic `’`.
fn phrase_pattern(phrases: &[&str]) -> Regex {
    let alternatives: Vec<String> = phrases
        .iter()
        .map(|phrase| regex::escape(phrase).replace('\'', "['’]"))
        .collect();
    Regex::new(&format!("(?i){}", alternatives.join("|"))).expect("phrases are escaped")
}

/// Byte offset in `text` of the first phrase of the list `pattern` was built from.
fn find_phrase(text: &str, pattern: &Regex) -> Option<usize> {
    pattern.find(text).map(|found| found.start())
}

/// Like [`find_phrase`], but only where a model talks to the reader: in the first or the last
/// sentence of a section, and not inside quotes. A summary of a paper about refusals may well
/// quote '죄송합니다, 도와드릴 수 없습니다'.
fn find_at_edges(text: &str, pattern: &Regex) -> Option<usize> {
    pattern
        .find_iter(text)
        .find(|found| {
            let before = &text[..found.start()];
            let after = text[found.end()..]
                .trim_end_matches(|c: char| c.is_whitespace() || is_terminator(c) || is_closer(c));
            let sentence_start = before.rfind(is_terminator).map_or(0, |i| i + 1);
            let first_sentence = sentence_start == 0;
            let last_sentence = !after.contains(is_terminator);
            (first_sentence || last_sentence) && !inside_quotes(&before[sentence_start..])
        })
        .map(|found| found.start())
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '」' | '』' | '*'
    )
}

/// Whether text ending here has a quote open: an odd number of straight quotes or more opening
/// than closing curly/corner quotes.
fn inside_quotes(prefix: &str) -> bool {
    let count = |q: char| prefix.chars().filter(|&c| c == q).count();
    count('\'') % 2 == 1
        || count('"') % 2 == 1
        || count('‘') > count('’')
        || count('“') > count('”')
        || count('「') > count('」')
        || count('『') > count('』')
}

/// A section should end with a finished sentence. Accepted endings: `.` `!` `?` `。` `…`, a Korean
/// sentence-final syllable without a period (`…향상시켰다`, `…보여줌`), either followed by closing quotes or
/// brackets, or a final parenthesis after a finished sentence (`… 공개되었습니다. (https://…)`).
fn ends_mid_sentence(text: &str) -> bool {
    let text = text.trim_end();
    let unclosed = text.trim_end_matches(is_closer);
    if ends_sentence(unclosed) {
        return false;
    }
    if text.ends_with(')') {
        if let Some(open) = text.rfind('(') {
            return !ends_sentence(text[..open].trim_end());
        }
    }
    true
}

fn ends_sentence(text: &str) -> bool {
    text.chars()
        .next_back()
        .is_some_and(|c| is_terminator(c) || matches!(c, '…' | '다' | '요') || ends_in_mieum(c))
}

/// A Hangul syllable with final ㅁ: the noun-form ending of note-style sentences (`향상됨`, `보여줌`).
fn ends_in_mieum(c: char) -> bool {
    const FINAL_MIEUM: u32 = 16;
    matches!(c, '\u{AC00}'..='\u{D7A3}') && (u32::from(c) - 0xAC00) % 28 == FINAL_MIEUM
}

fn last_chars(text: &str, count: usize) -> &str {
    let start = text
        .char_indices()
        .rev()
        .nth(count.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[start..]
}

/// `2345` → `2,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separates_groups() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1200), "1,200");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn hangul_share_counts_letters_only() {
        assert_eq!(hangul_share("12.5%, (!)"), 0.0);
        assert_eq!(hangul_share("모델 AB"), 0.5);
        assert_eq!(hangul_share("모델은 2.5% 향상"), 1.0);
    }

    #[test]
    fn sentence_endings() {
        for ended in [
            "성능을 보였습니다.",
            "성능을 보였다",
            "성능을 보여줌",
            "공개합니다. (https://github.com/a/b)",
            "['결과입니다.']",
            "\"모델입니다.\"",
        ] {
            assert!(!ends_mid_sentence(ended), "{ended}");
        }
        for cut in ["대형 언어 모델(LLM)(", "and the model", "모델은 (Table 1)"] {
            assert!(ends_mid_sentence(cut), "{cut}");
        }
    }

    #[test]
    fn phrases_are_found_at_their_offset_after_curly_quotes() {
        let text = "모델’s 결과. I’m sorry, no.";
        let at = find_phrase(text, &REFUSAL_PATTERN).unwrap();
        assert!(text[at..].starts_with("I’m sorry"));
    }
}
