//! Parses a model's answer into the three sections.
//!
//! Accepted: a JSON object (bare or inside a ```` ``` ```` fence) keyed by `whats_new`/`technical_details`/
//! `performance_highlights` or by the section titles, or Markdown sections (`- **What's New**: …`
//! as published, `## What's New` headings, `**What's New:** …`). What was tolerated (a fence) and
//! what is wrong but recoverable (text around the sections) is recorded in [`ParsedAnswer`] for the
//! shape check to judge; missing, extra, repeated or out-of-order sections are a [`Reason`] here.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::Reason;
use crate::paper::{normalize_whitespace, Sections};

/// How long quoted excerpts of an answer are in messages, in characters.
pub(crate) const EXCERPT_CHARS: usize = 80;

/// Braces in prose tried as the start of a JSON object before giving up (bounds the work).
const MAX_BRACES_TRIED: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerFormat {
    Json,
    Markdown,
}

/// The sections of an answer and how they were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAnswer {
    /// Whitespace-normalised section texts, in published order.
    pub sections: Sections,
    pub format: AnswerFormat,
    /// The JSON sat inside a code fence: tolerated (servers without JSON mode often do this).
    pub fenced: bool,
    /// Text before the JSON object or the first section, e.g. "Sure, here is the summary:".
    pub preamble: Option<String>,
    /// Text after the JSON object (or its fence), e.g. a closing remark.
    pub postscript: Option<String>,
}

impl ParsedAnswer {
    /// All text found outside the sections (preamble and postscript), if any.
    pub fn outside_text(&self) -> Option<String> {
        match (&self.preamble, &self.postscript) {
            (None, None) => None,
            (Some(text), None) | (None, Some(text)) => Some(text.clone()),
            (Some(before), Some(after)) => Some(format!("{before} … {after}")),
        }
    }
}

/// Finds the three sections in `content`, or says precisely why they cannot be found.
pub fn parse(content: &str) -> Result<ParsedAnswer, Reason> {
    let text = content.trim();
    if text.is_empty() {
        return Err(Reason::new("empty", "empty answer"));
    }
    // Whichever comes first decides: a JSON object, or Markdown sections (whose text may itself
    // contain braces or a fenced block, reported later as stray JSON or a code fence).
    let headings = markdown_headings(text);
    let markdown_start = headings.iter().find(|h| h.known.is_some()).map(|h| h.start);
    let json_limit = markdown_start.unwrap_or(text.len());
    if let Some(fence) = find_json_fence(text).filter(|fence| fence.open < json_limit) {
        return parse_fenced(text, &fence);
    }
    if let Some(found) = find_json_object(text, json_limit) {
        return found;
    }
    if markdown_start.is_some() {
        return parse_markdown(text, &headings);
    }
    Err(Reason::new(
        "format",
        format!(
            "answer is not JSON or Markdown sections: {:?}",
            excerpt(text, EXCERPT_CHARS)
        ),
    ))
}

/// Tries each `{` before `limit` in turn as the start of the answer's JSON object; `None` when no
/// object is found.
fn find_json_object(text: &str, limit: usize) -> Option<Result<ParsedAnswer, Reason>> {
    let braces = text.match_indices('{').take_while(|(at, _)| *at < limit);
    for (start, _) in braces.take(MAX_BRACES_TRIED) {
        match parse_json_object_at(text, start) {
            Ok((entries, end)) => {
                return Some(build(
                    entries,
                    AnswerFormat::Json,
                    false,
                    outside(&text[..start]),
                    outside(&text[end..]),
                ))
            }
            // An answer that starts as JSON is JSON gone wrong (often cut off), not prose.
            Err(error) if start == 0 => return Some(Err(invalid_json(text, &error))),
            // A brace inside prose (`G_{stack}`) says nothing: try the next one.
            Err(_) => {}
        }
    }
    None
}

/// The first `max_chars` characters of `text`, with `...` when cut.
/// The start of `text` for a reason; reasons reach every output, so no code-running URL scheme
/// survives in them either.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    let mut chars = text.char_indices();
    let cut = match chars.nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    };
    crate::paper::defang_schemes(&cut)
}

