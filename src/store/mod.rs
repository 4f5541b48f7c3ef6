//! The embedded SQLite store: papers, the days they were listed on, runs, every summary attempt
//! (history) and each paper's current summary.
//!
//! One connection behind a mutex (SQLite serialises writers anyway), WAL journal, foreign keys on,
//! a busy timeout for a second process on the same file. Each recorded attempt is one transaction:
//! the history row and the move of `current` happen together or not at all, so a run killed at any
//! point leaves a consistent file and a restart pays only for what was not recorded.

mod claims;
mod publications;
mod review;
mod schema;
mod types;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{NaiveDate, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use rusqlite_migration::{Error as MigrationError, MigrationDefinitionError};

use crate::paper::{ArxivId, Paper, Sections, Status, SummaryKey};
pub use claims::{Candidate, Claim};
pub use publications::{NewPublication, Publication, PublishOutcome, PublishRecord};
pub use review::{
    AttemptInfo, DayCounts, DecideError, Decided, Decision, DecisionRequest, HumanSummary,
    QueueEntry, QueueFilter, ReviewAction, ReviewState,
};
pub use types::{
    AttemptRecord, CachedFullText, CurrentEntry, CurrentSummary, Listing, PaperResult, RunEnd,
    RunId, RunInfo, RunKind, RunMeta, RunOutcome, RunReport, Skip, SkipKind, StatusCounts, Totals,
};

/// The schema version a file is brought to (`PRAGMA user_version`): the number of migrations.
pub const SCHEMA_VERSION: usize = schema::MIGRATION_COUNT;

/// How long a write waits for another process holding the file before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Switches to WAL. Switching needs the file to itself, and SQLite answers "database is locked"
/// without calling the busy handler when another process is opening the same new file, so wait
/// here, up to the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<String> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    #[error("{path} is not a paper-digest database: {message}")]
    Foreign { path: String, message: String },
    #[error("cannot bring database {path} to the current schema: {message}")]
    Migrate { path: String, message: String },
    #[error("database {path}: {operation} failed: {message}")]
    Sql {
        path: String,
        operation: String,
        message: String,
    },
    #[error("database {path}: stored {what} of {key} is unreadable: {message}")]
    Corrupt {
        path: String,
        what: &'static str,
        key: String,
        message: String,
    },
    #[error("database {path}: there is no run {run}")]
    UnknownRun { path: String, run: RunId },
    #[error("database {path}: cannot record a summary attempt for {paper}: {message}")]
    InvalidAttempt {
        path: String,
        paper: ArxivId,
        message: String,
    },
}

