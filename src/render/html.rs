//! A day's digest as HTML, for every HTML output (the static site, the review page, the feed's
//! content): the same entries, order and warnings as the Markdown digest, an anchor per paper, no
//! external asset and no script. Every value goes through the shared text rule ([`text::one_line`])
//! and then minijinja's HTML escaping; links are only the paper's own arXiv page, and a thumbnail
//! only when its URL is plain http(s).
//!
//! The templates (`templates/page.html`, `templates/day.html`) are compiled in.

use std::sync::LazyLock;

use chrono::NaiveDate;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::digest::{flagged_warning, held_note, publication_order, vote_text, DigestEntry};
use super::text;
use crate::paper::Status;

const PAGE: &str = "page.html";
const DAY: &str = "day.html";
const INDEX: &str = "index.html";
const NAV: &str = "nav.html";

/// The built-in templates, parsed once; they are constants rendered by this module's tests.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    environment(&[
        (PAGE, include_str!("../../templates/page.html")),
        (DAY, include_str!("../../templates/day.html")),
        (INDEX, include_str!("../../templates/index.html")),
        (NAV, include_str!("../../templates/nav.html")),
    ])
});

/// Built-in `(name, source)` templates as every HTML output renders them: undefined values are
/// errors, every value is HTML-escaped.
pub(crate) fn environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for &(name, source) in templates {
        if let Err(error) = env.add_template(name, source) {
            // A defect of the build, caught by the tests; the page then says so instead of crashing.
            tracing::error!(%error, template = name, "a built-in HTML template does not parse");
        }
    }
    env
}

/// Template `name` of `env` rendered with `context`.
pub(crate) fn render_with(
    env: &Environment<'_>,
    name: &'static str,
    context: minijinja::Value,
) -> Result<String, HtmlError> {
    env.get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|e| HtmlError {
            template: name,
            message: e.to_string(),
        })
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the HTML template {template}: {message}")]
pub struct HtmlError {
    pub template: &'static str,
    pub message: String,
}

/// A whole HTML document: `title` (escaped) around `body` (already HTML, from this module),
/// announcing an Atom feed at `feed_href` (relative or absolute) when there is one.
pub fn page(title: &str, body: &str, feed_href: Option<&str>) -> Result<String, HtmlError> {
    render_with(
        &TEMPLATES,
        PAGE,
        minijinja::context! {
            title => text::one_line(title),
            body => body,
            feed_href => feed_href.map(text::one_line),
        },
    )
}

/// One day of a site's index: its page, and how many summaries it published and held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexDay {
    pub date: NaiveDate,
    /// The day's page, relative to the index.
    pub href: String,
    pub papers: u64,
    pub held: u64,
}

/// A site's index as an HTML `<section>`: `days` as given (newest first), each linked to its page
/// with its counts; a link to the feed when there is one.
pub fn index(title: &str, days: &[IndexDay], feed_href: Option<&str>) -> Result<String, HtmlError> {
    let days: Vec<IndexDay> = days
        .iter()
        .map(|day| IndexDay {
            href: text::one_line(&day.href),
            ..day.clone()
        })
        .collect();
    render_with(
        &TEMPLATES,
        INDEX,
        minijinja::context! {
            title => text::one_line(title),
            days => minijinja::Value::from(minijinja::value::Serde(&days)),
            feed_href => feed_href.map(text::one_line),
        },
    )
}

/// A `<nav>` with one link (a day page's way back to the index).
pub fn back_link(href: &str, label: &str) -> Result<String, HtmlError> {
    render_with(
        &TEMPLATES,
        NAV,
        minijinja::context! { href => text::one_line(href), label => text::one_line(label) },
    )
}

/// The day's published entries as an HTML `<section>`: ok summaries, and flagged ones under a warning
/// when `include_flagged`; the others are counted as held.
pub fn day(
    date: NaiveDate,
    entries: &[DigestEntry],
    include_flagged: bool,
) -> Result<String, HtmlError> {
    let papers: Vec<PaperView> = publication_order(entries)
        .into_iter()
        .filter_map(|entry| PaperView::of(entry, include_flagged))
        .collect();
    let held = entries.len() - papers.len();
    render_with(
        &TEMPLATES,
        DAY,
        minijinja::context! {
            date => date.to_string(),
            listed => entries.len(),
            held => held,
            held_note => held_note(held),
            papers => minijinja::Value::from(minijinja::value::Serde(&papers)),
        },
    )
}

/// The anchor of a paper on a day's page: `p-2409.13346` (old-style IDs: `/` as `-`).
pub fn anchor(id: &crate::paper::ArxivId) -> String {
    format!("p-{}", id.as_str().replace('/', "-"))
}

#[derive(Serialize)]
struct PaperView {
    anchor: String,
    url: String,
    title: String,
    thumbnail: Option<String>,
    votes: Option<String>,
    authors: String,
    warning: Option<String>,
    reviewed: Option<String>,
    sections: Vec<SectionView>,
}

#[derive(Serialize)]
struct SectionView {
    title: &'static str,
    text: String,
}

