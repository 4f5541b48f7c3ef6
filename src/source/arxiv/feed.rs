//! The arXiv API's Atom feed, read with namespaces resolved.
//!
//! Elements are matched by namespace URI and local name, never by prefix: the current API declares
//! `arxiv:` and `opensearch:` once on `<feed>`, the older one (before 2026) on every element, and
//! either could pick other prefixes. Unknown elements are skipped with their content.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use crate::paper::{normalize_whitespace, ArxivId, Paper};
use crate::source::SourceError;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const ARXIV: &str = "http://arxiv.org/schemas/atom";
const OPENSEARCH: &str = "http://a9.com/-/spec/opensearch/1.1/";

/// One page of an arXiv API answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// `opensearch:totalResults`: all matches, not just this page.
    pub total_results: Option<u64>,
    pub start_index: Option<u64>,
    pub items_per_page: Option<u64>,
    pub papers: Vec<Paper>,
}

/// Parses one Atom response; `origin` (URL or file path) names it in errors.
///
/// The entry arXiv uses to report a bad query (titled `Error`, ID under `arxiv.org/api/errors`)
/// becomes [`SourceError::ArxivApi`] with its summary as the message. An entry whose ID is not an
/// arXiv ID is skipped with a warning; a feed whose entries are all unusable is an error.
pub fn parse(xml: &str, origin: &str) -> Result<Feed, SourceError> {
    Parser::new(origin).run(xml)
}

/// True when the document's root element is an Atom `<feed>` (how [`crate::source::file`] tells
/// an arXiv response from other XML). Errors only for XML that breaks before the root element.
pub(crate) fn is_atom_feed(xml: &str, origin: &str) -> Result<bool, SourceError> {
    let mut reader = NsReader::from_str(xml);
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(resolved) => resolved,
            Err(e) => return Err(xml_error(origin, reader.error_position(), &e)),
        };
        match event {
            Event::Start(e) | Event::Empty(e) => {
                return Ok(is_in(&ns, ATOM) && e.local_name().as_ref() == "feed")
            }
            Event::Eof => return Ok(false),
            _ => {}
        }
    }
}

/// Where an element sits, which decides what its text means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Feed,
    Entry,
    Author,
    /// Atom `<category term=...>` on an entry.
    Category,
    /// `<arxiv:primary_category term=...>` on an entry.
    PrimaryCategory,
    /// An `opensearch:` count on the feed.
    Count(Count),
    /// A text field of an entry (or of its author).
    Field(Field),
    /// Anything we do not read; its content is ignored.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    TotalResults,
    StartIndex,
    ItemsPerPage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Title,
    Summary,
    Published,
    Updated,
    AuthorName,
}

#[derive(Default)]
struct EntryDraft {
    id: String,
    title: String,
    summary: String,
    published: String,
    updated: String,
    authors: Vec<String>,
    categories: Vec<String>,
    primary_category: Option<String>,
}

impl EntryDraft {
    fn store(&mut self, field: Field, text: String) {
        match field {
            Field::Id => self.id = text,
            Field::Title => self.title = text,
            Field::Summary => self.summary = text,
            Field::Published => self.published = text,
            Field::Updated => self.updated = text,
            Field::AuthorName => self.authors.push(normalize_whitespace(&text)),
        }
    }
}

struct Parser<'o> {
    origin: &'o str,
    /// Open elements, innermost last, with their names for truncation messages.
    stack: Vec<(Node, String)>,
    /// Text of the field being read, if any.
    text: Option<String>,
    entry: Option<EntryDraft>,
    feed: Feed,
    entries_seen: usize,
    first_problem: Option<String>,
}

impl<'o> Parser<'o> {
    fn new(origin: &'o str) -> Self {
        Parser {
            origin,
            stack: Vec::new(),
            text: None,
            entry: None,
            feed: Feed {
                total_results: None,
                start_index: None,
                items_per_page: None,
                papers: Vec::new(),
            },
            entries_seen: 0,
            first_problem: None,
        }
    }

