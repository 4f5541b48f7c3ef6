//! Where each day was published, and what each publishing step gave.
//!
//! A publication is one day's content (by its hash) at one target. The latest row of a (day, target)
//! is what the target's readers have (or are being sent: webhook messages are counted as they go, so
//! an interrupted posting resumes where it stopped instead of posting twice). Results (published,
//! unchanged, withheld, failed, an alert sent) are kept per run for its report.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{from_sql_int, now, parse_date, sql_int, Listing, RunId, Store, StoreError};

/// One day's content at one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub date: NaiveDate,
    pub target: String,
    pub content_hash: String,
    /// When this content was first sent to the target (an Atom entry's `updated`).
    pub started_at: String,
    /// Every part was sent.
    pub done: bool,
    /// Messages (webhooks) or files the content takes, and how many of them are done.
    pub parts: u64,
    pub parts_done: u64,
    /// Summaries published, and listed papers held back.
    pub papers: u64,
    pub held: u64,
    /// Where it went: a path, a commit (never a webhook URL).
    pub location: String,
    /// The day's HTML as published (the feed keeps it to rebuild itself).
    pub content: Option<String>,
}

/// What is about to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPublication<'a> {
    pub date: NaiveDate,
    pub target: &'a str,
    pub content_hash: &'a str,
    pub parts: u64,
    pub papers: u64,
    pub held: u64,
    pub location: &'a str,
    pub content: Option<&'a str>,
}

/// What publishing one day (or the collection) to one target gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishOutcome {
    /// New or changed content reached the target.
    Published,
    /// The target already had this content: nothing was sent.
    Unchanged,
    /// Not published on purpose (an incomplete list, a stopped run).
    Withheld,
    /// The target could not be reached or refused; the day's data is kept and a later run or
    /// `paper-digest publish` tries again.
    Failed,
    /// An alert was sent.
    Sent,
}

impl PublishOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishOutcome::Published => "published",
            PublishOutcome::Unchanged => "unchanged",
            PublishOutcome::Withheld => "withheld",
            PublishOutcome::Failed => "failed",
            PublishOutcome::Sent => "sent",
        }
    }
}

impl fmt::Display for PublishOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PublishOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            PublishOutcome::Published,
            PublishOutcome::Unchanged,
            PublishOutcome::Withheld,
            PublishOutcome::Failed,
            PublishOutcome::Sent,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == s)
        .ok_or_else(|| format!("unknown publish outcome {s:?}"))
    }
}

/// One line of "what was published where": a day (or none, for the alert, the feed file or a push),
/// a target, what happened and the details (where it went, or why it failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishRecord {
    pub date: Option<NaiveDate>,
    pub target: String,
    pub outcome: PublishOutcome,
    pub detail: String,
}

const PUBLICATION_COLUMNS: &str = "date, target, content_hash, started_at, done_at IS NOT NULL, \
    parts, parts_done, papers, held, location, content";

struct PublicationRow {
    date: String,
    target: String,
    content_hash: String,
    started_at: String,
    done: bool,
    parts: i64,
    parts_done: i64,
    papers: i64,
    held: i64,
    location: String,
    content: Option<String>,
}

impl PublicationRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<PublicationRow> {
        Ok(PublicationRow {
            date: row.get(0)?,
            target: row.get(1)?,
            content_hash: row.get(2)?,
            started_at: row.get(3)?,
            done: row.get(4)?,
            parts: row.get(5)?,
            parts_done: row.get(6)?,
            papers: row.get(7)?,
            held: row.get(8)?,
            location: row.get(9)?,
            content: row.get(10)?,
        })
    }
}

