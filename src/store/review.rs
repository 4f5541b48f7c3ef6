//! The review trail: what a person decided about a paper's summary, kept for good.
//!
//! A decision that changes the summary (approve, reject, edit) adds a person's attempt to the
//! history (`attempts.kind` = the action, `attempts.actor` = who) and makes it current, in the same
//! transaction as its row in `review_decisions`; the model's answer stays in the history. A person's
//! current summary counts as done for every later run (see [`Store::done`]): only `--force` or a
//! `review resummarize` asks the model again. A re-summarization is recorded after the summarize
//! stage ran, with the summary it left current.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{now, parse_date, RunId, Store, StoreError};
use crate::paper::{ArxivId, Sections, Status};

/// What a person did about a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// The summary is published as it is, whatever the checks said.
    Approve,
    /// The summary is kept out of every digest until a new summary is made.
    Reject,
    /// The summary was rewritten by a person.
    Edit,
    /// The model was asked again.
    Resummarize,
}

impl ReviewAction {
    pub const ALL: [ReviewAction; 4] = [
        ReviewAction::Approve,
        ReviewAction::Reject,
        ReviewAction::Edit,
        ReviewAction::Resummarize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Approve => "approve",
            ReviewAction::Reject => "reject",
            ReviewAction::Edit => "edit",
            ReviewAction::Resummarize => "resummarize",
        }
    }
}

impl fmt::Display for ReviewAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReviewAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReviewAction::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| format!("unknown review action {s:?}"))
    }
}

/// Where a paper's summary stands for a reviewer: its status, or rejected by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    Ok,
    Flagged,
    Failed,
    Rejected,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Ok => "ok",
            ReviewState::Flagged => "flagged",
            ReviewState::Failed => "failed",
            ReviewState::Rejected => "rejected",
        }
    }

    /// Where a current summary stands.
    pub fn of_current(summary: &super::CurrentSummary) -> ReviewState {
        ReviewState::of(summary.status, summary.decided.as_ref().map(|d| d.action))
    }

    /// A summary's status, unless the person who made it current (`action`) rejected it.
    fn of(status: Status, action: Option<ReviewAction>) -> ReviewState {
        match (action, status) {
            (Some(ReviewAction::Reject), _) => ReviewState::Rejected,
            (_, Status::Ok) => ReviewState::Ok,
            (_, Status::Flagged) => ReviewState::Flagged,
            (_, Status::Failed) => ReviewState::Failed,
        }
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReviewState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ReviewState::Ok,
            ReviewState::Flagged,
            ReviewState::Failed,
            ReviewState::Rejected,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown review state {s:?}"))
    }
}

/// A current summary a person decided on (approved, rejected or wrote), and who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    pub action: ReviewAction,
    pub actor: String,
    pub at: String,
}

impl Decided {
    /// From an attempt's `kind`, `actor` and `created_at`; `None` for the model's own attempts.
    pub(super) fn from_columns(kind: &str, actor: Option<String>, at: &str) -> Option<Decided> {
        let action = kind
            .parse()
            .ok()
            // A re-summarization leaves the model's attempt current, not a person's.
            .filter(|action| *action != ReviewAction::Resummarize)?;
        Some(Decided {
            action,
            actor: actor.unwrap_or_default(),
            at: at.to_string(),
        })
    }
}

/// One row of the review trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub id: i64,
    pub paper: ArxivId,
    pub attempt_before: Option<i64>,
    pub attempt_after: Option<i64>,
    pub decided_at: String,
    pub actor: String,
    pub action: ReviewAction,
    pub note: Option<String>,
    pub status_before: Option<ReviewState>,
    pub status_after: Option<ReviewState>,
    /// For edits: the sections before and after.
    pub text_before: Option<Sections>,
    pub text_after: Option<Sections>,
}

/// The summary a person's decision makes current.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanSummary {
    pub status: Status,
    pub sections: Option<Sections>,
    pub reasons: Vec<String>,
}

