//! Hugging Face daily papers: `GET {base}/api/daily_papers?date=YYYY-MM-DD` (JSON list).
//!
//! Each list item is `{"paper": {...}, "thumbnail": ..., ...}`; the abstract is `paper.summary`. Both
//! the 2024 schema and the later one with extra fields (`ai_summary`, `githubRepo`, a top-level
//! `summary`, ...) parse: unknown fields are ignored.
//!
//! Authors are kept in order including those marked `hidden: true`: that flag hides the author's
//! Hugging Face profile link, not their authorship, and the arXiv listing shows them too.
//!
//! An item that cannot become a [`Paper`] (no `paper.id`, an invalid ID, no title, a field of the
//! wrong type) is skipped with a warning that names the item; a list in which *no* item is usable is
//! an error, so a schema change is never mistaken for a day without papers.

use std::collections::HashSet;

use chrono::NaiveDate;
use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::http::{self, SourceHttp};
use super::{DayList, SourceError};
use crate::paper::{normalize_whitespace, ArxivId, Paper};

/// Parses one `api/daily_papers` response body; `origin` (URL or file path) names it in errors.
///
/// An HF error body (`{"error": "..."}`) is reported as [`SourceError::Malformed`] here, since the
/// date is unknown; [`HfClient::daily`] reports it as [`SourceError::HfApi`].
pub fn parse(body: &str, origin: &str) -> Result<Vec<Paper>, SourceError> {
    match parse_body(body, origin)? {
        Body::Papers { papers, .. } => Ok(papers),
        Body::ApiError(message) => Err(malformed(
            origin,
            format!("Hugging Face error body instead of a paper list: {message}"),
        )),
    }
}

/// What one response body says.
enum Body {
    /// `entries` counts list items, usable or not (paging depends on it).
    Papers {
        papers: Vec<Paper>,
        entries: usize,
    },
    ApiError(String),
}

fn parse_body(body: &str, origin: &str) -> Result<Body, SourceError> {
    // A list is read item by item from slices of the body: a day of 10,000 papers never exists
    // as one JSON value tree in memory.
    if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(body) {
        let entries = items.len();
        let papers = papers_from_items(&items, origin)?;
        return Ok(Body::Papers { papers, entries });
    }
    let value: Value =
        serde_json::from_str(body).map_err(|e| malformed(origin, format!("invalid JSON: {e}")))?;
    match value {
        Value::Object(map) => match map.get("error") {
            Some(Value::String(message)) => Ok(Body::ApiError(message.clone())),
            Some(other) => Ok(Body::ApiError(other.to_string())),
            None => {
                let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
                Err(malformed(
                    origin,
                    format!("expected a list of daily papers, found an object with keys {keys:?}"),
                ))
            }
        },
        other => Err(malformed(
            origin,
            format!(
                "expected a list of daily papers, found {}",
                json_kind(&other)
            ),
        )),
    }
}

fn papers_from_items(items: &[&RawValue], origin: &str) -> Result<Vec<Paper>, SourceError> {
    let total = items.len();
    let mut papers = Vec::with_capacity(total);
    let mut first_problem = None;
    for (index, item) in items.iter().enumerate() {
        match paper_from_item(item.get()) {
            Ok(paper) => papers.push(paper),
            Err(reason) => {
                let label = item_label(index, item.get());
                tracing::warn!(origin, item = %label, %reason, "skipping Hugging Face daily papers item");
                first_problem.get_or_insert(format!("{label}: {reason}"));
            }
        }
    }
    match first_problem {
        Some(problem) if papers.is_empty() => Err(malformed(
            origin,
            format!("none of the {total} items is a usable paper; first problem: {problem}"),
        )),
        _ => Ok(papers),
    }
}

/// `item 3 (2409.13346)` or `item 3 ("Some title")`, whatever the item offers.
fn item_label(index: usize, item: &str) -> String {
    let item: Value = serde_json::from_str(item).unwrap_or(Value::Null);
    let id = item.pointer("/paper/id").and_then(Value::as_str);
    let title = item
        .pointer("/paper/title")
        .or_else(|| item.get("title"))
        .and_then(Value::as_str);
    match (id, title) {
        (Some(id), _) => format!("item {index} ({id})"),
        (None, Some(title)) => format!("item {index} ({:?})", normalize_whitespace(title)),
        (None, None) => format!("item {index}"),
    }
}

