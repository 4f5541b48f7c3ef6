//! arXiv's HTML rendering of a paper (`{base}/html/<ID>`, made by LaTeXML), fetched politely and read
//! as text, so a summary written from the full paper can be checked against the full paper.
//!
//! The reader keeps what a summary may draw on: the title, the abstract, every section's paragraphs,
//! figure and table captions, table cells, and equations as their TeX `alttext` (the MathML inside is
//! presentation markup, not words). Navigation, scripts, styles and the bibliography are left out: a
//! reference list names other works, and must not vouch for a summary that names them.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use scraper::{ElementRef, Html, Node, Selector};

use super::Pacer;
use crate::paper::{normalize_whitespace, ArxivId};
use crate::source::{http, SourceError, SourceHttp};

/// One section of the paper: its heading (numbering included, as rendered) and its running text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub text: String,
}

/// The text of a paper as its HTML rendering gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FullText {
    pub title: String,
    pub abstract_text: String,
    pub sections: Vec<Section>,
    /// Figure and table captions.
    pub captions: Vec<String>,
    /// One entry per table: its cells in reading order, separated by ` | `.
    pub tables: Vec<String>,
    /// TeX source of every equation and inline formula (`alttext`).
    pub equations: Vec<String>,
}

impl FullText {
    /// Everything above as one text, one part per line.
    pub fn text(&self) -> String {
        let mut parts = vec![self.title.clone(), self.abstract_text.clone()];
        for section in &self.sections {
            parts.push(section.heading.clone());
            parts.push(section.text.clone());
        }
        parts.extend(self.captions.iter().cloned());
        parts.extend(self.tables.iter().cloned());
        parts.extend(self.equations.iter().cloned());
        parts.retain(|p| !p.is_empty());
        parts.join("\n")
    }

    /// True when the page held no paper text at all (not a LaTeXML rendering).
    pub fn is_empty(&self) -> bool {
        self.abstract_text.is_empty() && self.sections.is_empty()
    }
}

/// What asking for a paper's HTML rendering gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendering {
    Found {
        url: String,
        full_text: FullText,
    },
    /// arXiv has no HTML rendering of this paper (HTTP 404: older papers, failed conversions), or
    /// the page holds no paper text. A clear answer, not an error.
    Missing {
        url: String,
        why: String,
    },
}

/// Fetches HTML renderings one at a time, at least `min_interval` apart (arXiv's courtesy rules).
#[derive(Debug)]
pub struct ArxivHtmlClient {
    base: String,
    pacer: Pacer,
    http: SourceHttp,
}

impl ArxivHtmlClient {
    /// `base_url` is the site root, e.g. `https://arxiv.org`; `/html/<ID>` is appended.
    pub fn new(
        base_url: &str,
        min_interval: Duration,
        http: SourceHttp,
    ) -> Result<Self, SourceError> {
        // Checked now so a bad base URL fails at start-up rather than at the first flagged entry.
        http::endpoint(base_url, &["html"])?;
        Ok(ArxivHtmlClient {
            base: base_url.to_string(),
            pacer: Pacer::new(min_interval),
            http,
        })
    }

    /// The rendering's URL for `id` (old-style IDs keep their slash as a path separator).
    pub fn url(&self, id: &ArxivId) -> Result<Url, SourceError> {
        let mut segments = vec!["html"];
        segments.extend(id.as_str().split('/'));
        http::endpoint(&self.base, &segments)
    }

    /// One paced request; the turn is held until the whole body is read (one connection at a time).
    pub async fn fetch(&self, id: &ArxivId) -> Result<Rendering, SourceError> {
        let url = self.url(id)?;
        let _turn = self.pacer.turn().await;
        let fetched = http::get(&self.http, &url, &[]).await?;
        if fetched.status == StatusCode::NOT_FOUND {
            return Ok(Rendering::Missing {
                url: fetched.url,
                why: "arXiv has no HTML rendering of this paper (HTTP 404)".to_string(),
            });
        }
        if !fetched.status.is_success() {
            return Err(SourceError::Http {
                url: fetched.url,
                status: fetched.status.as_u16(),
                message: http::snippet(&fetched.body),
            });
        }
        let full_text = extract(&fetched.body);
        Ok(if full_text.is_empty() {
            Rendering::Missing {
                url: fetched.url,
                why: "the page holds no paper text (not a LaTeXML rendering)".to_string(),
            }
        } else {
            Rendering::Found {
                url: fetched.url,
                full_text,
            }
        })
    }
}

/// CSS selectors of the LaTeXML classes read; all are constants known to parse.
struct Selectors {
    title: Selector,
    abstract_block: Selector,
    section: Selector,
    caption: Selector,
    table: Selector,
    cell: Selector,
    math: Selector,
}

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

impl Selectors {
    fn new() -> Option<Self> {
        Some(Selectors {
            title: selector("h1.ltx_title_document")?,
            abstract_block: selector("div.ltx_abstract")?,
            section: selector("section.ltx_section, section.ltx_appendix")?,
            caption: selector("figcaption")?,
            table: selector("table.ltx_tabular")?,
            cell: selector("td, th")?,
            math: selector("math[alttext]")?,
        })
    }
}