/// A decision that replaces the current summary (approve, reject, edit).
#[derive(Debug, Clone)]
pub struct DecisionRequest<'a> {
    pub paper: &'a ArxivId,
    pub action: ReviewAction,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    /// The attempt the decision was taken on: if the paper's current summary is another one by
    /// the time it is recorded, nothing is changed.
    pub base: i64,
    pub summary: HumanSummary,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{paper} has no summary to decide on")]
    NoSummary { paper: ArxivId },
    #[error("the summary of {paper} changed since it was read (attempt {expected}, now {found}): look at it again")]
    Changed {
        paper: ArxivId,
        expected: i64,
        found: i64,
    },
    #[error(
        "{paper} is being summarized by run {run} right now: decide when that run has finished"
    )]
    InProgress { paper: ArxivId, run: RunId },
}

/// A past attempt of a paper, for the history a reviewer reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptInfo {
    pub id: i64,
    pub run: RunId,
    pub created_at: String,
    /// `model`, or the action of the person who made it.
    pub kind: String,
    pub actor: Option<String>,
    pub status: Status,
    pub model: String,
    pub prompt_version: String,
    pub reasons: Vec<String>,
    pub calls: u64,
    pub current: bool,
}

/// Which papers a review list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueFilter {
    /// Flagged, not decided on yet (or edited by a person and still flagged).
    Flagged,
    Failed,
    /// Flagged or failed: everything waiting for a person.
    Pending,
    /// Every paper, summarized or not.
    All,
}

impl QueueFilter {
    pub const ALL: [QueueFilter; 4] = [
        QueueFilter::Flagged,
        QueueFilter::Failed,
        QueueFilter::Pending,
        QueueFilter::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueFilter::Flagged => "flagged",
            QueueFilter::Failed => "failed",
            QueueFilter::Pending => "pending",
            QueueFilter::All => "all",
        }
    }

    fn keeps(self, state: Option<ReviewState>) -> bool {
        match self {
            QueueFilter::Flagged => state == Some(ReviewState::Flagged),
            QueueFilter::Failed => state == Some(ReviewState::Failed),
            QueueFilter::Pending => {
                matches!(state, Some(ReviewState::Flagged | ReviewState::Failed))
            }
            QueueFilter::All => true,
        }
    }
}

/// One paper of a review list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    pub paper: ArxivId,
    pub title: String,
    /// The days it was listed on, oldest first.
    pub dates: Vec<NaiveDate>,
    /// `None`: not summarized yet.
    pub state: Option<ReviewState>,
    pub attempt: Option<i64>,
    pub reasons: Vec<String>,
    pub decided: Option<Decided>,
    pub summarized_at: Option<String>,
}

/// A listing day and where its papers stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayCounts {
    pub date: NaiveDate,
    pub listed: u64,
    pub ok: u64,
    pub flagged: u64,
    pub failed: u64,
    pub rejected: u64,
    pub unsummarized: u64,
    /// Current summaries a person approved or wrote.
    pub by_people: u64,
}

