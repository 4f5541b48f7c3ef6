//! The database schema, as ordered migrations (`PRAGMA user_version` records how far a file got).
//!
//! Never edit a released migration: add a new one, so existing files upgrade in place.

use rusqlite_migration::{Migrations, M};

/// Marks files created by this program (`PRAGMA application_id`), so a foreign file is refused.
pub(crate) const APPLICATION_ID: i64 = 0x5044_4754; // "PDGT"

const MIGRATION_SLICE: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE papers (
    id               TEXT PRIMARY KEY NOT NULL,  -- arXiv ID without version
    version          INTEGER,
    title            TEXT NOT NULL,
    authors          TEXT NOT NULL,              -- JSON array, source order
    abstract         TEXT NOT NULL,
    abstract_hash    TEXT NOT NULL,
    published        TEXT,
    updated          TEXT,
    primary_category TEXT,
    categories       TEXT NOT NULL,              -- JSON array
    thumbnail        TEXT,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL
) STRICT;

-- Which papers a source listed on which day, with that day's votes (a digest shows the day's votes).
CREATE TABLE listings (
    paper    TEXT NOT NULL REFERENCES papers(id),
    date     TEXT NOT NULL,
    source   TEXT NOT NULL,
    upvotes  INTEGER,
    position INTEGER NOT NULL,
    PRIMARY KEY (paper, date)
) STRICT;
CREATE INDEX listings_by_date ON listings(date, position);

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL CHECK (kind IN ('run', 'summarize')),
    date           TEXT,
    source         TEXT NOT NULL,
    dry_run        INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,                          -- NULL: still running, or killed
    outcome        TEXT CHECK (outcome IN ('finished', 'interrupted', 'budget_exhausted', 'aborted')),
    skipped        INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),    -- papers already done, passed in by the pipeline
    note           TEXT
) STRICT;

-- History: one row per summary attempt of a paper (repairs included, see `calls`).
CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run               INTEGER NOT NULL REFERENCES runs(id),
    paper             TEXT NOT NULL REFERENCES papers(id),
    created_at        TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_version    TEXT NOT NULL,
    abstract_hash     TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('ok', 'flagged', 'failed')),
    sections          TEXT,                       -- JSON object, NULL when there was no usable answer
    reasons           TEXT NOT NULL,              -- JSON array of strings
    error             TEXT,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cost_usd          REAL NOT NULL CHECK (cost_usd >= 0),
    calls             INTEGER NOT NULL CHECK (calls >= 0),
    duration_ms       INTEGER NOT NULL CHECK (duration_ms >= 0),
    trimmed           INTEGER NOT NULL CHECK (trimmed IN (0, 1)),
    output_mode       TEXT
) STRICT;
CREATE INDEX attempts_by_run ON attempts(run, paper);
CREATE INDEX attempts_by_paper ON attempts(paper);

-- Exactly one current summary per paper.
CREATE TABLE current (
    paper   TEXT PRIMARY KEY NOT NULL REFERENCES papers(id),
    attempt INTEGER NOT NULL UNIQUE REFERENCES attempts(id)
) STRICT;

