//! A day as every target publishes it, read from the store: the papers listed that day with their
//! current summaries, what is published (ok summaries; flagged ones only with `include_flagged`),
//! how many are held back, the day's Markdown digest (the archive's file) and its content hash.

use chrono::NaiveDate;

use crate::paper::hex_sha256;
use crate::render;
use crate::render::digest::{self, publication_order, DigestEntry};
use crate::render::html::{self, HtmlError};
use crate::store::{Store, StoreError};

/// A day ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct DayContent {
    pub date: NaiveDate,
    /// Every paper listed that day, in listing order.
    pub entries: Vec<DigestEntry>,
    pub include_flagged: bool,
    /// The day's digest, exactly as `out/daily_papers_ko_YYYY-MM-DD.md` has it.
    pub markdown: String,
    /// SHA-256 of the Markdown: the day's content as readers see it (summaries, votes, held count).
    pub hash: String,
}

/// Whether a day can be published.
#[derive(Debug, Clone, PartialEq)]
pub enum DayState {
    Ready(DayContent),
    /// The source's list of the day was incomplete (a source failure, a partial page): never
    /// published. The note says why.
    Incomplete(String),
    /// No paper is listed on the day (no announcement, or a day the store does not know).
    NotListed,
}

/// The day from the store. A day is incomplete when the latest run of the day that recorded its
/// list says the list was cut short; a day no run recorded a list for is taken as complete.
pub fn load(store: &Store, date: NaiveDate, include_flagged: bool) -> Result<DayState, StoreError> {
    if let Some(listing) = store.day_listing(date)? {
        if !listing.complete {
            return Ok(DayState::Incomplete(listing.note.unwrap_or_else(|| {
                format!("{} papers listed, the rest cut short", listing.listed)
            })));
        }
    }
    let (entries, markdown) = render_digest(store, date, include_flagged)?;
    if entries.is_empty() {
        return Ok(DayState::NotListed);
    }
    Ok(DayState::Ready(DayContent {
        date,
        hash: hex_sha256(markdown.as_bytes()),
        entries,
        include_flagged,
        markdown,
    }))
}

/// The day's digest from the store: every paper listed that day with its current summary, and the
/// Markdown of `out/daily_papers_ko_YYYY-MM-DD.md`.
pub fn render_digest(
    store: &Store,
    date: NaiveDate,
    include_flagged: bool,
) -> Result<(Vec<DigestEntry>, String), StoreError> {
    let entries: Vec<DigestEntry> = store
        .current_for_date(date)?
        .iter()
        .map(DigestEntry::from)
        .collect();
    let markdown = digest::render(date, &entries, include_flagged);
    Ok((entries, markdown))
}

impl DayContent {
    /// The entries published, in publication order (votes, then ID).
    pub fn published(&self) -> Vec<&DigestEntry> {
        publication_order(&self.entries)
            .into_iter()
            .filter(|entry| entry.published(self.include_flagged).is_some())
            .collect()
    }

    /// Summaries published.
    pub fn papers(&self) -> usize {
        self.published().len()
    }

    /// Listed papers left out: held for review (flagged, failed) or not summarized yet.
    pub fn held(&self) -> usize {
        self.entries.len() - self.papers()
    }

    /// The day as an HTML `<section>` (the site's page body, the feed entry's content).
    pub fn html(&self) -> Result<String, HtmlError> {
        html::day(self.date, &self.entries, self.include_flagged)
    }

    /// `Daily Papers (YYYY-MM-DD)`.
    pub fn title(&self) -> String {
        format!("Daily Papers ({})", self.date)
    }

    /// "12 papers, 3 held for review" in Korean and English.
    pub fn counts(&self) -> String {
        let (papers, held) = (self.papers(), self.held());
        match held {
            0 => format!("논문 {papers}편 ({})", render::papers(papers)),
            _ => format!(
                "논문 {papers}편 · 검토 대기 {held}편 ({}, {held} held for review)",
                render::papers(papers)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper::{Paper, Sections, Status, SummaryKey};
    use crate::store::{AttemptRecord, Listing, RunKind, RunMeta};

    fn paper(id: &str) -> Paper {
        Paper {
            id: id.parse().unwrap(),
            version: Some(1),
            title: format!("Paper {id}"),
            authors: vec!["A. Author".to_string()],
            abstract_text: "An abstract.".to_string(),
            upvotes: Some(3),
            thumbnail: None,
            published: None,
            updated: None,
            primary_category: None,
            categories: Vec::new(),
        }
    }

    fn record(paper: &Paper, status: Status) -> AttemptRecord {
        AttemptRecord {
            paper: paper.id.clone(),
            key: SummaryKey::new(paper, "p1", "m"),
            status,
            sections: Some(Sections {
                whats_new: "새로운 방법을 제안합니다.".to_string(),
                technical_details: "기술적인 세부 사항입니다.".to_string(),
                performance_highlights: "성능이 좋습니다.".to_string(),
            }),
            reasons: Vec::new(),
            error: None,
            prompt_tokens: 1,
            completion_tokens: 1,
            cost_usd: 0.0,
            calls: 1,
            duration_ms: 1,
            trimmed: false,
            output_mode: None,
            written_from: crate::checks::identity::WrittenFrom::Abstract,
        }
    }

    #[test]
    fn held_papers_are_counted_and_an_incomplete_list_is_never_ready() {
        let store = Store::open_in_memory().unwrap();
        let date: NaiveDate = "2024-09-23".parse().unwrap();
        assert_eq!(load(&store, date, false).unwrap(), DayState::NotListed);
        let papers = [
            paper("2409.00001"),
            paper("2409.00002"),
            paper("2409.00003"),
        ];
        store
            .upsert_papers(&papers, Some(date), "hf-daily")
            .unwrap();
        let run = store
            .begin_run(&RunMeta {
                kind: RunKind::Run,
                date: Some(date),
                source: "hf-daily".into(),
                dry_run: false,
                model: "m".into(),
                prompt_version: "p1".into(),
            })
            .unwrap();
        store
            .record_attempt(run, &record(&papers[0], Status::Ok))
            .unwrap();
        store
            .record_attempt(run, &record(&papers[1], Status::Flagged))
            .unwrap();
        let DayState::Ready(day) = load(&store, date, false).unwrap() else {
            panic!("the day is ready");
        };
        assert_eq!((day.papers(), day.held()), (1, 2));
        assert!(
            day.markdown
                .contains("held for review or not summarized yet: 2 papers"),
            "{}",
            day.markdown
        );
        assert!(day.counts().contains("2 held for review"));
        let DayState::Ready(with_flagged) = load(&store, date, true).unwrap() else {
            panic!("the day is ready");
        };
        assert_eq!(with_flagged.papers(), 2);
        assert_ne!(with_flagged.hash, day.hash);

        store
            .record_listing(
                run,
                &Listing {
                    listed: 3,
                    complete: false,
                    note: Some("page 2 failed".into()),
                },
            )
            .unwrap();
        assert_eq!(
            load(&store, date, false).unwrap(),
            DayState::Incomplete("page 2 failed".into())
        );
    }
}