impl Store {
    /// Records a person's decision: their summary becomes current (the model's stays in the
    /// history) and the trail gets its row, in one transaction. Refused while a run holds a live
    /// claim on the paper, or when the current summary is no longer `request.base`.
    pub fn decide(&self, request: &DecisionRequest<'_>) -> Result<Decision, DecideError> {
        let paper = request.paper;
        let operation = format!("recording a review decision on {paper}");
        let sql = |e| self.sql_error(&operation)(e);
        let sections = request
            .summary
            .sections
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| self.corrupt("summary sections", paper.as_str(), e))?;
        let reasons = serde_json::to_string(&request.summary.reasons)
            .map_err(|e| self.corrupt("check reasons", paper.as_str(), e))?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        if let Some(run) = live_claim(&tx, paper).map_err(sql)? {
            return Err(DecideError::InProgress {
                paper: paper.clone(),
                run,
            });
        }
        let Some(before) = current_state(&tx, paper).map_err(sql)? else {
            return Err(DecideError::NoSummary {
                paper: paper.clone(),
            });
        };
        if before.attempt != request.base {
            return Err(DecideError::Changed {
                paper: paper.clone(),
                expected: request.base,
                found: before.attempt,
            });
        }
        let status_before = self.state_of(paper.as_str(), &before.status, &before.kind)?;
        tx.execute(
            "INSERT INTO attempts (run, paper, created_at, model, prompt_version, abstract_hash,
                status, sections, reasons, error, prompt_tokens, completion_tokens, cost_usd,
                calls, duration_ms, trimmed, output_mode, written_from, kind, actor)
             SELECT run, paper, ?2, model, prompt_version, abstract_hash, ?3, ?4, ?5, NULL, 0, 0,
                0.0, 0, 0, trimmed, NULL, written_from, ?6, ?7
             FROM attempts WHERE id = ?1",
            params![
                request.base,
                now(),
                request.summary.status.as_str(),
                sections,
                reasons,
                request.action.as_str(),
                request.actor
            ],
        )
        .map_err(sql)?;
        let after = tx.last_insert_rowid();
        tx.execute(
            "UPDATE current SET attempt = ?2 WHERE paper = ?1",
            params![paper.as_str(), after],
        )
        .map_err(sql)?;
        let status_after = ReviewState::of(request.summary.status, Some(request.action));
        let (text_before, text_after) = match request.action {
            ReviewAction::Edit => (before.sections.clone(), sections.clone()),
            _ => (None, None),
        };
        let id = insert_decision(
            &tx,
            &NewDecision {
                paper,
                before: Some(before.attempt),
                after: Some(after),
                actor: request.actor,
                action: request.action,
                note: request.note,
                status_before: Some(status_before),
                status_after: Some(status_after),
                text_before: text_before.as_deref(),
                text_after: text_after.as_deref(),
            },
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        drop(conn);
        Ok(self.decision(id)?)
    }

    /// Records a re-summarization a person asked for, once the summarize stage has run: the
    /// summary before (`before`, `None` when there was none) and the one now current.
    pub fn record_resummarize(
        &self,
        paper: &ArxivId,
        before: Option<i64>,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Decision, StoreError> {
        let operation = format!("recording the re-summarization of {paper}");
        let sql = |e| self.sql_error(&operation)(e);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let state_of_attempt = |attempt: i64| -> Result<Option<ReviewState>, StoreError> {
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT status, kind FROM attempts WHERE id = ?1",
                    [attempt],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sql)?;
            row.map(|(status, kind)| self.state_of(paper.as_str(), &status, &kind))
                .transpose()
        };
        let status_before = before.map(state_of_attempt).transpose()?.flatten();
        let after = current_state(&tx, paper).map_err(sql)?;
        let status_after = after
            .as_ref()
            .map(|now| self.state_of(paper.as_str(), &now.status, &now.kind))
            .transpose()?;
        let id = insert_decision(
            &tx,
            &NewDecision {
                paper,
                before,
                after: after.map(|now| now.attempt),
                actor,
                action: ReviewAction::Resummarize,
                note,
                status_before,
                status_after,
                text_before: None,
                text_after: None,
            },
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        drop(conn);
        self.decision(id)
    }

    fn decision(&self, id: i64) -> Result<Decision, StoreError> {
        let operation = format!("reading review decision {id}");
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {DECISION_COLUMNS} FROM review_decisions WHERE id = ?1"),
                [id],
                DecisionRow::read,
            )
            .map_err(self.sql_error(operation))?;
        self.decision_from_row(row)
    }

    /// Every decision taken on a paper, oldest first.
    pub fn decisions(&self, paper: &ArxivId) -> Result<Vec<Decision>, StoreError> {
        let operation = format!("reading the review trail of {paper}");
        let rows = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {DECISION_COLUMNS} FROM review_decisions WHERE paper = ?1 ORDER BY id"
                ))
                .map_err(self.sql_error(&operation))?;
            let rows = statement
                .query_map([paper.as_str()], DecisionRow::read)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(&operation))?;
            rows
        };
        rows.into_iter()
            .map(|row| self.decision_from_row(row))
            .collect()
    }

    /// Every attempt of a paper (the model's and people's), oldest first.
    pub fn history(&self, paper: &ArxivId) -> Result<Vec<AttemptInfo>, StoreError> {
        let operation = format!("reading the summary history of {paper}");
        let rows: Vec<AttemptRow> = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(
                    "SELECT a.id, a.run, a.created_at, a.kind, a.actor, a.status, a.model,
                            a.prompt_version, a.reasons, a.calls,
                            EXISTS (SELECT 1 FROM current c WHERE c.attempt = a.id)
                     FROM attempts a WHERE a.paper = ?1 ORDER BY a.id",
                )
                .map_err(self.sql_error(&operation))?;
            let rows = statement
                .query_map([paper.as_str()], AttemptRow::read)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(&operation))?;
            rows
        };
        rows.into_iter()
            .map(|row| {
                Ok(AttemptInfo {
                    status: row
                        .status
                        .parse()
                        .map_err(|e| self.corrupt("attempt status", paper.as_str(), e))?,
                    reasons: self.reasons(paper.as_str(), &row.reasons)?,
                    id: row.id,
                    run: RunId(row.run),
                    created_at: row.created_at,
                    kind: row.kind,
                    actor: row.actor,
                    model: row.model,
                    prompt_version: row.prompt_version,
                    calls: super::from_sql_int(row.calls),
                    current: row.current,
                })
            })
            .collect()
    }

    /// The papers a reviewer looks at: those listed on `date` (every paper when `None`), newest
    /// day first and in listing order, kept by `filter`.
    pub fn queue(
        &self,
        date: Option<NaiveDate>,
        filter: QueueFilter,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        let operation = match date {
            Some(date) => format!("reading the review list of {date}"),
            None => "reading the review list".to_string(),
        };
        let rows: Vec<QueueRow> = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(
                    "SELECT p.id, p.title, a.id, a.status, a.kind, a.actor, a.reasons, a.created_at,
                            (SELECT json_group_array(date) FROM
                                (SELECT date FROM listings WHERE paper = p.id ORDER BY date))
                     FROM papers p
                     LEFT JOIN current c ON c.paper = p.id
                     LEFT JOIN attempts a ON a.id = c.attempt
                     WHERE ?1 IS NULL
                        OR EXISTS (SELECT 1 FROM listings l WHERE l.paper = p.id AND l.date = ?1)
                     ORDER BY (SELECT max(date) FROM listings WHERE paper = p.id) DESC,
                              (SELECT position FROM listings WHERE paper = p.id
                               ORDER BY (date = ?1) DESC, date DESC LIMIT 1),
                              p.id",
                )
                .map_err(self.sql_error(&operation))?;
            let rows = statement
                .query_map([date.map(|d| d.to_string())], QueueRow::read)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(&operation))?;
            rows
        };
        let mut entries = Vec::new();
        for row in rows {
            let key = row.id.as_str();
            let state = match (&row.status, &row.kind) {
                (Some(status), Some(kind)) => Some(self.state_of(key, status, kind)?),
                _ => None,
            };
            if !filter.keeps(state) {
                continue;
            }
            let dates: Vec<String> = serde_json::from_str(&row.dates)
                .map_err(|e| self.corrupt("listing dates", key, e))?;
            entries.push(QueueEntry {
                paper: key.parse().map_err(|e| self.corrupt("ID", key, e))?,
                dates: dates
                    .iter()
                    .map(|d| parse_date(d).map_err(|e| self.corrupt("listing date", key, e)))
                    .collect::<Result<_, _>>()?,
                state,
                attempt: row.attempt,
                reasons: row
                    .reasons
                    .as_deref()
                    .map(|json| self.reasons(key, json))
                    .transpose()?
                    .unwrap_or_default(),
                decided: row.kind.as_deref().and_then(|kind| {
                    Decided::from_columns(
                        kind,
                        row.actor.clone(),
                        row.created_at.as_deref().unwrap_or(""),
                    )
                }),
                summarized_at: row.created_at,
                title: row.title,
            });
        }
        Ok(entries)
    }

    /// Every listing day, newest first, with how its papers stand.
    pub fn days(&self) -> Result<Vec<DayCounts>, StoreError> {
        let operation = "reading the listing days";
        let rows: Vec<(String, [i64; 7])> = {
            let conn = self.conn();
            let mut statement = conn
                .prepare(
                    "SELECT l.date, count(*),
                        count(CASE WHEN a.status = 'ok' AND a.kind <> 'reject' THEN 1 END),
                        count(CASE WHEN a.status = 'flagged' AND a.kind <> 'reject' THEN 1 END),
                        count(CASE WHEN a.status = 'failed' AND a.kind <> 'reject' THEN 1 END),
                        count(CASE WHEN a.kind = 'reject' THEN 1 END),
                        count(CASE WHEN a.id IS NULL THEN 1 END),
                        count(CASE WHEN a.kind IN ('approve', 'edit') THEN 1 END)
                     FROM listings l
                     LEFT JOIN current c ON c.paper = l.paper
                     LEFT JOIN attempts a ON a.id = c.attempt
                     GROUP BY l.date ORDER BY l.date DESC",
                )
                .map_err(self.sql_error(operation))?;
            let rows = statement
                .query_map([], |row| {
                    let mut counts = [0; 7];
                    for (i, count) in counts.iter_mut().enumerate() {
                        *count = row.get(i + 1)?;
                    }
                    Ok((row.get(0)?, counts))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.sql_error(operation))?;
            rows
        };
        rows.into_iter()
            .map(|(date, c)| {
                let n = |i: usize| super::from_sql_int(c[i]);
                Ok(DayCounts {
                    date: parse_date(&date).map_err(|e| self.corrupt("listing date", &date, e))?,
                    listed: n(0),
                    ok: n(1),
                    flagged: n(2),
                    failed: n(3),
                    rejected: n(4),
                    unsummarized: n(5),
                    by_people: n(6),
                })
            })
            .collect()
    }

    /// The run holding a live claim on the paper, if one does (it is summarizing it now).
    pub fn claimed_by(&self, paper: &ArxivId) -> Result<Option<RunId>, StoreError> {
        let conn = self.conn();
        live_claim(&conn, paper).map_err(self.sql_error(format!("reading the claim on {paper}")))
    }

    fn state_of(&self, key: &str, status: &str, kind: &str) -> Result<ReviewState, StoreError> {
        let status: Status = status
            .parse()
            .map_err(|e| self.corrupt("summary status", key, e))?;
        // `model`, the model's own attempt, is no person's action.
        Ok(ReviewState::of(status, kind.parse().ok()))
    }

    fn decision_from_row(&self, row: DecisionRow) -> Result<Decision, StoreError> {
        let key = row.paper.as_str();
        let state = |text: Option<String>| {
            text.map(|t| {
                t.parse()
                    .map_err(|e: String| self.corrupt("review status", key, e))
            })
            .transpose()
        };
        Ok(Decision {
            id: row.id,
            paper: key.parse().map_err(|e| self.corrupt("ID", key, e))?,
            attempt_before: row.attempt_before,
            attempt_after: row.attempt_after,
            decided_at: row.decided_at,
            actor: row.actor,
            action: row
                .action
                .parse()
                .map_err(|e: String| self.corrupt("review action", key, e))?,
            note: row.note,
            status_before: state(row.status_before)?,
            status_after: state(row.status_after)?,
            text_before: self.sections(key, row.text_before.as_deref())?,
            text_after: self.sections(key, row.text_after.as_deref())?,
        })
    }
}

