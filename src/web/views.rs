//! The review pages as HTML: built-in minijinja templates (`templates/review_*.html`, HTML
//! auto-escaping, strict undefined values) inside the shared page of `render::html`. Every
//! untrusted value goes through the shared text rule (`render::text::one_line`) here and is escaped
//! by the template; marked terms are segments of text, never markup built by hand.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

use crate::checks::identity::TermMarks;
use crate::paper::ArxivId;
use crate::render::html::{self, HtmlError};
use crate::render::text::one_line;

const TEMPLATES_LIST: [(&str, &str); 7] = [
    ("nav", include_str!("../../templates/review_nav.html")),
    ("index", include_str!("../../templates/review_index.html")),
    ("day", include_str!("../../templates/review_day.html")),
    ("queue", include_str!("../../templates/review_queue.html")),
    ("paper", include_str!("../../templates/review_paper.html")),
    ("login", include_str!("../../templates/review_login.html")),
    (
        "message",
        include_str!("../../templates/review_message.html"),
    ),
];

static TEMPLATES: LazyLock<Environment<'static>> =
    LazyLock::new(|| html::environment(&TEMPLATES_LIST));

/// Who is looking, for the navigation bar and the forms.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Nav {
    /// The logged-in person.
    pub actor: Option<String>,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// A token is configured: people can log in and decide.
    pub writes_enabled: bool,
}

/// Renders template `name` with `context` (which must hold `nav`) inside the shared page.
pub(super) fn page(
    title: &str,
    name: &'static str,
    context: minijinja::Value,
) -> Result<String, HtmlError> {
    let body = html::render_with(&TEMPLATES, name, context)?;
    html::page(title, &body, None)
}

/// The path of a paper's page: `/papers/2409.13346`, `/papers/hep-th%2F9901001`.
pub(super) fn paper_path(id: &ArxivId) -> String {
    format!("/papers/{}", id.as_str().replace('/', "%2F"))
}

/// A piece of text, marked when it is one of the checks' terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Segment {
    pub text: String,
    /// `found` (the title and abstract hold it), `missing` (they do not), or `None`.
    pub mark: Option<&'static str>,
}

/// `text` (one line) cut into segments at the marked terms. `exact`: match as written (the
/// summary); otherwise ASCII case is ignored (the abstract, where the found terms are marked).
pub(super) fn segments(text: &str, marks: Option<&TermMarks>, exact: bool) -> Vec<Segment> {
    let text = one_line(text);
    let Some(marks) = marks else {
        return vec![Segment { text, mark: None }];
    };
    let mut terms: Vec<(&str, &'static str)> = marks
        .found
        .iter()
        .map(|t| (t.as_str(), "found"))
        .chain(
            marks
                .missing
                .iter()
                .filter(|_| exact)
                .map(|t| (t.as_str(), "missing")),
        )
        .filter(|(t, _)| !t.is_empty())
        .collect();
    // Longest first, so `GPT-4o` wins over `GPT`.
    terms.sort_by_key(|term| std::cmp::Reverse(term.0.len()));
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let boundary = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let hit = boundary
            .then(|| {
                terms.iter().find(|(term, _)| {
                    rest.get(..term.len()).is_some_and(|head| {
                        if exact {
                            head == *term
                        } else {
                            head.eq_ignore_ascii_case(term)
                        }
                    })
                })
            })
            .flatten();
        match hit {
            Some((term, mark)) => {
                if !plain.is_empty() {
                    out.push(Segment {
                        text: std::mem::take(&mut plain),
                        mark: None,
                    });
                }
                out.push(Segment {
                    text: rest[..term.len()].to_string(),
                    mark: Some(mark),
                });
                at += term.len();
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                plain.push(c);
                at += c.len_utf8();
            }
        }
    }
    if !plain.is_empty() {
        out.push(Segment {
            text: plain,
            mark: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES_LIST {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn terms_are_marked_as_segments_longest_first() {
        let marks = TermMarks {
            found: vec!["GPT".to_string(), "GPT-4o".to_string()],
            missing: vec!["ResNet".to_string()],
        };
        let marked: Vec<(String, Option<&str>)> =
            segments("GPT-4o와 ResNet, notGPT <b>", Some(&marks), true)
                .into_iter()
                .map(|s| (s.text, s.mark))
                .collect();
        assert_eq!(
            marked,
            vec![
                ("GPT-4o".to_string(), Some("found")),
                ("와 ".to_string(), None),
                ("ResNet".to_string(), Some("missing")),
                (", notGPT <b>".to_string(), None),
            ]
        );
        let abstract_marks = segments("we use gpt-4o", Some(&marks), false);
        assert_eq!(abstract_marks[1].mark, Some("found"));
        assert_eq!(
            paper_path(&"hep-th/9901001".parse().unwrap()),
            "/papers/hep-th%2F9901001"
        );
    }
}