#[derive(Deserialize)]
struct RawItem {
    paper: RawPaper,
    title: Option<String>,
    summary: Option<String>,
    thumbnail: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPaper {
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    authors: Option<Vec<RawAuthor>>,
    upvotes: Option<i64>,
    published_at: Option<String>,
}

#[derive(Deserialize)]
struct RawAuthor {
    name: Option<String>,
}

fn paper_from_item(item: &str) -> Result<Paper, String> {
    let raw: RawItem = serde_json::from_str(item).map_err(|e| e.to_string())?;
    let id_text = raw.paper.id.ok_or("no paper.id")?;
    let parsed = ArxivId::parse(&id_text).map_err(|e| e.to_string())?;
    let title = normalize_whitespace(raw.paper.title.or(raw.title).as_deref().unwrap_or(""));
    if title.is_empty() {
        return Err("no title".to_string());
    }
    let abstract_text =
        normalize_whitespace(raw.paper.summary.or(raw.summary).as_deref().unwrap_or(""));
    let authors = raw
        .paper
        .authors
        .unwrap_or_default()
        .into_iter()
        .filter_map(|author| author.name)
        .map(|name| normalize_whitespace(&name))
        .filter(|name| !name.is_empty())
        .collect();
    Ok(Paper {
        id: parsed.id,
        version: parsed.version,
        title,
        authors,
        abstract_text,
        upvotes: raw.paper.upvotes,
        thumbnail: raw.thumbnail.filter(|t| !t.trim().is_empty()),
        published: raw.paper.published_at,
        updated: None,
        primary_category: None,
        categories: Vec::new(),
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn malformed(origin: &str, message: String) -> SourceError {
    SourceError::Malformed {
        input: origin.to_string(),
        message,
    }
}

/// One page of the daily list.
struct Page {
    papers: Vec<Paper>,
    /// List items, usable or not.
    entries: usize,
    next_page: Option<bool>,
}

/// Client for the daily papers endpoint; follows `limit`/`p` paging.
#[derive(Debug, Clone)]
pub struct HfClient {
    endpoint: Url,
    http: SourceHttp,
    page_size: usize,
    max_pages: usize,
}

impl HfClient {
    /// `base_url` is the site root, e.g. `https://huggingface.co`; `/api/daily_papers` is appended.
    /// `page_size` items are asked for per request, at most `max_pages` pages a day (both at least 1).
    pub fn new(
        base_url: &str,
        http: SourceHttp,
        page_size: usize,
        max_pages: usize,
    ) -> Result<Self, SourceError> {
        Ok(HfClient {
            endpoint: http::endpoint(base_url, &["api", "daily_papers"])?,
            http,
            page_size: page_size.max(1),
            max_pages: max_pages.max(1),
        })
    }

    /// The papers listed for `date`, in HF's order, each ID once. Pages are asked for until the
    /// server says there are no more: an empty page, a `Link` header without `rel="next"`, or a page
    /// of papers already seen (a server that ignores `p`; warned). A page shorter than asked is not an
    /// end: servers cap the page size below what is asked. Reaching the page limit leaves the list
    /// incomplete, and says so. An empty list is no announcement, not an error.
    pub async fn daily(&self, date: NaiveDate) -> Result<DayList, SourceError> {
        let mut papers = Vec::new();
        let mut seen = HashSet::new();
        for page in 0..self.max_pages {
            let fetched = self.page(date, page).await?;
            let before = papers.len();
            for paper in fetched.papers {
                if seen.insert(paper.id.clone()) {
                    papers.push(paper);
                }
            }
            if fetched.entries == 0 || fetched.next_page == Some(false) {
                return Ok(DayList::complete(papers));
            }
            if papers.len() == before && fetched.next_page.is_none() {
                let note = format!(
                    "Hugging Face answered page {} with papers already listed (it seems to ignore `p`): stopped there",
                    page + 1
                );
                tracing::warn!(%date, listed = papers.len(), "{note}");
                return Ok(DayList {
                    papers,
                    complete: true,
                    note: Some(note),
                });
            }
        }
        let note = format!(
            "the page limit was reached ({} pages of {}): later papers of the day were not fetched",
            self.max_pages, self.page_size
        );
        tracing::warn!(%date, listed = papers.len(), "{note}");
        Ok(DayList {
            papers,
            complete: false,
            note: Some(note),
        })
    }

    async fn page(&self, date: NaiveDate, page: usize) -> Result<Page, SourceError> {
        let query = [
            ("date", date.format("%Y-%m-%d").to_string()),
            ("limit", self.page_size.to_string()),
            ("p", page.to_string()),
        ];
        let fetched = http::get(&self.http, &self.endpoint, &query).await?;
        let success = fetched.status.is_success();
        match parse_body(&fetched.body, &fetched.url) {
            Ok(Body::ApiError(message)) => Err(SourceError::HfApi { date, message }),
            Ok(Body::Papers { papers, entries }) if success => Ok(Page {
                papers,
                entries,
                next_page: fetched.next_page,
            }),
            Err(error) if success => Err(error),
            _ => Err(SourceError::Http {
                url: fetched.url,
                status: fetched.status.as_u16(),
                message: http::snippet(&fetched.body),
            }),
        }
    }
}