fn outside(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn invalid_json(text: &str, error: &serde_json::Error) -> Reason {
    Reason::new(
        "json",
        format!(
            "answer is not valid JSON ({error}): {:?}",
            excerpt(text, EXCERPT_CHARS)
        ),
    )
}

/// A fenced block whose body is a JSON object: byte ranges into the answer.
struct Fence {
    /// Where the opening ```` ``` ```` starts.
    open: usize,
    /// The body between the fence lines.
    body: std::ops::Range<usize>,
    /// Just after the closing fence, or the end of the answer when it never closes (cut off).
    close_end: usize,
}

fn find_json_fence(text: &str) -> Option<Fence> {
    let open = text.find("```")?;
    let after_marker = open + 3;
    // The rest of the opening line is the language tag (`json`, or nothing).
    let line_end = text[after_marker..]
        .find('\n')
        .map_or(text.len(), |i| after_marker + i);
    let tag = text[after_marker..line_end].trim();
    if !(tag.is_empty() || tag.eq_ignore_ascii_case("json")) {
        return None;
    }
    let body_start = (line_end + 1).min(text.len());
    let (body_end, close_end) = match text[body_start..].find("```") {
        Some(i) => (body_start + i, body_start + i + 3),
        None => (text.len(), text.len()),
    };
    text[body_start..body_end]
        .trim_start()
        .starts_with('{')
        .then_some(Fence {
            open,
            body: body_start..body_end,
            close_end,
        })
}

fn parse_fenced(text: &str, fence: &Fence) -> Result<ParsedAnswer, Reason> {
    let body = &text[fence.body.clone()];
    let start = body.find('{').unwrap_or(0);
    let (entries, end) = parse_json_object_at(body, start).map_err(|e| invalid_json(body, &e))?;
    let after = format!("{} {}", &body[end..], &text[fence.close_end..]);
    build(
        entries,
        AnswerFormat::Json,
        true,
        outside(&text[..fence.open]),
        outside(&after),
    )
}

/// Parses one JSON object starting at byte `start`; returns its entries in order and where it ends.
fn parse_json_object_at(
    text: &str,
    start: usize,
) -> Result<(Vec<(String, Value)>, usize), serde_json::Error> {
    let rest = &text[start..];
    match parse_first_object(rest) {
        // Servers that constrain output with a grammar (llama.cpp) let raw newlines into strings:
        // strict JSON rejects them, but the text is unambiguous, so read them as spaces.
        Err(error) if error.to_string().contains("control character") => {
            parse_first_object(&blank_raw_controls_in_strings(rest))
        }
        result => result,
    }
    .map(|(entries, end)| (entries, start + end))
}

fn parse_first_object(text: &str) -> Result<(Vec<(String, Value)>, usize), serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<OrderedObject>();
    match stream.next() {
        Some(Ok(object)) => Ok((object.0, stream.byte_offset())),
        Some(Err(error)) => Err(error),
        // The text starts with `{`, so the stream always yields something; keep a typed error anyway.
        None => Err(serde::de::Error::custom("no JSON value")),
    }
}

/// Replaces control characters inside JSON string literals with spaces (same byte length, so
/// offsets into the original text stay valid).
pub(crate) fn blank_raw_controls_in_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            c if in_string && c.is_ascii_control() => {
                out.push(' ');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A JSON object's entries in the order written (serde_json's map would sort them).
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = OrderedObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedObject(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// A line that starts a Markdown section.
#[derive(Debug)]
struct Heading {
    /// Byte offset of the line in the answer.
    start: usize,
    /// Byte offset where the section's text begins (after the title, on the same line).
    body_start: usize,
    title: String,
    /// Index into [`Sections::TITLES`] when the title is one of the three.
    known: Option<usize>,
}

/// `- **Title**: text`, `**Title:** text`, `1. **Title**`, `### **Title**`.
static BOLD_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[ \t]*(?:[-*+][ \t]+|\d{1,2}[.)][ \t]+)?(?:#{1,6}[ \t]+)?\*\*[ \t]*(?P<title>[^*\n]{1,60}?)[ \t]*(?P<inner>:)?[ \t]*\*\*[ \t]*(?P<outer>:)?",
    )
    .expect("constant pattern")
});

/// `## Title`, `### Title:`.
static HASH_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t]*#{1,6}[ \t]+(?P<title>[^\n]{1,60}?)[ \t]*:?[ \t]*$")
        .expect("constant pattern")
});

/// `What's New: text` without any markup, only for the three known titles.
static PLAIN_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[ \t]*(?:[-*+][ \t]+)?(?P<title>what['’]?s new|technical details|performance highlights)[ \t]*:")
        .expect("constant pattern")
});

fn markdown_headings(text: &str) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_text = line.trim_end_matches(['\n', '\r']);
        if let Some((title, title_end)) = heading_in_line(line_text) {
            headings.push(Heading {
                start: offset,
                body_start: offset + title_end,
                known: section_index(&title),
                title,
            });
        }
        offset += line.len();
    }
    headings
}

