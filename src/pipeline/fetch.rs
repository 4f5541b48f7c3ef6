//! The fetch stage: the day's papers from a source, asked again with backoff while the source is
//! transiently failing, and the no-announcement policy (an empty list, or a source repeating an earlier
//! day's list, is no announcement: nothing is summarized or published).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::NaiveDate;
use reqwest::Url;

use super::shutdown::Shutdown;
use crate::paper::{ArxivId, Paper};
use crate::source::arxiv::html::ArxivHtmlClient;
use crate::source::arxiv::{ArxivClient, Lookup};
use crate::source::hf::HfClient;
use crate::source::{self, DayList, SourceError, SourceHttp, SourceKind};
use crate::store::{Store, StoreError};

/// How to reach the sources and how patiently (config section `[source]`).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The source `run` uses when no `--source` is given.
    pub kind: SourceKind,
    pub hf_base_url: Url,
    /// Hugging Face items asked for per page, and the most pages followed for one day.
    pub hf_page_size: usize,
    pub hf_max_pages: usize,
    pub arxiv_base_url: Url,
    /// Where arXiv's HTML renderings are (`/html/<ID>`), for checking a summary against the full text.
    pub arxiv_html_base_url: Url,
    pub arxiv_min_interval: Duration,
    pub arxiv_page_size: usize,
    /// Categories the arXiv source lists when none are given.
    pub categories: Vec<String>,
    pub request_timeout: Duration,
    /// Responses larger than this are refused.
    pub max_response_bytes: usize,
    /// A source that is unreachable, rate-limited or failing is asked again this many times.
    pub fetch_retries: u32,
    pub fetch_retry_initial: Duration,
}

/// Where one day's list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaySource {
    HfDaily,
    Arxiv {
        categories: Vec<String>,
        limit: Option<usize>,
    },
    /// A saved HF JSON or arXiv Atom response.
    File(PathBuf),
}

impl DaySource {
    /// How a run records its source: `hf-daily`, `arxiv`, or the file's path.
    pub fn label(&self) -> String {
        match self {
            DaySource::HfDaily => SourceKind::HfDaily.as_str().to_string(),
            DaySource::Arxiv { .. } => SourceKind::Arxiv.as_str().to_string(),
            DaySource::File(path) => path.display().to_string(),
        }
    }
}

/// One day's list as the source gave it (each paper once, in source order).
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    pub papers: Vec<Paper>,
    /// False when the source may have more than it delivered (see [`DayList`]).
    pub complete: bool,
    pub note: Option<String>,
}

impl Day {
    fn of(date: NaiveDate, list: DayList) -> Day {
        Day {
            date,
            papers: dedup(list.papers),
            complete: list.complete,
            note: list.note,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A source on the network failed: unreachable, an error answer, or a malformed response.
    #[error(transparent)]
    Source(SourceError),
    /// A local input file is unreadable or not a feed.
    #[error(transparent)]
    Input(SourceError),
    #[error("cannot build the HTTP client for the sources: {0}")]
    Client(String),
    #[error("stopped while waiting to ask the source again ({0})")]
    Interrupted(SourceError),
}

/// Fetches lists and papers from the configured sources.
pub struct Fetcher {
    settings: FetchSettings,
    http: SourceHttp,
    shutdown: Shutdown,
}

impl Fetcher {
    pub fn new(settings: &FetchSettings, shutdown: Shutdown) -> Result<Fetcher, FetchError> {
        let http = SourceHttp::new(settings.request_timeout, settings.max_response_bytes)
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            settings: settings.clone(),
            http,
            shutdown,
        })
    }

    /// The list of `date` (default: today in UTC; for a file, the date in its name).
    pub async fn day(
        &self,
        source: &DaySource,
        date: Option<NaiveDate>,
    ) -> Result<Day, FetchError> {
        let today = chrono::Utc::now().date_naive();
        match source {
            DaySource::HfDaily => {
                let date = date.unwrap_or(today);
                let client = HfClient::new(
                    self.settings.hf_base_url.as_str(),
                    self.http.clone(),
                    self.settings.hf_page_size,
                    self.settings.hf_max_pages,
                )
                .map_err(FetchError::Source)?;
                let list = self.retrying(|| client.daily(date)).await?;
                Ok(Day::of(date, list))
            }
            DaySource::Arxiv { categories, limit } => {
                let date = date.unwrap_or(today);
                let client = self.arxiv()?;
                let mut all = DayList::complete(Vec::new());
                for category in categories {
                    let list = self
                        .retrying(|| client.listing(category, date, date, *limit))
                        .await?;
                    all.append(category, list);
                }
                Ok(Day::of(date, all))
            }
            DaySource::File(path) => {
                let date = date.or_else(|| date_in_file_name(path)).unwrap_or(today);
                let papers = source::file::load(path).map_err(FetchError::Input)?;
                Ok(Day::of(date, DayList::complete(papers)))
            }
        }
    }