/// A handle on one database; clones share the connection (cheap, for moving writes off the async
/// runtime with `spawn_blocking`).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// For error messages: the file path, or `(in memory)`.
    path: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating the file if needed) and migrates a database. The folder must exist.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let open_error = |message: String| StoreError::Open {
            path: shown.clone(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(open_error(format!(
                    "folder {} does not exist",
                    parent.display()
                )));
            }
        }
        if path.is_dir() {
            return Err(open_error("it is a folder, not a file".to_string()));
        }
        let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        Store::init(conn, shown)
    }

    /// A private database that disappears with the value (tests, dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = "(in memory)".to_string();
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Store::init(conn, path)
    }

    fn init(mut conn: Connection, path: String) -> Result<Store, StoreError> {
        let foreign = |message: String| StoreError::Foreign {
            path: path.clone(),
            message,
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| foreign(e.to_string()))?;
        // Reading the header first turns "not SQLite at all" into a clear error before any write.
        // One statement, so both come from the same snapshot even while another process is
        // creating the file (two reads could see its tables but not yet its application_id).
        let (app_id, tables): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id()),
                        (SELECT count(*) FROM sqlite_schema WHERE type = 'table')",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| foreign(e.to_string()))?;
        if app_id != schema::APPLICATION_ID && (app_id != 0 || tables > 0) {
            return Err(foreign(format!(
                "it is an SQLite file of another program (application_id {app_id:#x}, {tables} tables)"
            )));
        }
        let pragma_error = |e: rusqlite::Error| StoreError::Sql {
            path: path.clone(),
            operation: "setting pragmas".to_string(),
            message: e.to_string(),
        };
        // In-memory databases answer "memory" here, which is fine.
        set_wal(&conn).map_err(pragma_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(pragma_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(pragma_error)?;
        schema::MIGRATIONS
            .to_latest(&mut conn)
            .or_else(|e| {
                // The version is read before the migration's transaction, so a process opening
                // the same new file at the same moment may have migrated it first: then our
                // (rolled back) attempt failed on "table already exists" and the schema is complete.
                match schema::MIGRATIONS.pending_migrations(&conn) {
                    Ok(0) => Ok(()),
                    _ => Err(e),
                }
            })
            .map_err(|e| StoreError::Migrate {
                path: path.clone(),
                message: migration_message(&e),
            })?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The path the store was opened with (`(in memory)` for an in-memory one).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock left no open transaction (it rolls back on drop).
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sql_error(
        &self,
        operation: impl Into<String>,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = self.path.clone();
        let operation = operation.into();
        move |e| StoreError::Sql {
            path,
            operation,
            message: e.to_string(),
        }
    }

    fn corrupt(&self, what: &'static str, key: &str, message: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    /// Inserts or refreshes papers; with a date, also records them as that day's listing, in order.
    /// Fields a source does not know (arXiv has no thumbnail) keep what another source stored.
    pub fn upsert_papers(
        &self,
        papers: &[Paper],
        listing_date: Option<NaiveDate>,
        source: &str,
    ) -> Result<(), StoreError> {
        let operation = match listing_date {
            Some(date) => format!("storing {} papers listed on {date}", papers.len()),
            None => format!("storing {} papers", papers.len()),
        };
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql_error(&operation))?;
        let now = now();
        for (position, paper) in papers.iter().enumerate() {
            upsert_paper(&tx, paper, &now).map_err(self.sql_error(&operation))?;
            if let Some(date) = listing_date {
                tx.execute(
                    "INSERT INTO listings (paper, date, source, upvotes, position)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (paper, date) DO UPDATE SET
                        source = excluded.source, upvotes = excluded.upvotes,
                        position = excluded.position",
                    params![
                        paper.id.as_str(),
                        date.to_string(),
                        source,
                        paper.upvotes,
                        sql_int(position as u64)
                    ],
                )
                .map_err(self.sql_error(&operation))?;
            }
        }
        tx.commit().map_err(self.sql_error(&operation))
    }

    /// A stored paper, with the votes of the latest day it was listed on.
    pub fn paper(&self, id: &ArxivId) -> Result<Option<Paper>, StoreError> {
        let operation = format!("reading paper {id}");
        let row = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {PAPER_COLUMNS},
                        (SELECT upvotes FROM listings l WHERE l.paper = p.id
                         ORDER BY l.date DESC LIMIT 1)
                     FROM papers p WHERE p.id = ?1"
                ),
                [id.as_str()],
                PaperRow::read,
            )
            .optional()
            .map_err(self.sql_error(operation))?;
        row.map(|row| self.paper_from_row(row)).transpose()
    }

    /// The papers listed on a day, in listing order, with that day's votes.
    pub fn papers_for_date(&self, date: NaiveDate) -> Result<Vec<Paper>, StoreError> {
        Ok(self
            .current_for_date(date)?
            .into_iter()
            .map(|entry| entry.paper)
            .collect())
    }

    /// The days a paper was listed on, oldest first.
    pub fn dates_of(&self, id: &ArxivId) -> Result<Vec<NaiveDate>, StoreError> {
        let operation = format!("reading the listing days of {id}");
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT date FROM listings WHERE paper = ?1 ORDER BY date")
            .map_err(self.sql_error(&operation))?;
        let dates = statement
            .query_map([id.as_str()], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        dates
            .iter()
            .map(|date| parse_date(date).map_err(|e| self.corrupt("listing date", id.as_str(), e)))
            .collect()
    }

    /// The days any of `ids` was listed on.
    pub fn dates_of_all(&self, ids: &[ArxivId]) -> Result<BTreeSet<NaiveDate>, StoreError> {
        let operation = format!("reading the listing days of {} papers", ids.len());
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT DISTINCT date FROM listings
                 WHERE paper IN (SELECT value FROM json_each(?1))",
            )
            .map_err(self.sql_error(&operation))?;
        let dates = statement
            .query_map([id_list(ids)], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        dates
            .iter()
            .map(|date| parse_date(date).map_err(|e| self.corrupt("listing date", date, e)))
            .collect()
    }

    /// The IDs listed on a day, in listing order.
    pub fn ids_for_date(&self, date: NaiveDate) -> Result<Vec<ArxivId>, StoreError> {
        let operation = format!("reading the papers listed on {date}");
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT paper FROM listings WHERE date = ?1 ORDER BY position, paper")
            .map_err(self.sql_error(&operation))?;
        let ids = statement
            .query_map([date.to_string()], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        ids.iter()
            .map(|id| id.parse().map_err(|e| self.corrupt("ID", id, e)))
            .collect()
    }

    /// Of `papers`, the IDs whose current summary was made with this key (abstract, prompt
    /// version, model) and passed or was flagged, or was approved, rejected or written by a person
    /// (whatever its key: only `--force` or `review resummarize` replaces a person's decision); a
    /// failed one is retried by a later run. One query for the whole list.
    pub fn done(
        &self,
        papers: &[Paper],
        prompt_version: &str,
        model: &str,
    ) -> Result<HashSet<ArxivId>, StoreError> {
        let operation = format!("checking which of {} papers are done", papers.len());
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
        // The abstract hash of each current summary of this key; `None` for a person's.
        let hashes: HashMap<String, Option<String>> = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(
                    "SELECT c.paper, CASE WHEN a.kind = 'model' THEN a.abstract_hash END
                     FROM current c JOIN attempts a ON a.id = c.attempt
                     WHERE c.paper IN (SELECT value FROM json_each(?1))
                       AND (a.kind <> 'model'
                            OR (a.prompt_version = ?2 AND a.model = ?3
                                AND a.status IN ('ok', 'flagged')))",
                )
                .map_err(self.sql_error(&operation))?;
            let rows = statement
                .query_map(params![id_list(&ids), prompt_version, model], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })
                .and_then(|rows| rows.collect::<Result<HashMap<_, _>, _>>())
                .map_err(self.sql_error(&operation))?;
            rows
        };
        Ok(papers
            .iter()
            .filter(|paper| match hashes.get(paper.id.as_str()) {
                Some(Some(hash)) => *hash == paper.abstract_hash(),
                Some(None) => true,
                None => false,
            })
            .map(|paper| paper.id.clone())
            .collect())
    }

    pub fn begin_run(&self, meta: &RunMeta) -> Result<RunId, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (kind, date, source, dry_run, model, prompt_version, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                meta.kind.as_str(),
                meta.date.map(|d| d.to_string()),
                meta.source,
                meta.dry_run,
                meta.model,
                meta.prompt_version,
                now()
            ],
        )
        .map_err(self.sql_error("starting a run"))?;
        Ok(RunId(conn.last_insert_rowid()))
    }

    /// Adds the attempt to the history and makes it the paper's current summary (unless it failed and
    /// the paper has a usable one), in ONE transaction.
    pub fn record_attempt(&self, run: RunId, rec: &AttemptRecord) -> Result<(), StoreError> {
        self.validate(rec)?;
        let operation = format!("recording a summary attempt for {} in run {run}", rec.paper);
        let sections = rec
            .sections
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| self.invalid(rec, e.to_string()))?;
        let reasons =
            serde_json::to_string(&rec.reasons).map_err(|e| self.invalid(rec, e.to_string()))?;
        let output_mode = rec
            .output_mode
            .map(|mode| serde_json::to_value(mode).map(|v| v.as_str().map(str::to_string)))
            .transpose()
            .map_err(|e| self.invalid(rec, e.to_string()))?
            .flatten();

        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql_error(&operation))?;
        let (run_known, paper_known): (bool, bool) = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1),
                        EXISTS (SELECT 1 FROM papers WHERE id = ?2)",
                params![run.0, rec.paper.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(self.sql_error(&operation))?;
        if !run_known {
            return Err(self.unknown_run(run));
        }
        if !paper_known {
            return Err(self.invalid(rec, "the paper is not stored (upsert it first)".into()));
        }
        tx.execute(
            "INSERT INTO attempts (run, paper, created_at, model, prompt_version, abstract_hash,
                status, sections, reasons, error, prompt_tokens, completion_tokens, cost_usd,
                calls, duration_ms, trimmed, output_mode, written_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                run.0,
                rec.paper.as_str(),
                now(),
                rec.key.model,
                rec.key.prompt_version,
                rec.key.abstract_hash,
                rec.status.as_str(),
                sections,
                reasons,
                rec.error,
                sql_int(rec.prompt_tokens),
                sql_int(rec.completion_tokens),
                rec.cost_usd,
                rec.calls,
                sql_int(rec.duration_ms),
                rec.trimmed,
                output_mode,
                rec.written_from.as_str()
            ],
        )
        .map_err(self.sql_error(&operation))?;
        let attempt = tx.last_insert_rowid();
        tx.execute(
            // A failed attempt never displaces a usable summary: the digest keeps what it had and
            // the next run tries again (the key no longer matches a finished summary).
            "INSERT INTO current (paper, attempt) VALUES (?1, ?2)
             ON CONFLICT (paper) DO UPDATE SET attempt = excluded.attempt
             WHERE ?3 <> 'failed'
                OR (SELECT status FROM attempts WHERE id = current.attempt) = 'failed'",
            params![rec.paper.as_str(), attempt, rec.status.as_str()],
        )
        .map_err(self.sql_error(&operation))?;
        // The result is in: the run's claim on the paper ends with it.
        tx.execute(
            "DELETE FROM claims WHERE paper = ?1 AND run = ?2",
            params![rec.paper.as_str(), run.0],
        )
        .map_err(self.sql_error(&operation))?;
        tx.commit().map_err(self.sql_error(&operation))
    }

    /// Records papers the run was to summarize but did not attempt, with why.
    pub fn record_skips(&self, run: RunId, skips: &[Skip]) -> Result<(), StoreError> {
        let operation = format!("recording the papers run {run} did not attempt");
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql_error(&operation))?;
        for skip in skips {
            tx.execute(
                "INSERT INTO run_skips (run, paper, kind, detail) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run, paper) DO UPDATE SET kind = excluded.kind, detail = excluded.detail",
                params![run.0, skip.paper.as_str(), skip.kind.as_str(), skip.detail],
            )
            .map_err(self.sql_error(&operation))?;
        }
        tx.commit().map_err(self.sql_error(&operation))
    }

    /// Records how many papers the source listed for the run's day and whether the list is complete.
    pub fn record_listing(&self, run: RunId, listing: &Listing) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE runs SET listed = ?2, list_complete = ?3, list_note = ?4 WHERE id = ?1",
                params![
                    run.0,
                    sql_int(listing.listed as u64),
                    listing.complete,
                    listing.note
                ],
            )
            .map_err(self.sql_error(format!("recording the listing of run {run}")))?;
        if changed == 0 {
            return Err(self.unknown_run(run));
        }
        Ok(())
    }

    fn validate(&self, rec: &AttemptRecord) -> Result<(), StoreError> {
        if rec.status == Status::Ok && rec.sections.is_none() {
            return Err(self.invalid(rec, "status ok without sections".into()));
        }
        if !rec.cost_usd.is_finite() || rec.cost_usd < 0.0 {
            return Err(self.invalid(rec, format!("cost {} is not a valid amount", rec.cost_usd)));
        }
        Ok(())
    }

    fn invalid(&self, rec: &AttemptRecord, message: String) -> StoreError {
        StoreError::InvalidAttempt {
            path: self.path.clone(),
            paper: rec.paper.clone(),
            message,
        }
    }

    fn unknown_run(&self, run: RunId) -> StoreError {
        StoreError::UnknownRun {
            path: self.path.clone(),
            run,
        }
    }

    /// Records how a run ended and how many papers it skipped as already done.
    pub fn finish_run(&self, run: RunId, outcome: &RunOutcome) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, skipped = ?4, note = ?5
                 WHERE id = ?1",
                params![
                    run.0,
                    now(),
                    outcome.end.as_str(),
                    sql_int(outcome.skipped),
                    outcome.note
                ],
            )
            .map_err(self.sql_error(format!("finishing run {run}")))?;
        if changed == 0 {
            return Err(self.unknown_run(run));
        }
        Ok(())
    }

    /// Every paper listed on a day (listing order, that day's votes) with its current summary.
    pub fn current_for_date(&self, date: NaiveDate) -> Result<Vec<CurrentEntry>, StoreError> {
        let operation = format!("reading the papers of {date}");
        let rows = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {PAPER_COLUMNS}, l.upvotes, l.position, a.id, a.status, a.sections,
                        a.reasons, a.error, a.abstract_hash, a.prompt_version, a.model, a.created_at,
                        a.kind, a.actor
                     FROM listings l
                     JOIN papers p ON p.id = l.paper
                     LEFT JOIN current c ON c.paper = l.paper
                     LEFT JOIN attempts a ON a.id = c.attempt
                     WHERE l.date = ?1
                     ORDER BY l.position, l.paper"
                ))
                .map_err(self.sql_error(&operation))?;
            statement
                .query_map([date.to_string()], |row| {
                    Ok((
                        PaperRow::read(row)?,
                        row.get(11)?,
                        SummaryRow::read(row, 12)?,
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(&operation))?
        };
        rows.into_iter()
            .map(|(paper, position, summary)| {
                let id = paper.id.clone();
                Ok(CurrentEntry {
                    paper: self.paper_from_row(paper)?,
                    position,
                    summary: summary
                        .map(|summary| self.summary_from_row(&id, summary))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// The paper's current summary, if it has one.
    pub fn current(&self, id: &ArxivId) -> Result<Option<CurrentSummary>, StoreError> {
        let operation = format!("reading the current summary of {id}");
        let row = self
            .conn()
            .query_row(
                "SELECT a.id, a.status, a.sections, a.reasons, a.error, a.abstract_hash,
                        a.prompt_version, a.model, a.created_at, a.kind, a.actor
                 FROM current c JOIN attempts a ON a.id = c.attempt
                 WHERE c.paper = ?1",
                [id.as_str()],
                |row| SummaryRow::read(row, 0),
            )
            .optional()
            .map_err(self.sql_error(&operation))?
            .flatten();
        row.map(|row| self.summary_from_row(id.as_str(), row))
            .transpose()
    }

    /// The cached full text of a paper (or why arXiv had none), fetched at most `max_age_missing`
    /// ago when it was missing; a found text does not change and is kept.
    pub fn full_text(
        &self,
        id: &ArxivId,
        max_age_missing: chrono::Duration,
    ) -> Result<Option<CachedFullText>, StoreError> {
        let operation = format!("reading the cached full text of {id}");
        let oldest = (Utc::now() - max_age_missing).to_rfc3339_opts(SecondsFormat::Millis, true);
        self.conn()
            .query_row(
                "SELECT url, found, text FROM full_texts
                 WHERE paper = ?1 AND (found = 1 OR fetched_at >= ?2)",
                params![id.as_str(), oldest],
                |row| {
                    Ok(CachedFullText {
                        url: row.get(0)?,
                        found: row.get(1)?,
                        text: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.sql_error(operation))
    }

    pub fn save_full_text(&self, id: &ArxivId, cached: &CachedFullText) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO full_texts (paper, url, fetched_at, found, text)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (paper) DO UPDATE SET url = excluded.url,
                    fetched_at = excluded.fetched_at, found = excluded.found, text = excluded.text",
                params![id.as_str(), cached.url, now(), cached.found, cached.text],
            )
            .map(drop)
            .map_err(self.sql_error(format!("caching the full text of {id}")))
    }

    /// The newest run, if any.
    pub fn last_run_id(&self) -> Result<Option<RunId>, StoreError> {
        self.conn()
            .query_row("SELECT max(id) FROM runs", [], |row| row.get(0))
            .map(|id: Option<i64>| id.map(RunId))
            .map_err(self.sql_error("finding the last run"))
    }

    /// What a run did: counts by status (of each paper's last attempt in the run), the skipped
    /// count the pipeline recorded, every attempted paper with its usage, and totals.
    pub fn run_report(&self, run: RunId) -> Result<RunReport, StoreError> {
        let operation = format!("reading run {run}");
        let conn = self.conn();
        let info = conn
            .query_row(
                "SELECT kind, date, source, dry_run, model, prompt_version, started_at,
                        finished_at, outcome, skipped, note, listed, list_complete, list_note
                 FROM runs WHERE id = ?1",
                [run.0],
                RunRow::read,
            )
            .optional()
            .map_err(self.sql_error(&operation))?
            .ok_or_else(|| self.unknown_run(run))?;
        let mut statement = conn
            .prepare(
                "SELECT a.paper, p.title, a.status, a.reasons, a.error, agg.attempts, agg.calls,
                        agg.prompt_tokens, agg.completion_tokens, agg.cost_usd, agg.duration_ms,
                        agg.trimmed
                 FROM (SELECT paper, max(id) AS last, count(*) AS attempts, sum(calls) AS calls,
                              sum(prompt_tokens) AS prompt_tokens,
                              sum(completion_tokens) AS completion_tokens,
                              sum(cost_usd) AS cost_usd, sum(duration_ms) AS duration_ms,
                              max(trimmed) AS trimmed
                       FROM attempts WHERE run = ?1 AND kind = 'model' GROUP BY paper) agg
                 JOIN attempts a ON a.id = agg.last
                 JOIN papers p ON p.id = a.paper
                 ORDER BY a.id",
            )
            .map_err(self.sql_error(&operation))?;
        let rows = statement
            .query_map([run.0], ResultRow::read)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        let papers = rows
            .into_iter()
            .map(|row| self.result_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        let skips = self.skips_with(&conn, run)?;
        let published = self.publish_results_with(&conn, run)?;
        let skipped = info.skipped;
        Ok(RunReport {
            run: self.info_from_row(run, info)?,
            counts: count(&papers, skipped, &skips),
            totals: total(&papers),
            papers,
            skips,
            published,
        })
    }

    fn skips_with(&self, conn: &Connection, run: RunId) -> Result<Vec<Skip>, StoreError> {
        let operation = format!("reading the papers run {run} did not attempt");
        let mut statement = conn
            .prepare("SELECT paper, kind, detail FROM run_skips WHERE run = ?1 ORDER BY paper")
            .map_err(self.sql_error(&operation))?;
        let rows = statement
            .query_map([run.0], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_error(&operation))?;
        rows.into_iter()
            .map(|(paper, kind, detail)| {
                Ok(Skip {
                    paper: paper.parse().map_err(|e| self.corrupt("ID", &paper, e))?,
                    kind: kind
                        .parse()
                        .map_err(|e| self.corrupt("skip kind", &paper, e))?,
                    detail,
                })
            })
            .collect()
    }

    fn paper_from_row(&self, row: PaperRow) -> Result<Paper, StoreError> {
        let key = row.id.as_str();
        let id: ArxivId = key.parse().map_err(|e| self.corrupt("ID", key, e))?;
        Ok(Paper {
            version: row.version,
            title: row.title,
            authors: serde_json::from_str(&row.authors)
                .map_err(|e| self.corrupt("authors", key, e))?,
            abstract_text: row.abstract_text,
            upvotes: row.upvotes,
            thumbnail: row.thumbnail,
            published: row.published,
            updated: row.updated,
            primary_category: row.primary_category,
            categories: serde_json::from_str(&row.categories)
                .map_err(|e| self.corrupt("categories", key, e))?,
            id,
        })
    }

    fn summary_from_row(&self, paper: &str, row: SummaryRow) -> Result<CurrentSummary, StoreError> {
        Ok(CurrentSummary {
            attempt: row.attempt,
            status: row
                .status
                .parse()
                .map_err(|e| self.corrupt("summary status", paper, e))?,
            sections: self.sections(paper, row.sections.as_deref())?,
            reasons: self.reasons(paper, &row.reasons)?,
            error: row.error,
            key: SummaryKey {
                abstract_hash: row.abstract_hash,
                prompt_version: row.prompt_version,
                model: row.model,
            },
            decided: review::Decided::from_columns(&row.kind, row.actor, &row.created_at),
            created_at: row.created_at,
        })
    }

    fn sections(&self, paper: &str, json: Option<&str>) -> Result<Option<Sections>, StoreError> {
        json.map(serde_json::from_str)
            .transpose()
            .map_err(|e| self.corrupt("summary sections", paper, e))
    }

    fn reasons(&self, paper: &str, json: &str) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(json).map_err(|e| self.corrupt("check reasons", paper, e))
    }

    fn result_from_row(&self, row: ResultRow) -> Result<PaperResult, StoreError> {
        let key = row.paper.as_str();
        Ok(PaperResult {
            paper: key.parse().map_err(|e| self.corrupt("ID", key, e))?,
            status: row
                .status
                .parse()
                .map_err(|e| self.corrupt("attempt status", key, e))?,
            reasons: self.reasons(key, &row.reasons)?,
            title: row.title,
            error: row.error,
            attempts: row.attempts,
            calls: row.calls,
            prompt_tokens: row.prompt_tokens,
            completion_tokens: row.completion_tokens,
            cost_usd: row.cost_usd,
            duration_ms: row.duration_ms,
            trimmed: row.trimmed,
        })
    }

    fn info_from_row(&self, id: RunId, row: RunRow) -> Result<RunInfo, StoreError> {
        let key = format!("run {id}");
        Ok(RunInfo {
            id,
            kind: row
                .kind
                .parse()
                .map_err(|e| self.corrupt("kind", &key, e))?,
            date: row
                .date
                .as_deref()
                .map(parse_date)
                .transpose()
                .map_err(|e| self.corrupt("date", &key, e))?,
            end: row
                .outcome
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| self.corrupt("outcome", &key, e))?,
            source: row.source,
            dry_run: row.dry_run,
            model: row.model,
            prompt_version: row.prompt_version,
            started_at: row.started_at,
            finished_at: row.finished_at,
            note: row.note,
            listing: row.listed.map(|listed| Listing {
                listed: usize::try_from(listed).unwrap_or(usize::MAX),
                complete: row.list_complete,
                note: row.list_note,
            }),
        })
    }
}

/// IDs as a JSON array, for `json_each(?)`: one statement for a list of any length.
fn id_list(ids: &[ArxivId]) -> String {
    serde_json::Value::from(ids.iter().map(ArxivId::as_str).collect::<Vec<_>>()).to_string()
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// SQLite integers are i64; counts beyond that saturate (the schema forbids negatives).
fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parse_date(text: &str) -> Result<NaiveDate, chrono::ParseError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
}

fn migration_message(error: &MigrationError) -> String {
    match error {
        MigrationError::MigrationDefinition(MigrationDefinitionError::DatabaseTooFarAhead) => {
            format!(
                "it was written by a newer paper-digest (this build knows schema version {})",
                schema::MIGRATION_COUNT
            )
        }
        other => other.to_string(),
    }
}

fn upsert_paper(tx: &rusqlite::Transaction<'_>, paper: &Paper, now: &str) -> rusqlite::Result<()> {
    let json = |list: &[String]| {
        serde_json::to_string(list)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    };
    tx.execute(
        "INSERT INTO papers (id, version, title, authors, abstract, abstract_hash, published,
            updated, primary_category, categories, thumbnail, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT (id) DO UPDATE SET
            version = coalesce(excluded.version, version),
            title = excluded.title,
            authors = CASE WHEN excluded.authors = '[]' THEN authors ELSE excluded.authors END,
            abstract = CASE WHEN excluded.abstract = '' THEN abstract ELSE excluded.abstract END,
            abstract_hash = CASE WHEN excluded.abstract = '' THEN abstract_hash
                                 ELSE excluded.abstract_hash END,
            published = coalesce(excluded.published, published),
            updated = coalesce(excluded.updated, updated),
            primary_category = coalesce(excluded.primary_category, primary_category),
            categories = CASE WHEN excluded.categories = '[]' THEN categories
                              ELSE excluded.categories END,
            thumbnail = coalesce(excluded.thumbnail, thumbnail),
            last_seen = excluded.last_seen",
        params![
            paper.id.as_str(),
            paper.version,
            paper.title,
            json(&paper.authors)?,
            paper.abstract_text,
            paper.abstract_hash(),
            paper.published,
            paper.updated,
            paper.primary_category,
            json(&paper.categories)?,
            paper.thumbnail,
            now
        ],
    )
    .map(drop)
}

fn count(papers: &[PaperResult], skipped: u64, skips: &[Skip]) -> StatusCounts {
    let of = |status: Status| papers.iter().filter(|p| p.status == status).count() as u64;
    let skipped_as = |kind: SkipKind| skips.iter().filter(|s| s.kind == kind).count() as u64;
    StatusCounts {
        ok: of(Status::Ok),
        flagged: of(Status::Flagged),
        failed: of(Status::Failed),
        skipped,
        not_attempted: skipped_as(SkipKind::NotAttempted),
        elsewhere: skipped_as(SkipKind::Elsewhere),
    }
}

fn total(papers: &[PaperResult]) -> Totals {
    papers.iter().fold(Totals::default(), |sum, p| Totals {
        attempts: sum.attempts + p.attempts,
        calls: sum.calls + p.calls,
        prompt_tokens: sum.prompt_tokens + p.prompt_tokens,
        completion_tokens: sum.completion_tokens + p.completion_tokens,
        cost_usd: sum.cost_usd + p.cost_usd,
        duration_ms: sum.duration_ms + p.duration_ms,
    })
}

/// `p.`-qualified paper columns in the order [`PaperRow::read`] expects; upvotes follow them.
const PAPER_COLUMNS: &str = "p.id, p.version, p.title, p.authors, p.abstract, p.published, \
    p.updated, p.primary_category, p.categories, p.thumbnail";

/// Raw columns; decoding that can fail on a damaged file happens outside rusqlite's closures.
struct PaperRow {
    id: String,
    version: Option<u32>,
    title: String,
    authors: String,
    abstract_text: String,
    published: Option<String>,
    updated: Option<String>,
    primary_category: Option<String>,
    categories: String,
    thumbnail: Option<String>,
    upvotes: Option<i64>,
}

impl PaperRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<PaperRow> {
        Ok(PaperRow {
            id: row.get(0)?,
            version: row.get(1)?,
            title: row.get(2)?,
            authors: row.get(3)?,
            abstract_text: row.get(4)?,
            published: row.get(5)?,
            updated: row.get(6)?,
            primary_category: row.get(7)?,
            categories: row.get(8)?,
            thumbnail: row.get(9)?,
            upvotes: row.get(10)?,
        })
    }
}

struct SummaryRow {
    attempt: i64,
    status: String,
    sections: Option<String>,
    reasons: String,
    error: Option<String>,
    abstract_hash: String,
    prompt_version: String,
    model: String,
    created_at: String,
    kind: String,
    actor: Option<String>,
}

impl SummaryRow {
    /// `None` when the LEFT JOIN found no current summary.
    fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<Option<SummaryRow>> {
        let Some(attempt) = row.get(first)? else {
            return Ok(None);
        };
        Ok(Some(SummaryRow {
            attempt,
            status: row.get(first + 1)?,
            sections: row.get(first + 2)?,
            reasons: row.get(first + 3)?,
            error: row.get(first + 4)?,
            abstract_hash: row.get(first + 5)?,
            prompt_version: row.get(first + 6)?,
            model: row.get(first + 7)?,
            created_at: row.get(first + 8)?,
            kind: row.get(first + 9)?,
            actor: row.get(first + 10)?,
        }))
    }
}

struct RunRow {
    kind: String,
    date: Option<String>,
    source: String,
    dry_run: bool,
    model: String,
    prompt_version: String,
    started_at: String,
    finished_at: Option<String>,
    outcome: Option<String>,
    skipped: u64,
    note: Option<String>,
    listed: Option<u64>,
    list_complete: bool,
    list_note: Option<String>,
}

impl RunRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<RunRow> {
        Ok(RunRow {
            kind: row.get(0)?,
            date: row.get(1)?,
            source: row.get(2)?,
            dry_run: row.get(3)?,
            model: row.get(4)?,
            prompt_version: row.get(5)?,
            started_at: row.get(6)?,
            finished_at: row.get(7)?,
            outcome: row.get(8)?,
            skipped: from_sql_int(row.get(9)?),
            note: row.get(10)?,
            listed: row.get::<_, Option<i64>>(11)?.map(from_sql_int),
            list_complete: row.get(12)?,
            list_note: row.get(13)?,
        })
    }
}

struct ResultRow {
    paper: String,
    title: String,
    status: String,
    reasons: String,
    error: Option<String>,
    attempts: u64,
    calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
    duration_ms: u64,
    trimmed: bool,
}

impl ResultRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<ResultRow> {
        Ok(ResultRow {
            paper: row.get(0)?,
            title: row.get(1)?,
            status: row.get(2)?,
            reasons: row.get(3)?,
            error: row.get(4)?,
            attempts: from_sql_int(row.get(5)?),
            calls: from_sql_int(row.get(6)?),
            prompt_tokens: from_sql_int(row.get(7)?),
            completion_tokens: from_sql_int(row.get(8)?),
            cost_usd: row.get(9)?,
            duration_ms: from_sql_int(row.get(10)?),
            trimmed: row.get(11)?,
        })
    }
}