/// The heading title in `line` and where the text after it starts, if the line is a heading.
fn heading_in_line(line: &str) -> Option<(String, usize)> {
    if let Some(caps) = BOLD_HEADING.captures(line) {
        let end = caps.get(0).map_or(0, |m| m.end());
        let has_colon = caps.name("inner").is_some() || caps.name("outer").is_some();
        // A bold phrase opening a sentence (`**Molmo**는 …`) is emphasis, not a heading.
        if has_colon || line[end..].trim().is_empty() {
            let title = caps.name("title").map_or("", |m| m.as_str());
            return Some((title.to_string(), end));
        }
        return None;
    }
    if let Some(caps) = HASH_HEADING.captures(line) {
        let title = caps.name("title").map_or("", |m| m.as_str());
        return Some((title.trim_matches('*').trim().to_string(), line.len()));
    }
    let caps = PLAIN_HEADING.captures(line)?;
    let end = caps.get(0).map_or(0, |m| m.end());
    Some((
        caps.name("title").map_or("", |m| m.as_str()).to_string(),
        end,
    ))
}

/// Which of the three sections a key or title names: `whats_new`, `What's New`, `WHAT’S NEW:`.
fn section_index(title: &str) -> Option<usize> {
    let key: String = title
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    match key.as_str() {
        "whatsnew" => Some(0),
        "technicaldetails" => Some(1),
        "performancehighlights" => Some(2),
        _ => None,
    }
}

fn parse_markdown(text: &str, headings: &[Heading]) -> Result<ParsedAnswer, Reason> {
    // Unknown headings before the first known one (`# 요약`) are part of the preamble.
    let first = headings.iter().position(|h| h.known.is_some()).unwrap_or(0);
    let used = headings.get(first..).unwrap_or_default();
    let preamble = used.first().and_then(|h| outside(&text[..h.start]));
    let entries = used
        .iter()
        .enumerate()
        .map(|(i, heading)| {
            let end = used.get(i + 1).map_or(text.len(), |next| next.start);
            let body = text.get(heading.body_start..end).unwrap_or("");
            (heading.title.clone(), Value::String(body.to_string()))
        })
        .collect();
    build(entries, AnswerFormat::Markdown, false, preamble, None)
}

/// Checks that `entries` are exactly the three sections, each text, in order for Markdown.
fn build(
    entries: Vec<(String, Value)>,
    format: AnswerFormat,
    fenced: bool,
    preamble: Option<String>,
    postscript: Option<String>,
) -> Result<ParsedAnswer, Reason> {
    let mut problems = Vec::new();
    let mut texts: [Option<String>; 3] = [None, None, None];
    let mut order = Vec::new();
    for (title, value) in entries {
        let Some(index) = section_index(&title) else {
            problems.push(format!("unexpected section {title:?}"));
            continue;
        };
        let name = Sections::TITLES[index];
        if texts[index].is_some() {
            problems.push(format!("section {name:?} appears twice"));
            continue;
        }
        order.push(index);
        match value {
            Value::String(text) => texts[index] = Some(normalize_whitespace(&text)),
            other => {
                problems.push(format!(
                    "section {name:?} is {}, not text",
                    json_kind(&other)
                ));
                texts[index] = Some(String::new());
            }
        }
    }
    let missing: Vec<String> = Sections::TITLES
        .iter()
        .zip(&texts)
        .filter(|(_, text)| text.is_none())
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    if !missing.is_empty() {
        let noun = if missing.len() == 1 {
            "section"
        } else {
            "sections"
        };
        problems.push(format!("missing {noun} {}", missing.join(", ")));
    }
    // JSON objects are unordered (RFC 8259) and serializers sort keys; only text order matters.
    let order_matters = format == AnswerFormat::Markdown;
    if let Some(pair) = order
        .windows(2)
        .find(|pair| order_matters && pair[0] > pair[1])
    {
        problems.push(format!(
            "sections out of order: {:?} before {:?}",
            Sections::TITLES[pair[0]],
            Sections::TITLES[pair[1]]
        ));
    }
    if !problems.is_empty() {
        return Err(Reason::new("sections", problems.join("; ")));
    }
    // Every section is present (checked above), so no default is ever used.
    let [whats_new, technical_details, performance_highlights] =
        texts.map(Option::unwrap_or_default);
    Ok(ParsedAnswer {
        sections: Sections {
            whats_new,
            technical_details,
            performance_highlights,
        },
        format,
        fenced,
        preamble,
        postscript,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a JSON array",
        Value::Object(_) => "a JSON object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_keys_and_titles_map_to_the_same_section() {
        for key in ["whats_new", "What's New", "WHAT’S NEW:", "whatsNew"] {
            assert_eq!(section_index(key), Some(0), "{key}");
        }
        assert_eq!(section_index("technical_details"), Some(1));
        assert_eq!(section_index("Performance Highlights"), Some(2));
        assert_eq!(section_index("Conclusion"), None);
    }

    #[test]
    fn excerpt_cuts_on_characters_not_bytes() {
        assert_eq!(excerpt("가나다라", 2), "가나...");
        assert_eq!(excerpt("가나", 2), "가나");
    }
}