    /// Papers by ID from arXiv (`id_list`); unknown IDs come back in `missing`.
    pub async fn lookup(&self, ids: &[ArxivId]) -> Result<Lookup, FetchError> {
        let client = self.arxiv()?;
        self.retrying(|| client.lookup(ids)).await
    }

    /// A client for arXiv's HTML renderings, paced like the API (one request at a time, apart).
    pub fn full_texts(&self) -> Result<ArxivHtmlClient, FetchError> {
        ArxivHtmlClient::new(
            self.settings.arxiv_html_base_url.as_str(),
            self.settings.arxiv_min_interval,
            self.http.clone(),
        )
        .map_err(FetchError::Source)
    }

    fn arxiv(&self) -> Result<ArxivClient, FetchError> {
        ArxivClient::new(
            self.settings.arxiv_base_url.as_str(),
            self.settings.arxiv_min_interval,
            self.settings.arxiv_page_size,
            self.http.clone(),
        )
        .map_err(FetchError::Source)
    }

    /// A rate limit or an outage of a few minutes must not cost the day: a source is asked again, a
    /// few times, spaced out (arXiv's own pacing still applies). A stop ends the waiting at once.
    async fn retrying<T, F, Fut>(&self, fetch: F) -> Result<T, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SourceError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.fetch_retry_initial)
            .with_max_delay(Duration::from_secs(120).max(self.settings.fetch_retry_initial))
            .with_max_times(self.settings.fetch_retries as usize)
            .with_jitter();
        let token = self.shutdown.token();
        let result = fetch
            .retry(backoff)
            .sleep(move |wait| {
                let token = token.clone();
                // A stop ends the wait (`when` then allows no further try).
                async move {
                    let _ = crate::model::sleep(wait, &token).await;
                }
            })
            .when(|error| is_transient(error) && !self.shutdown.is_stopped())
            .notify(|error, wait| {
                tracing::warn!(%error, wait_secs = wait.as_secs_f64(), "source failed, asking again");
            })
            .await;
        result.map_err(|error| {
            if is_transient(&error) && self.shutdown.is_stopped() {
                FetchError::Interrupted(error)
            } else {
                FetchError::Source(error)
            }
        })
    }
}

fn is_transient(error: &SourceError) -> bool {
    match error {
        SourceError::Unreachable { .. } => true,
        SourceError::Http { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

/// Whether the day has papers to summarize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    Papers,
    /// Nothing new was announced, and why (an empty list, or only papers of an earlier day).
    None(String),
}

/// An empty list, or a list whose papers were all announced on an earlier day (a source repeating
/// yesterday's list on a weekend), is no announcement.
pub fn announcement(store: &Store, day: &Day) -> Result<Announcement, StoreError> {
    if day.papers.is_empty() {
        return Ok(Announcement::None(
            "the source lists no papers for this day".to_string(),
        ));
    }
    let mut latest_earlier = None;
    for paper in &day.papers {
        match store.dates_of(&paper.id)?.into_iter().min() {
            Some(first) if first < day.date => latest_earlier = latest_earlier.max(Some(first)),
            _ => return Ok(Announcement::Papers),
        }
    }
    Ok(match latest_earlier {
        Some(earlier) => Announcement::None(format!(
            "every listed paper was already announced on or before {earlier}"
        )),
        None => Announcement::Papers,
    })
}

/// Keeps the first occurrence of each paper: sources can list a paper twice (cross-listings, pages).
pub fn dedup(papers: Vec<Paper>) -> Vec<Paper> {
    let mut seen: HashSet<ArxivId> = HashSet::new();
    papers
        .into_iter()
        .filter(|paper| seen.insert(paper.id.clone()))
        .collect()
}

/// `.../2024-09-23.json` → 2024-09-23: saved daily responses are named by their day.
fn date_in_file_name(path: &Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_str()?;
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|start| {
        let candidate = name.get(start..start + 10)?;
        NaiveDate::parse_from_str(candidate, "%Y-%m-%d").ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_read_from_saved_file_names() {
        let date = |name: &str| date_in_file_name(Path::new(name));
        assert_eq!(
            date("../data/2024-09-23.json"),
            NaiveDate::from_ymd_opt(2024, 9, 23)
        );
        assert_eq!(
            date("hf_2024-10-01_page.json"),
            NaiveDate::from_ymd_opt(2024, 10, 1)
        );
        assert_eq!(date("papers.json"), None);
        assert_eq!(date("2024-13-45.json"), None);
    }

    /// Two arXiv categories cut short used to leave only the last one's note in the report.
    #[test]
    fn every_incomplete_category_is_named_in_the_days_note() {
        let cut = |note: &str| DayList {
            papers: Vec::new(),
            complete: false,
            note: Some(note.to_string()),
        };
        let mut day = DayList::complete(Vec::new());
        day.append("cs.CL", cut("the page limit was reached"));
        day.append("cs.LG", DayList::complete(Vec::new()));
        day.append("cs.CV", cut("a page stayed empty"));
        assert!(!day.complete);
        assert_eq!(
            day.note.as_deref(),
            Some("cs.CL: the page limit was reached; cs.CV: a page stayed empty")
        );
    }
}
