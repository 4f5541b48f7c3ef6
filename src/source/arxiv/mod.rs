//! The arXiv API (`{base}/api/query`, Atom): look papers up by ID, or list a category by date.
//!
//! arXiv asks clients for one request at a time and at least 3 seconds between requests; the
//! client enforces both with a [`Pacer`].

mod feed;
pub mod html;
mod pacer;

use std::collections::HashSet;
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::Url;

use super::http::{self, SourceHttp};
use super::{DayList, SourceError};
use crate::paper::{ArxivId, Paper};

pub(crate) use feed::is_atom_feed;
pub use feed::{parse, Feed};
pub use pacer::{Pacer, Turn};

/// arXiv serves at most this many results of one search, however it is paged.
const MAX_SEARCH_RESULTS: usize = 30_000;

/// What a lookup found: papers in the order asked, and the IDs arXiv did not return (unknown IDs
/// are simply absent from its answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub found: Vec<Paper>,
    pub missing: Vec<ArxivId>,
}

#[derive(Debug)]
pub struct ArxivClient {
    endpoint: Url,
    pacer: Pacer,
    page_size: usize,
    http: SourceHttp,
}

impl ArxivClient {
    /// `base_url` is the site root, e.g. `http://export.arxiv.org`; `/api/query` is appended.
    /// `page_size` is clamped to 1..=2000 (arXiv's largest slice).
    pub fn new(
        base_url: &str,
        min_interval: Duration,
        page_size: usize,
        http: SourceHttp,
    ) -> Result<Self, SourceError> {
        Ok(ArxivClient {
            endpoint: http::endpoint(base_url, &["api", "query"])?,
            pacer: Pacer::new(min_interval),
            page_size: page_size.clamp(1, 2000),
            http,
        })
    }

    /// Looks up many IDs, `page_size` per request (`id_list=a,b,c`). Duplicates are asked once.
    pub async fn lookup(&self, ids: &[ArxivId]) -> Result<Lookup, SourceError> {
        let mut unique = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if seen.insert(id) {
                unique.push(id);
            }
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for chunk in unique.chunks(self.page_size) {
            let list: Vec<&str> = chunk.iter().map(|id| id.as_str()).collect();
            let query = [
                ("id_list", list.join(",")),
                ("start", "0".to_string()),
                ("max_results", chunk.len().to_string()),
            ];
            let mut returned = self.fetch(&query).await?.papers;
            for id in chunk {
                match returned.iter().position(|paper| &paper.id == *id) {
                    Some(index) => found.push(returned.swap_remove(index)),
                    None => missing.push((*id).clone()),
                }
            }
            for extra in returned {
                tracing::warn!(id = %extra.id, "arXiv returned a paper that was not asked for; ignoring it");
            }
        }
        Ok(Lookup { found, missing })
    }

    /// Papers of `category` submitted between `from` and `to` (inclusive, whole days), newest
    /// first, at most `limit`. An empty page before `totalResults` is reached is asked again
    /// once; if it stays empty the listing stops there with a warning.
    pub async fn listing(
        &self,
        category: &str,
        from: NaiveDate,
        to: NaiveDate,
        limit: Option<usize>,
    ) -> Result<DayList, SourceError> {
        let search = format!(
            "cat:{category} AND submittedDate:[{}0000 TO {}2359]",
            from.format("%Y%m%d"),
            to.format("%Y%m%d")
        );
        let limit = limit.unwrap_or(MAX_SEARCH_RESULTS).min(MAX_SEARCH_RESULTS);
        let mut papers = Vec::new();
        let mut seen = HashSet::new();
        let mut start = 0;
        let mut retried = false;
        let mut cut_short = None;
        while papers.len() < limit && start < MAX_SEARCH_RESULTS {
            let want = self.page_size.min(limit - papers.len());
            let feed = self.fetch(&listing_query(&search, start, want)).await?;
            let total = feed.total_results;
            let more_expected = total.is_some_and(|total| (start as u64) < total);
            if feed.papers.is_empty() {
                if more_expected && !retried {
                    tracing::warn!(%search, start, "arXiv returned an empty page before the end; asking once more");
                    retried = true;
                    continue;
                }
                if more_expected {
                    let note = format!(
                        "arXiv returned the page at {start} of {} empty twice; the listing stopped there",
                        total.unwrap_or_default()
                    );
                    tracing::warn!(%search, got = papers.len(), "{note}");
                    cut_short = Some(note);
                }
                break;
            }
            retried = false;
            let got = feed.papers.len();
            start += got;
            for paper in feed.papers {
                if papers.len() < limit && seen.insert(paper.id.clone()) {
                    papers.push(paper);
                }
            }
            let done = match total {
                Some(total) => start as u64 >= total,
                None => got < want,
            };
            if done {
                break;
            }
        }
        Ok(DayList {
            papers,
            complete: cut_short.is_none(),
            note: cut_short,
        })
    }

    /// One paced request; the turn is held until the whole body is read (one connection at a time).
    async fn fetch(&self, query: &[(&str, String)]) -> Result<Feed, SourceError> {
        let _turn = self.pacer.turn().await;
        let fetched = http::get(&self.http, &self.endpoint, query).await?;
        let success = fetched.status.is_success();
        match parse(&fetched.body, &fetched.url) {
            Ok(feed) if success => Ok(feed),
            Err(error @ SourceError::ArxivApi { .. }) => Err(error),
            Err(error) if success => Err(error),
            _ => Err(SourceError::Http {
                url: fetched.url,
                status: fetched.status.as_u16(),
                message: http::snippet(&fetched.body),
            }),
        }
    }
}

fn listing_query(search: &str, start: usize, max_results: usize) -> [(&'static str, String); 5] {
    [
        ("search_query", search.to_string()),
        ("sortBy", "submittedDate".to_string()),
        ("sortOrder", "descending".to_string()),
        ("start", start.to_string()),
        ("max_results", max_results.to_string()),
    ]
}