    fn run(mut self, xml: &str) -> Result<Feed, SourceError> {
        let mut reader = NsReader::from_str(xml);
        let mut root_seen = false;
        loop {
            let (ns, event) = match reader.read_resolved_event() {
                Ok(resolved) => resolved,
                Err(e) => return Err(xml_error(self.origin, reader.error_position(), &e)),
            };
            match event {
                Event::Start(e) => {
                    let node = self.classify(&ns, &e)?;
                    root_seen = true;
                    self.open(node, &e)?;
                }
                Event::Empty(e) => {
                    let node = self.classify(&ns, &e)?;
                    if !root_seen {
                        // `<feed/>`: a valid feed without entries.
                        return Ok(self.feed);
                    }
                    self.open(node, &e)?;
                    self.close()?;
                }
                Event::End(_) => {
                    self.close()?;
                    if self.stack.is_empty() {
                        return self.finish();
                    }
                }
                Event::Text(t) => self.push_text(&t.xml10_content()),
                Event::CData(c) => self.push_text(&c.xml10_content()),
                Event::GeneralRef(r) => {
                    let resolved = self.resolve_ref(&r)?;
                    self.push_text(&resolved);
                }
                Event::Eof => return Err(self.truncated()),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    fn classify(
        &self,
        ns: &ResolveResult<'_>,
        element: &BytesStart<'_>,
    ) -> Result<Node, SourceError> {
        let local = element.local_name();
        let local = local.as_ref();
        let parent = self.stack.last().map(|(node, _)| *node);
        let atom = is_in(ns, ATOM);
        let node = match parent {
            None if atom && local == "feed" => Node::Feed,
            None if local == "feed" => {
                return Err(malformed(
                    self.origin,
                    format!("the root <feed> is not in the Atom namespace {ATOM}"),
                ))
            }
            None => {
                return Err(malformed(
                    self.origin,
                    format!(
                        "not an Atom feed: the root element is <{}>",
                        element.name().as_ref()
                    ),
                ))
            }
            Some(Node::Feed) if atom && local == "entry" => Node::Entry,
            Some(Node::Feed) if is_in(ns, OPENSEARCH) => match local {
                "totalResults" => Node::Count(Count::TotalResults),
                "startIndex" => Node::Count(Count::StartIndex),
                "itemsPerPage" => Node::Count(Count::ItemsPerPage),
                _ => Node::Other,
            },
            Some(Node::Entry) if atom => match local {
                "id" => Node::Field(Field::Id),
                "title" => Node::Field(Field::Title),
                "summary" => Node::Field(Field::Summary),
                "published" => Node::Field(Field::Published),
                "updated" => Node::Field(Field::Updated),
                "author" => Node::Author,
                "category" => Node::Category,
                _ => Node::Other,
            },
            Some(Node::Entry) if is_in(ns, ARXIV) && local == "primary_category" => {
                Node::PrimaryCategory
            }
            Some(Node::Author) if atom && local == "name" => Node::Field(Field::AuthorName),
            Some(_) => Node::Other,
        };
        Ok(node)
    }

    fn open(&mut self, node: Node, element: &BytesStart<'_>) -> Result<(), SourceError> {
        match node {
            Node::Entry => {
                self.entries_seen += 1;
                self.entry = Some(EntryDraft::default());
            }
            Node::Count(_) | Node::Field(_) => self.text = Some(String::new()),
            Node::Category | Node::PrimaryCategory => self.read_category(node, element)?,
            Node::Feed | Node::Author | Node::Other => {}
        }
        self.stack.push((node, element.name().as_ref().to_string()));
        Ok(())
    }

    fn read_category(&mut self, node: Node, element: &BytesStart<'_>) -> Result<(), SourceError> {
        let Some(term) = self.attribute(element, "term")? else {
            return Ok(());
        };
        let term = term.trim().to_string();
        let Some(entry) = self.entry.as_mut().filter(|_| !term.is_empty()) else {
            return Ok(());
        };
        if node == Node::PrimaryCategory {
            entry.primary_category.get_or_insert(term);
        } else if !entry.categories.contains(&term) {
            entry.categories.push(term);
        }
        Ok(())
    }

    fn attribute(
        &self,
        element: &BytesStart<'_>,
        name: &str,
    ) -> Result<Option<String>, SourceError> {
        let attribute = element.try_get_attribute(name).map_err(|e| {
            malformed(
                self.origin,
                format!("bad attribute in <{}>: {e}", element.name().as_ref()),
            )
        })?;
        attribute
            .map(|a| {
                a.normalized_value(XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .map_err(|e| malformed(self.origin, format!("bad {name} attribute: {e}")))
            })
            .transpose()
    }

    fn close(&mut self) -> Result<(), SourceError> {
        let Some((node, _)) = self.stack.pop() else {
            return Ok(());
        };
        match node {
            Node::Count(count) => {
                let text = self.text.take().unwrap_or_default();
                self.store_count(count, &text)
            }
            Node::Field(field) => {
                let text = self.text.take().unwrap_or_default();
                if let Some(entry) = self.entry.as_mut() {
                    entry.store(field, text);
                }
                Ok(())
            }
            Node::Entry => {
                if let Some(draft) = self.entry.take() {
                    self.finish_entry(draft)?;
                }
                Ok(())
            }
            Node::Feed | Node::Author | Node::Category | Node::PrimaryCategory | Node::Other => {
                Ok(())
            }
        }
    }

    fn store_count(&mut self, count: Count, text: &str) -> Result<(), SourceError> {
        let (slot, name) = match count {
            Count::TotalResults => (&mut self.feed.total_results, "totalResults"),
            Count::StartIndex => (&mut self.feed.start_index, "startIndex"),
            Count::ItemsPerPage => (&mut self.feed.items_per_page, "itemsPerPage"),
        };
        let trimmed = text.trim();
        let value = trimmed.parse::<u64>().map_err(|_| {
            malformed(
                self.origin,
                format!("opensearch:{name} is not a count: {trimmed:?}"),
            )
        })?;
        *slot = Some(value);
        Ok(())
    }

    fn finish_entry(&mut self, draft: EntryDraft) -> Result<(), SourceError> {
        let id_text = draft.id.trim();
        let parsed = ArxivId::parse(id_text);
        let title = normalize_whitespace(&draft.title);
        if id_text.contains("arxiv.org/api/errors") || (parsed.is_err() && title == "Error") {
            let summary = normalize_whitespace(&draft.summary);
            return Err(SourceError::ArxivApi {
                query: self.origin.to_string(),
                message: if summary.is_empty() {
                    id_text.to_string()
                } else {
                    summary
                },
            });
        }
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                let label = format!("entry {} ({title:?})", self.entries_seen);
                tracing::warn!(origin = self.origin, entry = %label, reason = %e, "skipping arXiv feed entry");
                self.first_problem.get_or_insert(format!("{label}: {e}"));
                return Ok(());
            }
        };
        self.feed.papers.push(Paper {
            id: parsed.id,
            version: parsed.version,
            title,
            authors: draft
                .authors
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            abstract_text: normalize_whitespace(&draft.summary),
            upvotes: None,
            thumbnail: None,
            published: non_empty(&draft.published),
            updated: non_empty(&draft.updated),
            primary_category: draft.primary_category,
            categories: draft.categories,
        });
        Ok(())
    }

    fn finish(self) -> Result<Feed, SourceError> {
        match self.first_problem {
            Some(problem) if self.feed.papers.is_empty() => Err(malformed(
                self.origin,
                format!(
                    "none of the {} entries is a usable paper; first problem: {problem}",
                    self.entries_seen
                ),
            )),
            _ => Ok(self.feed),
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Some(buffer) = self.text.as_mut() {
            buffer.push_str(text);
        }
    }

    fn resolve_ref(&self, reference: &BytesRef<'_>) -> Result<String, SourceError> {
        let bad = || malformed(self.origin, format!("unknown entity &{};", &**reference));
        match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            Ok(None) => resolve_predefined_entity(reference)
                .map(str::to_string)
                .ok_or_else(bad),
            Err(_) => Err(bad()),
        }
    }

    /// End of input before the root element closed (the root returns from `run` when it does).
    fn truncated(&self) -> SourceError {
        let message = match self.stack.last() {
            Some((_, name)) => format!("the document ends inside <{name}> (truncated?)"),
            None => "no XML element found".to_string(),
        };
        malformed(self.origin, message)
    }
}

fn is_in(ns: &ResolveResult<'_>, uri: &str) -> bool {
    matches!(ns, ResolveResult::Bound(bound) if bound.as_ref() == uri)
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn xml_error(origin: &str, position: u64, error: &quick_xml::Error) -> SourceError {
    malformed(origin, format!("invalid XML at byte {position}: {error}"))
}

fn malformed(origin: &str, message: String) -> SourceError {
    SourceError::Malformed {
        input: origin.to_string(),
        message,
    }
}