/// The current summary's attempt, as a decision needs it.
struct CurrentState {
    attempt: i64,
    status: String,
    kind: String,
    sections: Option<String>,
}

fn current_state(tx: &Transaction<'_>, paper: &ArxivId) -> rusqlite::Result<Option<CurrentState>> {
    tx.query_row(
        "SELECT a.id, a.status, a.kind, a.sections FROM current c
         JOIN attempts a ON a.id = c.attempt WHERE c.paper = ?1",
        [paper.as_str()],
        |row| {
            Ok(CurrentState {
                attempt: row.get(0)?,
                status: row.get(1)?,
                kind: row.get(2)?,
                sections: row.get(3)?,
            })
        },
    )
    .optional()
}

fn live_claim(conn: &rusqlite::Connection, paper: &ArxivId) -> rusqlite::Result<Option<RunId>> {
    conn.query_row(
        "SELECT run FROM claims WHERE paper = ?1 AND lease_until >= ?2",
        params![paper.as_str(), now()],
        |row| row.get(0).map(RunId),
    )
    .optional()
}

struct NewDecision<'a> {
    paper: &'a ArxivId,
    before: Option<i64>,
    after: Option<i64>,
    actor: &'a str,
    action: ReviewAction,
    note: Option<&'a str>,
    status_before: Option<ReviewState>,
    status_after: Option<ReviewState>,
    text_before: Option<&'a str>,
    text_after: Option<&'a str>,
}