/// Reads the text of a LaTeXML HTML page; a page of another kind gives an empty [`FullText`].
pub fn extract(html: &str) -> FullText {
    let Some(select) = Selectors::new() else {
        return FullText::default();
    };
    let document = Html::parse_document(html);
    let title = document
        .select(&select.title)
        .next()
        .map(|e| running_text(e, Skip::Title))
        .unwrap_or_default();
    let abstract_text = document
        .select(&select.abstract_block)
        .next()
        .map(|e| running_text(e, Skip::Headings))
        .unwrap_or_default();
    let sections = document
        .select(&select.section)
        .map(|section| Section {
            heading: section
                .children()
                .filter_map(ElementRef::wrap)
                .find(|e| is_heading(e))
                .map(|e| running_text(e, Skip::Title))
                .unwrap_or_default(),
            text: running_text(section, Skip::Headings),
        })
        .filter(|s| !s.text.is_empty())
        .collect();
    let captions = document
        .select(&select.caption)
        .map(|e| running_text(e, Skip::Title))
        .filter(|t| !t.is_empty())
        .collect();
    let tables = document
        .select(&select.table)
        .map(|table| {
            table
                .select(&select.cell)
                .map(|cell| running_text(cell, Skip::Title))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .filter(|t| !t.is_empty())
        .collect();
    let equations = document
        .select(&select.math)
        .filter_map(|m| m.value().attr("alttext"))
        .map(normalize_whitespace)
        .filter(|t| !t.is_empty())
        .collect();
    FullText {
        title,
        abstract_text,
        sections,
        captions,
        tables,
        equations,
    }
}

/// What a text walk leaves out besides what never is prose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Only non-prose (inside a title or caption, headings are the text itself).
    Title,
    /// Also headings and figures/tables (a section's running text; captions and cells are read apart).
    Headings,
}

fn is_heading(element: &ElementRef) -> bool {
    matches!(
        element.value().name(),
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
    )
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "li"
            | "ul"
            | "ol"
            | "table"
            | "tr"
            | "td"
            | "th"
            | "br"
            | "figure"
            | "figcaption"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
    )
}

/// The element's text with whitespace normalised; formulas as their `alttext`.
fn running_text(element: ElementRef, skip: Skip) -> String {
    let mut out = String::new();
    walk(element, skip, &mut out);
    normalize_whitespace(&out)
}