impl PaperView {
    fn of(entry: &DigestEntry, include_flagged: bool) -> Option<PaperView> {
        let sections = entry.published(include_flagged)?;
        let warning = (entry.status == Some(Status::Flagged)).then(|| {
            let reasons: Vec<String> = entry.reasons.iter().map(|r| text::one_line(r)).collect();
            flagged_warning(&reasons)
        });
        Some(PaperView {
            anchor: anchor(&entry.id),
            url: entry.id.abs_url(),
            title: text::one_line(&entry.title),
            thumbnail: entry.thumbnail.as_deref().and_then(text::image_url),
            votes: entry.votes.map(vote_text),
            authors: entry
                .authors
                .iter()
                .map(|a| text::one_line(a))
                .collect::<Vec<_>>()
                .join(", "),
            warning,
            reviewed: entry.reviewed.as_ref().map(|r| text::one_line(&r.line())),
            sections: sections
                .iter()
                .into_iter()
                .map(|(title, text)| SectionView {
                    title,
                    text: text::one_line(text),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper::Sections;

    fn entry(id: &str, title: &str, status: Status, votes: i64) -> DigestEntry {
        DigestEntry {
            id: id.parse().unwrap(),
            title: title.to_string(),
            thumbnail: Some("javascript:alert(1)".to_string()),
            votes: Some(votes),
            authors: vec!["Mallory <b>Bold</b>".to_string()],
            status: Some(status),
            sections: Some(Sections {
                whats_new: "새로운 <script>alert(1)</script> 방법입니다.".to_string(),
                technical_details: "기술 & 세부 사항입니다.".to_string(),
                performance_highlights: "성능이 \"좋습니다\".".to_string(),
            }),
            reasons: vec!["anchors: javascript:x 외 0%".to_string()],
            reviewed: None,
        }
    }

    /// The page used to end a flagged summary's warning with a colon and no reasons.
    #[test]
    fn a_flagged_warning_without_reasons_has_no_dangling_colon() {
        let mut flagged = entry("2409.00002", "Flagged", Status::Flagged, 9);
        flagged.reasons.clear();
        let html = day("2024-09-23".parse().unwrap(), &[flagged], true).unwrap();
        assert!(html.contains("(flagged for review)<"), "{html}");
        assert!(!html.contains("(flagged for review):"), "{html}");
    }

    #[test]
    fn every_value_is_escaped_and_no_script_or_scheme_survives() {
        let entries = [
            entry(
                "2409.00001",
                "Good <img src=x onerror=alert(1)>",
                Status::Ok,
                3,
            ),
            entry("2409.00002", "Flagged", Status::Flagged, 9),
            entry("2409.00003", "Failed", Status::Failed, 1),
        ];
        let date = "2024-09-23".parse().unwrap();
        let body = day(date, &entries, false).unwrap();
        let html = page("Daily Papers (2024-09-23)", &body, None).unwrap();
        for raw in ["<script", "<img src=x", "<b>", "javascript:"] {
            assert!(!html.contains(raw), "{raw} in:\n{html}");
        }
        assert!(html.contains("id=\"p-2409.00001\""), "{html}");
        assert!(!html.contains("p-2409.00002"), "flagged left out:\n{html}");
        assert!(
            html.contains("held for review or not summarized yet: 2 papers"),
            "{html}"
        );
        let with_flagged = day(date, &entries, true).unwrap();
        let flagged_at = with_flagged.find("p-2409.00002").unwrap_or(usize::MAX);
        let ok_at = with_flagged.find("p-2409.00001").unwrap_or(0);
        assert!(flagged_at < ok_at, "by votes: {with_flagged}");
        assert!(with_flagged.contains("검토 필요"), "{with_flagged}");
    }

    #[test]
    fn the_index_lists_days_with_counts_and_escapes_its_values() {
        let days = [IndexDay {
            date: "2024-09-23".parse().unwrap(),
            href: "days/2024-09-23.html\"><script>".to_string(),
            papers: 12,
            held: 3,
        }];
        let body = index("Papers <b>", &days, Some("feed.xml")).unwrap();
        assert!(body.contains("12 papers, 3 held for review"), "{body}");
        assert!(body.contains("href=\"feed.xml\""), "{body}");
        for raw in ["<script>", "<b>"] {
            assert!(!body.contains(raw), "{raw} in:\n{body}");
        }
        let empty = index("Papers", &[], None).unwrap();
        assert!(empty.contains("No days are published yet"), "{empty}");
        assert!(!empty.contains("Atom feed"), "{empty}");
        let html = page("t", &empty, Some("feed.xml")).unwrap();
        assert!(html.contains("application/atom+xml"), "{html}");
        assert!(!page("t", &empty, None)
            .unwrap()
            .contains("application/atom+xml"));
        assert!(back_link("../index.html", "<all>")
            .unwrap()
            .contains("&lt;all&gt;"));
    }

    #[test]
    fn a_day_without_papers_says_so() {
        let body = day("2024-09-21".parse().unwrap(), &[], false).unwrap();
        assert!(body.contains("No papers were announced"), "{body}");
    }
}