fn insert_decision(tx: &Transaction<'_>, d: &NewDecision<'_>) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO review_decisions (paper, attempt_before, attempt_after, decided_at, actor,
            action, note, status_before, status_after, text_before, text_after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            d.paper.as_str(),
            d.before,
            d.after,
            now(),
            d.actor,
            d.action.as_str(),
            d.note,
            d.status_before.map(ReviewState::as_str),
            d.status_after.map(ReviewState::as_str),
            d.text_before,
            d.text_after
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

const DECISION_COLUMNS: &str = "id, paper, attempt_before, attempt_after, decided_at, actor, \
    action, note, status_before, status_after, text_before, text_after";

struct DecisionRow {
    id: i64,
    paper: String,
    attempt_before: Option<i64>,
    attempt_after: Option<i64>,
    decided_at: String,
    actor: String,
    action: String,
    note: Option<String>,
    status_before: Option<String>,
    status_after: Option<String>,
    text_before: Option<String>,
    text_after: Option<String>,
}

impl DecisionRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<DecisionRow> {
        Ok(DecisionRow {
            id: row.get(0)?,
            paper: row.get(1)?,
            attempt_before: row.get(2)?,
            attempt_after: row.get(3)?,
            decided_at: row.get(4)?,
            actor: row.get(5)?,
            action: row.get(6)?,
            note: row.get(7)?,
            status_before: row.get(8)?,
            status_after: row.get(9)?,
            text_before: row.get(10)?,
            text_after: row.get(11)?,
        })
    }
}