-- Set in the same transaction as the tables, so a file is either ours and complete or untouched.
PRAGMA application_id = 1346651988;
"#,
    ),
    M::up(
        r#"
-- arXiv's HTML rendering of a paper, as text, for checking summaries against the full paper
-- (`lint --fetch-full-text`); a missing rendering is kept too, with why, so it is not asked again at once.
CREATE TABLE full_texts (
    paper      TEXT PRIMARY KEY NOT NULL,  -- no reference: lint checks papers the store may not hold
    url        TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    found      INTEGER NOT NULL CHECK (found IN (0, 1)),
    text       TEXT NOT NULL               -- the paper's text, or why there is none
) STRICT;
"#,
    ),
    M::up(
        r#"
-- What a summary was written from: our runs ask from the title and abstract only.
ALTER TABLE attempts ADD COLUMN written_from TEXT NOT NULL DEFAULT 'abstract'
    CHECK (written_from IN ('abstract', 'full-text'));

-- How complete a day's list was: a list cut short (a page limit, a failing page) is never published.
ALTER TABLE runs ADD COLUMN listed INTEGER CHECK (listed >= 0);  -- NULL: the run is not a day's
ALTER TABLE runs ADD COLUMN list_complete INTEGER NOT NULL DEFAULT 1 CHECK (list_complete IN (0, 1));
ALTER TABLE runs ADD COLUMN list_note TEXT;

-- A paper a run is summarizing, until its result is recorded or the lease runs out (a crashed
-- run's claims expire and another run takes them over). One row per paper: two runs, a manual
-- summarize during the job, or several workers never ask for the same paper at once.
CREATE TABLE claims (
    paper       TEXT PRIMARY KEY NOT NULL REFERENCES papers(id),
    run         INTEGER NOT NULL REFERENCES runs(id),
    claimed_at  TEXT NOT NULL,
    lease_until TEXT NOT NULL
) STRICT;
CREATE INDEX claims_by_run ON claims(run);

-- Papers a run was to summarize but did not attempt, and why.
CREATE TABLE run_skips (
    run    INTEGER NOT NULL REFERENCES runs(id),
    paper  TEXT NOT NULL REFERENCES papers(id),
    kind   TEXT NOT NULL CHECK (kind IN ('not_attempted', 'elsewhere')),
    detail TEXT NOT NULL,
    PRIMARY KEY (run, paper)
) STRICT;
"#,
    ),
    M::up(
        r#"
-- Who wrote an attempt: the model in a run ('model'), or a person in review: an approval or a
-- rejection of the summary before it (same sections), or an edit (new sections). A person's attempt
-- keeps `run` and the key of the attempt it decided on, so the model's answer stays in the history.
ALTER TABLE attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'model'
    CHECK (kind IN ('model', 'approve', 'reject', 'edit'));
ALTER TABLE attempts ADD COLUMN actor TEXT;  -- the person, for every kind but 'model'

-- The review trail: every decision a person took on a paper's summary, with what it changed.
CREATE TABLE review_decisions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    paper          TEXT NOT NULL REFERENCES papers(id),
    attempt_before INTEGER REFERENCES attempts(id),  -- the current summary decided on
    attempt_after  INTEGER REFERENCES attempts(id),  -- the current summary after the decision
    decided_at     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('approve', 'reject', 'edit', 'resummarize')),
    note           TEXT,
    status_before  TEXT CHECK (status_before IN ('ok', 'flagged', 'failed', 'rejected')),
    status_after   TEXT CHECK (status_after IN ('ok', 'flagged', 'failed', 'rejected')),
    text_before    TEXT,                              -- edits: the sections before (JSON)
    text_after     TEXT                               -- edits: the sections after (JSON)
) STRICT;
CREATE INDEX review_decisions_by_paper ON review_decisions(paper, id);
"#,
    ),
    M::up(
        r#"
-- Where each day was published, by content: one row per (day, target, content hash). A rerun whose
-- content is unchanged publishes nothing again; a changed day is published again (an update). `id`
-- orders the rows: a (day, target)'s row with the highest id is what its readers have, or are being
-- sent (webhook messages are recorded one by one in `parts_done`, so a rerun resumes, never repeats).
CREATE TABLE publications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    date         TEXT NOT NULL,
    target       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    done_at      TEXT,                                  -- NULL while messages remain to be sent
    parts        INTEGER NOT NULL CHECK (parts >= 0),
    parts_done   INTEGER NOT NULL CHECK (parts_done >= 0),
    papers       INTEGER NOT NULL CHECK (papers >= 0),  -- summaries published
    held         INTEGER NOT NULL CHECK (held >= 0),    -- listed papers held back (review, not summarized)
    location     TEXT NOT NULL,                         -- a path, a commit; never a webhook URL
    content      TEXT,                                  -- the feed: the day's HTML as published
    UNIQUE (date, target, content_hash)
) STRICT;
CREATE INDEX publications_by_target ON publications(target, date);

-- What each publishing step gave (published, unchanged, withheld, failed, an alert sent), for reports.
CREATE TABLE publish_results (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run     INTEGER REFERENCES runs(id),  -- NULL: the `publish` command
    date    TEXT,                         -- NULL: not one day's (an alert, the feed file, a push)
    target  TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('published', 'unchanged', 'withheld', 'failed', 'sent')),
    detail  TEXT NOT NULL,
    at      TEXT NOT NULL
) STRICT;
CREATE INDEX publish_results_by_run ON publish_results(run);
"#,
    ),
];

pub(crate) const MIGRATION_COUNT: usize = MIGRATION_SLICE.len();

pub(crate) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_SLICE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(MIGRATIONS.validate().is_ok());
        assert_eq!(APPLICATION_ID, 1_346_651_988);
    }
}