impl Store {
    /// The latest publication of a day to a target: what its readers have, or are being sent.
    pub fn latest_publication(
        &self,
        date: NaiveDate,
        target: &str,
    ) -> Result<Option<Publication>, StoreError> {
        let operation = format!("reading the publication of {date} to {target}");
        let row = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {PUBLICATION_COLUMNS} FROM publications
                     WHERE date = ?1 AND target = ?2 ORDER BY id DESC LIMIT 1"
                ),
                params![date.to_string(), target],
                PublicationRow::read,
            )
            .optional()
            .map_err(self.sql_error(&operation))?;
        row.map(|row| self.publication_from_row(row)).transpose()
    }

    /// Whether the target ever completed a publication of the day with other content (what is
    /// sent now is then an update).
    pub fn published_before(
        &self,
        date: NaiveDate,
        target: &str,
        content_hash: &str,
    ) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM publications WHERE date = ?1 AND target = ?2
                    AND content_hash <> ?3 AND done_at IS NOT NULL)",
                params![date.to_string(), target, content_hash],
                |row| row.get(0),
            )
            .map_err(self.sql_error(format!("reading the publications of {date} to {target}")))
    }

    /// Starts publishing content (or starts it over): its row becomes the day's latest at the
    /// target, with no part sent yet, or with every part sent when `done`.
    pub fn begin_publication(
        &self,
        publication: &NewPublication<'_>,
        done: bool,
    ) -> Result<(), StoreError> {
        let p = publication;
        let operation = format!("recording the publication of {} to {}", p.date, p.target);
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql_error(&operation))?;
        let now = now();
        let result = tx
            .execute(
                "DELETE FROM publications WHERE date = ?1 AND target = ?2 AND content_hash = ?3",
                params![p.date.to_string(), p.target, p.content_hash],
            )
            .and_then(|_| {
                tx.execute(
                    "INSERT INTO publications (date, target, content_hash, started_at, done_at,
                        parts, parts_done, papers, held, location, content)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        p.date.to_string(),
                        p.target,
                        p.content_hash,
                        now,
                        done.then_some(&now),
                        sql_int(p.parts),
                        sql_int(if done { p.parts } else { 0 }),
                        sql_int(p.papers),
                        sql_int(p.held),
                        p.location,
                        p.content
                    ],
                )
            });
        result.map_err(self.sql_error(&operation))?;
        tx.commit().map_err(self.sql_error(&operation))
    }

    /// Records that the first `parts_done` parts of a publication were sent (done when all are).
    pub fn publication_progress(
        &self,
        date: NaiveDate,
        target: &str,
        content_hash: &str,
        parts_done: u64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE publications SET parts_done = ?4,
                    done_at = CASE WHEN ?4 >= parts THEN ?5 ELSE NULL END
                 WHERE date = ?1 AND target = ?2 AND content_hash = ?3",
                params![
                    date.to_string(),
                    target,
                    content_hash,
                    sql_int(parts_done),
                    now()
                ],
            )
            .map(drop)
            .map_err(self.sql_error(format!(
                "recording the progress of publishing {date} to {target}"
            )))
    }

    /// The days a target has, newest first: each day's latest complete publication (at most `limit`).
    pub fn published_days(
        &self,
        target: &str,
        limit: usize,
    ) -> Result<Vec<Publication>, StoreError> {
        let operation = format!("reading the days published to {target}");
        let rows = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {PUBLICATION_COLUMNS} FROM publications p
                     WHERE target = ?1 AND done_at IS NOT NULL
                       AND id = (SELECT max(id) FROM publications q
                                 WHERE q.target = p.target AND q.date = p.date
                                   AND q.done_at IS NOT NULL)
                     ORDER BY date DESC LIMIT ?2"
                ))
                .map_err(self.sql_error(&operation))?;
            statement
                .query_map(params![target, sql_int(limit as u64)], PublicationRow::read)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(&operation))?
        };
        rows.into_iter()
            .map(|row| self.publication_from_row(row))
            .collect()
    }

    /// Keeps what a publishing step gave (`run`: the run it belongs to; `None` for `publish`).
    pub fn record_publish_result(
        &self,
        run: Option<RunId>,
        record: &PublishRecord,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO publish_results (run, date, target, outcome, detail, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run.map(|r| r.0),
                    record.date.map(|d| d.to_string()),
                    record.target,
                    record.outcome.as_str(),
                    record.detail,
                    now()
                ],
            )
            .map(drop)
            .map_err(self.sql_error(format!(
                "recording the result of publishing to {}",
                record.target
            )))
    }

    /// What was published where in a run, in order.
    pub fn publish_results(&self, run: RunId) -> Result<Vec<PublishRecord>, StoreError> {
        self.publish_results_with(&self.conn(), run)
    }

    pub(super) fn publish_results_with(
        &self,
        conn: &Connection,
        run: RunId,
    ) -> Result<Vec<PublishRecord>, StoreError> {
        let operation = format!("reading what run {run} published");
        let mut statement = conn
            .prepare(
                "SELECT date, target, outcome, detail FROM publish_results
                 WHERE run = ?1 ORDER BY id",
            )
            .map_err(self.sql_error(&operation))?;
        let rows = statement
            .query_map([run.0], |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        rows.into_iter()
            .map(|(date, target, outcome, detail)| {
                Ok(PublishRecord {
                    date: date
                        .as_deref()
                        .map(parse_date)
                        .transpose()
                        .map_err(|e| self.corrupt("publish date", &target, e))?,
                    outcome: outcome
                        .parse()
                        .map_err(|e| self.corrupt("publish outcome", &target, e))?,
                    target,
                    detail,
                })
            })
            .collect()
    }

    /// How complete a day's list was, as the latest run of the day that recorded it says; `None`
    /// when no run recorded it.
    pub fn day_listing(&self, date: NaiveDate) -> Result<Option<Listing>, StoreError> {
        let row: Option<(i64, bool, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT listed, list_complete, list_note FROM runs
                 WHERE date = ?1 AND listed IS NOT NULL ORDER BY id DESC LIMIT 1",
                [date.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(self.sql_error(format!("reading how complete the list of {date} was")))?;
        Ok(row.map(|(listed, complete, note)| Listing {
            listed: usize::try_from(from_sql_int(listed)).unwrap_or(usize::MAX),
            complete,
            note,
        }))
    }

    /// Every day with listed papers, newest first.
    pub fn listed_dates(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let operation = "reading the days with listed papers";
        let dates = {
            let conn = self.conn();
            let mut statement = conn
                .prepare("SELECT DISTINCT date FROM listings ORDER BY date DESC")
                .map_err(self.sql_error(operation))?;
            statement
                .query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(operation))?
        };
        dates
            .iter()
            .map(|date| parse_date(date).map_err(|e| self.corrupt("listing date", date, e)))
            .collect()
    }

    /// The note of the latest run of a day (e.g. why it had no announcement), if a run covered it.
    pub fn day_run_note(&self, date: NaiveDate) -> Result<Option<Option<String>>, StoreError> {
        self.conn()
            .query_row(
                "SELECT note FROM runs WHERE date = ?1 ORDER BY id DESC LIMIT 1",
                [date.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql_error(format!("reading the runs of {date}")))
    }

    fn publication_from_row(&self, row: PublicationRow) -> Result<Publication, StoreError> {
        let key = format!("{} at {}", row.date, row.target);
        Ok(Publication {
            date: parse_date(&row.date).map_err(|e| self.corrupt("publication date", &key, e))?,
            target: row.target,
            content_hash: row.content_hash,
            started_at: row.started_at,
            done: row.done,
            parts: from_sql_int(row.parts),
            parts_done: from_sql_int(row.parts_done),
            papers: from_sql_int(row.papers),
            held: from_sql_int(row.held),
            location: row.location,
            content: row.content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 9, 23).unwrap()
    }

    fn new<'a>(hash: &'a str, parts: u64) -> NewPublication<'a> {
        NewPublication {
            date: day(),
            target: "slack",
            content_hash: hash,
            parts,
            papers: 3,
            held: 1,
            location: "slack",
            content: None,
        }
    }

    #[test]
    fn the_latest_row_is_what_readers_have_and_parts_resume() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.latest_publication(day(), "slack").unwrap(), None);
        store.begin_publication(&new("a", 3), false).unwrap();
        store.publication_progress(day(), "slack", "a", 2).unwrap();
        let latest = store.latest_publication(day(), "slack").unwrap().unwrap();
        assert_eq!((latest.parts_done, latest.done), (2, false));
        assert!(store.published_days("slack", 10).unwrap().is_empty());
        store.publication_progress(day(), "slack", "a", 3).unwrap();
        assert!(
            store
                .latest_publication(day(), "slack")
                .unwrap()
                .unwrap()
                .done
        );
        assert!(!store.published_before(day(), "slack", "a").unwrap());

        // Changed content, then back to the first: the first becomes the latest again.
        store.begin_publication(&new("b", 1), true).unwrap();
        assert!(store.published_before(day(), "slack", "b").unwrap());
        store.begin_publication(&new("a", 3), true).unwrap();
        let days = store.published_days("slack", 10).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].content_hash, "a");
        assert_eq!(days[0].parts_done, 3);
    }

    #[test]
    fn results_are_kept_per_run_in_order() {
        let store = Store::open_in_memory().unwrap();
        let record = |target: &str, outcome| PublishRecord {
            date: Some(day()),
            target: target.to_string(),
            outcome,
            detail: "x".to_string(),
        };
        store
            .record_publish_result(None, &record("site", PublishOutcome::Published))
            .unwrap();
        let run = store
            .begin_run(&super::super::RunMeta {
                kind: super::super::RunKind::Run,
                date: Some(day()),
                source: "hf-daily".into(),
                dry_run: false,
                model: "m".into(),
                prompt_version: "p".into(),
            })
            .unwrap();
        store
            .record_publish_result(Some(run), &record("slack", PublishOutcome::Failed))
            .unwrap();
        store
            .record_publish_result(Some(run), &record("feed", PublishOutcome::Unchanged))
            .unwrap();
        let results = store.publish_results(run).unwrap();
        assert_eq!(
            results
                .iter()
                .map(|r| r.target.as_str())
                .collect::<Vec<_>>(),
            ["slack", "feed"]
        );
        assert_eq!(results[0].outcome, PublishOutcome::Failed);
        assert_eq!(store.day_listing(day()).unwrap(), None);
        store
            .record_listing(
                run,
                &Listing {
                    listed: 5,
                    complete: false,
                    note: Some("page 2 failed".into()),
                },
            )
            .unwrap();
        assert!(!store.day_listing(day()).unwrap().unwrap().complete);
    }
}