struct AttemptRow {
    id: i64,
    run: i64,
    created_at: String,
    kind: String,
    actor: Option<String>,
    status: String,
    model: String,
    prompt_version: String,
    reasons: String,
    calls: i64,
    current: bool,
}

impl AttemptRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<AttemptRow> {
        Ok(AttemptRow {
            id: row.get(0)?,
            run: row.get(1)?,
            created_at: row.get(2)?,
            kind: row.get(3)?,
            actor: row.get(4)?,
            status: row.get(5)?,
            model: row.get(6)?,
            prompt_version: row.get(7)?,
            reasons: row.get(8)?,
            calls: row.get(9)?,
            current: row.get(10)?,
        })
    }
}

struct QueueRow {
    id: String,
    title: String,
    attempt: Option<i64>,
    status: Option<String>,
    kind: Option<String>,
    actor: Option<String>,
    reasons: Option<String>,
    created_at: Option<String>,
    dates: String,
}

impl QueueRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<QueueRow> {
        Ok(QueueRow {
            id: row.get(0)?,
            title: row.get(1)?,
            attempt: row.get(2)?,
            status: row.get(3)?,
            kind: row.get(4)?,
            actor: row.get(5)?,
            reasons: row.get(6)?,
            created_at: row.get(7)?,
            dates: row.get(8)?,
        })
    }
}
