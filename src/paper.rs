//! The domain types every stage shares: who a paper is, what it says, and what became of its summary.
//!
//! Values are parsed once at the boundary (a source, the CLI, the store) and trusted afterwards.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An arXiv identifier without its version: `2409.17481` or the old style `hep-th/9901001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArxivId(String);

/// An identifier as a user or a feed gave it, with the version kept apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedId {
    pub id: ArxivId,
    pub version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an arXiv ID: {input:?} (expected forms like 2409.17481, 2409.17481v2, arXiv:2409.17481, https://arxiv.org/abs/2409.17481, hep-th/9901001)")]
pub struct IdError {
    pub input: String,
}

impl ArxivId {
    /// Parses every form users paste: bare, versioned, `arXiv:` prefixed, abs/pdf URLs, old style.
    pub fn parse(input: &str) -> Result<VersionedId, IdError> {
        let err = || IdError {
            input: input.to_string(),
        };
        let trimmed = input.trim();
        let body = strip_url(trimmed).unwrap_or(trimmed);
        let body = strip_prefix_ci(body, "arxiv:").unwrap_or(body);
        let body = body.strip_suffix(".pdf").unwrap_or(body);
        let body = body.trim_end_matches('/');
        let (core, version) = split_version(body).ok_or_else(err)?;
        if is_new_style(core) || is_old_style(core) {
            Ok(VersionedId {
                id: ArxivId(core.to_string()),
                version,
            })
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `https://arxiv.org/abs/ID`, `http://export.arxiv.org/pdf/IDv2`, `arxiv.org/abs/ID`.
fn strip_url(text: &str) -> Option<&str> {
    let rest = strip_prefix_ci(text, "https://")
        .or_else(|| strip_prefix_ci(text, "http://"))
        .unwrap_or(text);
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    if host != "arxiv.org" && !host.ends_with(".arxiv.org") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.strip_prefix("abs/")
        .or_else(|| path.strip_prefix("pdf/"))
        .or_else(|| path.strip_prefix("html/"))
}

fn split_version(body: &str) -> Option<(&str, Option<u32>)> {
    match body.rfind('v') {
        Some(pos) if pos > 0 && body[pos + 1..].chars().all(|c| c.is_ascii_digit()) => {
            let digits = &body[pos + 1..];
            if digits.is_empty() {
                return None;
            }
            let version = digits.parse().ok().filter(|v| *v > 0)?;
            Some((&body[..pos], Some(version)))
        }
        _ => Some((body, None)),
    }
}

/// `YYMM.NNNN` (April 2007 to 2014) or `YYMM.NNNNN` (2015 on).
fn is_new_style(core: &str) -> bool {
    let Some((yymm, number)) = core.split_once('.') else {
        return false;
    };
    if yymm.len() != 4 || !yymm.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let (Ok(year), Ok(month)) = (yymm[..2].parse::<u8>(), yymm[2..].parse::<u8>()) else {
        return false;
    };
    let digits_expected = if year >= 15 { 5 } else { 4 };
    (1..=12).contains(&month)
        && (7..=99).contains(&year)
        && number.len() == digits_expected
        && number.chars().all(|c| c.is_ascii_digit())
}

/// `archive(.SUBJ)/YYMMNNN`, e.g. `hep-th/9901001`, `math.GT/0309136`.
fn is_old_style(core: &str) -> bool {
    let Some((archive, number)) = core.split_once('/') else {
        return false;
    };
    let (name, subject) = match archive.split_once('.') {
        Some((name, subject)) => (name, Some(subject)),
        None => (archive, None),
    };
    let name_ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    let subject_ok =
        subject.is_none_or(|s| s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()));
    let number_ok = number.len() == 7
        && number.chars().all(|c| c.is_ascii_digit())
        && matches!(number[2..4].parse::<u8>(), Ok(1..=12));
    name_ok && subject_ok && number_ok
}

impl FromStr for ArxivId {
    type Err = IdError;

    /// Parses any accepted form and drops the version.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArxivId::parse(s).map(|v| v.id)
    }
}

impl TryFrom<String> for ArxivId {
    type Error = IdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ArxivId> for String {
    fn from(id: ArxivId) -> Self {
        id.0
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One paper as a source describes it. Text fields are whitespace-normalised by the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    pub id: ArxivId,
    pub version: Option<u32>,
    pub title: String,
    /// In source order.
    pub authors: Vec<String>,
    /// The abstract; may be empty when a source has none (such a paper is not sent to the model).
    pub abstract_text: String,
    /// Hugging Face upvotes; `None` for arXiv, which has no votes.
    pub upvotes: Option<i64>,
    pub thumbnail: Option<String>,
    /// RFC 3339 timestamps as the source gave them.
    pub published: Option<String>,
    pub updated: Option<String>,
    pub primary_category: Option<String>,
    pub categories: Vec<String>,
}

impl Paper {
    /// Identifies the exact text a summary was made from (part of the idempotency key).
    pub fn abstract_hash(&self) -> String {
        hex_sha256(self.abstract_text.as_bytes())
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// URL schemes that run code or carry content where a link is expected.
const DANGEROUS_SCHEMES: [&str; 3] = ["javascript:", "data:", "vbscript:"];

/// The one rule on untrusted text shared by every output: `javascript:x` → `javascript[:]x` (any case),
/// so the text reads the same and is never a usable URL. A scheme followed by a space is prose
/// (`data: 10k samples`) and stays.
pub fn defang_schemes(text: &str) -> String {
    // ASCII lower-casing keeps every byte offset, so a match in `lower` is at the same place in `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len() + 8);
    let mut from = 0;
    while let Some((at, len)) = first_scheme(&lower[from..]) {
        // The match is ASCII, so the colon and the byte after it are char boundaries.
        let colon = from + at + len - 1;
        out.push_str(&text[from..colon]);
        from = colon + 1;
        if text[from..].starts_with(|c: char| !c.is_whitespace()) {
            out.push_str("[:]");
        } else {
            out.push(':');
        }
    }
    out.push_str(&text[from..]);
    out
}

/// The first dangerous scheme in already lower-cased `lower`: its byte offset and length.
fn first_scheme(lower: &str) -> Option<(usize, usize)> {
    DANGEROUS_SCHEMES
        .iter()
        .filter_map(|scheme| lower.find(scheme).map(|at| (at, scheme.len())))
        .min()
}

/// Collapses runs of whitespace (feeds wrap lines) into single spaces.
pub fn normalize_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The three published sections, in their published order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sections {
    pub whats_new: String,
    pub technical_details: String,
    pub performance_highlights: String,
}

impl Sections {
    pub const TITLES: [&'static str; 3] =
        ["What's New", "Technical Details", "Performance Highlights"];

    /// `(title, text)` pairs in published order.
    pub fn iter(&self) -> [(&'static str, &str); 3] {
        [
            (Self::TITLES[0], self.whats_new.as_str()),
            (Self::TITLES[1], self.technical_details.as_str()),
            (Self::TITLES[2], self.performance_highlights.as_str()),
        ]
    }

    /// All three sections as one text, for checks that look at the whole summary.
    pub fn joined(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.whats_new, self.technical_details, self.performance_highlights
        )
    }
}

/// What became of a paper's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed every check: published.
    Ok,
    /// A check failed: kept for review with its reasons, not published by default.
    Flagged,
    /// No usable answer after retries and repairs: kept with the last error.
    Failed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Ok, Status::Flagged, Status::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Flagged => "flagged",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a summary was made from: the same key means the same result, so it is not paid for twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SummaryKey {
    pub abstract_hash: String,
    pub prompt_version: String,
    pub model: String,
}

impl SummaryKey {
    /// The key of a summary of `paper` made with these prompts and this model.
    pub fn new(paper: &Paper, prompt_version: &str, model: &str) -> SummaryKey {
        SummaryKey {
            abstract_hash: paper.abstract_hash(),
            prompt_version: prompt_version.to_string(),
            model: model.to_string(),
        }
    }
}

/// How an answer's format was constrained, after any fallback the model server forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// `response_format: json_schema` (OpenAI structured output).
    JsonSchema,
    /// `response_format: json_object` (JSON mode; llama.cpp also takes a schema here).
    JsonObject,
    /// No `response_format`: the answer is parsed from free text (JSON or Markdown sections).
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?} (expected ok, flagged or failed)")]
pub struct StatusError(String);

impl FromStr for Status {
    type Err = StatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| StatusError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> (String, Option<u32>) {
        let v = ArxivId::parse(input).unwrap();
        (v.id.to_string(), v.version)
    }

    #[test]
    fn parses_every_pasted_form() {
        let cases = [
            ("2409.17481", ("2409.17481", None)),
            ("2409.17481v2", ("2409.17481", Some(2))),
            ("arXiv:2409.17481", ("2409.17481", None)),
            ("ARXIV:2409.17481v3", ("2409.17481", Some(3))),
            (
                "https://arxiv.org/abs/2409.17481v1",
                ("2409.17481", Some(1)),
            ),
            ("https://arxiv.org/pdf/2409.17481", ("2409.17481", None)),
            (
                "http://arxiv.org/pdf/2409.17481v2.pdf",
                ("2409.17481", Some(2)),
            ),
            (
                "https://export.arxiv.org/abs/2409.17481",
                ("2409.17481", None),
            ),
            ("arxiv.org/abs/2409.17481", ("2409.17481", None)),
            ("  2409.17481 \n", ("2409.17481", None)),
            ("0704.0001", ("0704.0001", None)),
            ("1111.2011v2", ("1111.2011", Some(2))),
            ("hep-th/9901001", ("hep-th/9901001", None)),
            ("hep-th/9901001v1", ("hep-th/9901001", Some(1))),
            ("math.GT/0309136", ("math.GT/0309136", None)),
            (
                "https://arxiv.org/abs/quant-ph/0201082v1",
                ("quant-ph/0201082", Some(1)),
            ),
        ];
        for (input, (id, version)) in cases {
            assert_eq!(parsed(input), (id.to_string(), version), "input {input:?}");
        }
    }

    #[test]
    fn rejects_anything_else_naming_the_input() {
        for bad in [
            "",
            "abc",
            "2409.1748",
            "1111.20111",
            "2409.174811",
            "2413.17481",
            "2409.17481v",
            "2409.17481v0",
            "https://example.com/abs/2409.17481",
            "hep-th/990100",
            "HEP-TH/9901001",
            "2409.17481 2409.17482",
        ] {
            let err = ArxivId::parse(bad).unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")));
        }
    }

    #[test]
    fn status_round_trips() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert!("published".parse::<Status>().is_err());
    }
}