fn walk(element: ElementRef, skip: Skip, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(_) => {
                let Some(child) = ElementRef::wrap(child) else {
                    continue;
                };
                let name = child.value().name();
                if matches!(
                    name,
                    "script" | "style" | "nav" | "header" | "footer" | "button"
                ) {
                    continue;
                }
                if name == "math" {
                    out.push(' ');
                    out.push_str(child.value().attr("alttext").unwrap_or_default());
                    out.push(' ');
                    continue;
                }
                let class = child.value().attr("class").unwrap_or_default();
                if class.split_whitespace().any(|c| c == "ltx_bibliography") {
                    continue;
                }
                if skip == Skip::Headings && (is_heading(&child) || name == "figure") {
                    continue;
                }
                // Block boundaries separate words the markup alone would glue together; inline
                // elements (`<span>Glow</span>Former`) must not split a word.
                let block = is_block(name);
                if block {
                    out.push(' ');
                }
                walk(child, skip, out);
                if block {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const GLOWFORMER: &str = include_str!("../../../tests/fixtures/arxiv_html/2409.10001.html");
    const NO_RENDERING: &str = include_str!("../../../tests/fixtures/arxiv_html/no_rendering.html");

    fn id(text: &str) -> ArxivId {
        text.parse().unwrap()
    }

    #[test]
    fn latexml_page_gives_title_abstract_sections_captions_tables_and_formulas() {
        let text = extract(GLOWFORMER);
        assert_eq!(
            text.title,
            "GlowFormer: Efficient Long-Context Attention with Learned Sparsity"
        );
        assert!(text
            .abstract_text
            .starts_with("We present GlowFormer, a Transformer variant"));
        assert!(
            !text.abstract_text.contains("Abstract We"),
            "{}",
            text.abstract_text
        );
        let headings: Vec<&str> = text.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["1 Introduction", "2 Method", "3 Experiments"]);
        let method = &text.sections[1].text;
        assert!(
            method.contains("the GateNet module, scores key blocks of 64 tokens"),
            "{method}"
        );
        assert!(method.contains("top k=8 blocks"), "{method}");
        assert!(
            method.contains("on 128 A100 GPUs with a learning rate of 3e-4"),
            "{method}"
        );
        // Figures and tables are read apart, not twice.
        assert!(!method.contains("Figure 1"), "{method}");
        assert_eq!(text.captions.len(), 2);
        assert!(
            text.captions[0].contains("GlowFormer stays 2.7 \\times lower at 128K"),
            "{:?}",
            text.captions
        );
        assert_eq!(
            text.tables,
            ["Model | LongBench | Memory (GB) | Dense | 41.2 | 38.5 | BigBird | 39.7 | 16.2 | GlowFormer | 44.8 | 14.3"]
        );
        assert!(
            text.equations.contains(&"O(n^{2})".to_string()),
            "{:?}",
            text.equations
        );
        assert!(text
            .equations
            .contains(&"s_{ij}=\\mathrm{softmax}(q_{i}^{\\top}W_{g}\\bar{k}_{j})".to_string()));
    }

    #[test]
    fn navigation_scripts_and_bibliography_are_left_out() {
        let all = extract(GLOWFORMER).text();
        for absent in [
            "Back to arXiv",
            "addons_new",
            "margin: 0 auto",
            "CIFAR-Scale",
            "References",
            "1 Introduction 2 Method",
        ] {
            assert!(!all.contains(absent), "{absent:?} in {all}");
        }
        // MathML presentation markup is not read as words: `O ⁢ ( n 2 )` would be.
        assert!(!all.contains("n 2 )"), "{all}");
    }

    #[test]
    fn a_page_without_paper_text_is_empty() {
        assert!(extract(NO_RENDERING).is_empty());
        assert!(extract("not html at all <<<").is_empty());
    }

    fn test_http() -> SourceHttp {
        SourceHttp::new(Duration::from_secs(10), 1 << 20).unwrap()
    }

    async fn client(server: &MockServer, min_interval: Duration) -> ArxivHtmlClient {
        ArxivHtmlClient::new(&server.uri(), min_interval, test_http()).unwrap()
    }

    #[tokio::test]
    async fn a_rendering_is_fetched_and_read() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/html/2409.10001"))
            .respond_with(ResponseTemplate::new(200).set_body_string(GLOWFORMER))
            .expect(1)
            .mount(&server)
            .await;
        let rendering = client(&server, Duration::ZERO)
            .await
            .fetch(&id("2409.10001v2"))
            .await
            .unwrap();
        let Rendering::Found { url, full_text } = rendering else {
            panic!("expected a rendering, got {rendering:?}");
        };
        assert_eq!(url, format!("{}/html/2409.10001", server.uri()));
        assert_eq!(full_text.sections.len(), 3);
    }

    #[tokio::test]
    async fn no_rendering_is_a_clear_answer_not_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/html/2409.10002"))
            .respond_with(ResponseTemplate::new(404).set_body_string(NO_RENDERING))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/html/2409.10003"))
            .respond_with(ResponseTemplate::new(200).set_body_string(NO_RENDERING))
            .mount(&server)
            .await;
        let client = client(&server, Duration::ZERO).await;
        for (paper, expected) in [("2409.10002", "HTTP 404"), ("2409.10003", "no paper text")] {
            match client.fetch(&id(paper)).await.unwrap() {
                Rendering::Missing { url, why } => {
                    assert_eq!(url, format!("{}/html/{paper}", server.uri()));
                    assert!(why.contains(expected), "{why}");
                }
                other => panic!("expected Missing, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn server_errors_and_unreachable_hosts_name_the_url() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503).set_body_string("try later"))
            .mount(&server)
            .await;
        let err = client(&server, Duration::ZERO)
            .await
            .fetch(&id("2409.10001"))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("{}/html/2409.10001", server.uri())),
            "{message}"
        );
        assert!(
            message.contains("503") && message.contains("try later"),
            "{message}"
        );

        let closed =
            ArxivHtmlClient::new("http://127.0.0.1:9", Duration::ZERO, test_http()).unwrap();
        let err = closed.fetch(&id("2409.10001")).await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert!(
            err.to_string()
                .contains("http://127.0.0.1:9/html/2409.10001"),
            "{err}"
        );
    }

    #[test]
    fn old_style_ids_keep_their_slash_and_bad_bases_fail_early() {
        let client =
            ArxivHtmlClient::new("https://mirror.example/arxiv/", Duration::ZERO, test_http())
                .unwrap();
        assert_eq!(
            client.url(&id("hep-th/9901001")).unwrap().as_str(),
            "https://mirror.example/arxiv/html/hep-th/9901001"
        );
        let err = ArxivHtmlClient::new("ftp://arxiv.org", Duration::ZERO, test_http()).unwrap_err();
        assert!(err.to_string().contains("ftp://arxiv.org"), "{err}");
    }

    #[tokio::test]
    async fn requests_are_spaced_by_the_pacer() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(GLOWFORMER))
            .expect(2)
            .mount(&server)
            .await;
        let interval = Duration::from_millis(300);
        let client = client(&server, interval).await;
        let started = std::time::Instant::now();
        client.fetch(&id("2409.10001")).await.unwrap();
        client.fetch(&id("2409.10004")).await.unwrap();
        assert!(started.elapsed() >= interval, "{:?}", started.elapsed());
    }
}
