//! Where papers come from: the Hugging Face daily papers API, the arXiv API, or a saved response.
//!
//! Every source turns its wire format into [`Paper`](crate::paper::Paper) values once, here, with
//! whitespace normalised and IDs parsed; the rest of the pipeline trusts them. Errors say which URL,
//! file, date or query failed and why, and [`SourceError::is_unreachable`] tells the caller when the
//! service itself could not be reached (exit code 3).

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Deserialize;

pub mod arxiv;
pub mod file;
pub mod hf;
mod http;

pub(crate) use http::error_chain;
pub use http::SourceHttp;

/// A day's list as a source delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct DayList {
    /// In source order, each paper once.
    pub papers: Vec<crate::paper::Paper>,
    /// False when the source may have more that was not fetched (a page limit reached, a page that
    /// stayed empty before the announced end): the run writes the digest file of what it has, says
    /// so in its report, withholds the day from the publishing targets and exits 1; the next run
    /// lists the day again.
    pub complete: bool,
    /// What a person should know about how the list was fetched (why it is incomplete, a server
    /// that ignored paging).
    pub note: Option<String>,
}

impl DayList {
    pub fn complete(papers: Vec<crate::paper::Paper>) -> DayList {
        DayList {
            papers,
            complete: true,
            note: None,
        }
    }

    /// Adds the list of one part of the day (an arXiv category): its papers, whether it was
    /// complete, and its note named by `part`, after the notes of the parts before.
    pub fn append(&mut self, part: &str, list: DayList) {
        self.papers.extend(list.papers);
        self.complete &= list.complete;
        if let Some(note) = list.note {
            let note = format!("{part}: {note}");
            self.note = Some(match self.note.take() {
                Some(before) => format!("{before}; {note}"),
                None => note,
            });
        }
    }
}

/// Which source a day's list comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Hugging Face daily papers.
    HfDaily,
    /// arXiv API listing by category and date.
    Arxiv,
    /// A saved HF JSON or arXiv Atom response.
    File,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HfDaily => "hf-daily",
            SourceKind::Arxiv => "arxiv",
            SourceKind::File => "file",
        }
    }
}

/// Why a source could not deliver papers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Connection refused, DNS failure, timeout, or the connection broke mid-body.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    /// A non-2xx answer that is not the service's own error format.
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    /// Hugging Face answered with its error body (`{"error": "..."}`).
    #[error("Hugging Face daily papers API refused the request for {date}: {message}")]
    HfApi { date: NaiveDate, message: String },
    /// arXiv answered with its Atom feed whose single entry is titled `Error`.
    #[error("arXiv API rejected the query {query}: {message}")]
    ArxivApi { query: String, message: String },
    /// Bad or truncated JSON/XML, or a document of the right kind with the wrong shape.
    #[error("cannot parse {input}: {message}")]
    Malformed { input: String, message: String },
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{} is neither Hugging Face daily papers JSON nor an arXiv Atom feed", path.display())]
    UnknownFormat { path: PathBuf },
    /// The response is larger than `source.max_response_bytes`; reading stopped there.
    #[error("{url} answered with more than {limit} bytes (source.max_response_bytes)")]
    TooLarge { url: String, limit: usize },
    /// A configured base URL that cannot carry an API path.
    #[error("invalid base URL {url:?}: {message}")]
    BadBaseUrl { url: String, message: String },
}

impl SourceError {
    /// True when the service could not be reached at all (the CLI maps this to exit code 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SourceError::Unreachable { .. })
    }
}
