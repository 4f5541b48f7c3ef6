//! The SQLite store: round trips, the idempotency key, one transaction per attempt, re-opening,
//! refusing foreign files, and run reports.

use std::path::Path;

use chrono::NaiveDate;
use paper_digest::paper::{ArxivId, OutputMode, Paper, Sections, Status, SummaryKey};
use paper_digest::store::{
    AttemptRecord, RunEnd, RunId, RunKind, RunMeta, RunOutcome, Store, StoreError,
};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn id(text: &str) -> ArxivId {
    text.parse().unwrap()
}

fn paper(arxiv_id: &str, upvotes: Option<i64>) -> Paper {
    Paper {
        id: id(arxiv_id),
        version: Some(1),
        title: format!("A study of {arxiv_id}"),
        authors: vec!["Ada Lovelace".into(), "Alan Turing".into()],
        abstract_text: format!("We study {arxiv_id}. It works 12% better."),
        upvotes,
        thumbnail: Some(format!("https://cdn.test/{arxiv_id}.png")),
        published: Some("2024-09-20T00:00:00.000Z".into()),
        updated: None,
        primary_category: Some("cs.CL".into()),
        categories: vec!["cs.CL".into(), "cs.AI".into()],
    }
}

fn sections(tag: &str) -> Sections {
    Sections {
        whats_new: format!("새로운 점 {tag}"),
        technical_details: format!("기술 세부 {tag}"),
        performance_highlights: format!("성능 {tag}"),
    }
}

fn key_for(paper: &Paper) -> SummaryKey {
    SummaryKey {
        abstract_hash: paper.abstract_hash(),
        prompt_version: "p1".into(),
        model: "m1".into(),
    }
}

fn attempt(paper: &Paper, status: Status) -> AttemptRecord {
    AttemptRecord {
        paper: paper.id.clone(),
        key: key_for(paper),
        status,
        sections: (status != Status::Failed).then(|| sections(paper.id.as_str())),
        reasons: match status {
            Status::Flagged => vec!["figure \"15%\" appears nowhere in the abstract".into()],
            _ => Vec::new(),
        },
        error: (status == Status::Failed).then(|| "HTTP 503 after 5 attempts".into()),
        prompt_tokens: 1000,
        completion_tokens: 300,
        cost_usd: 0.001,
        calls: 1,
        duration_ms: 2000,
        trimmed: false,
        output_mode: Some(OutputMode::JsonSchema),
        written_from: paper_digest::checks::identity::WrittenFrom::Abstract,
    }
}

fn meta(day: Option<&str>) -> RunMeta {
    RunMeta {
        kind: RunKind::Run,
        date: day.map(date),
        source: "hf-daily".into(),
        dry_run: false,
        model: "m1".into(),
        prompt_version: "p1".into(),
    }
}

/// Lists `paper` on `day` (from hf-daily) and starts a run for that day.
fn list_and_begin(store: &Store, paper: &Paper, day: &str) -> RunId {
    store
        .upsert_papers(std::slice::from_ref(paper), Some(date(day)), "hf-daily")
        .unwrap();
    store.begin_run(&meta(Some(day))).unwrap()
}

fn raw_count(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn papers_round_trip_with_each_days_votes() {
    let store = Store::open_in_memory().unwrap();
    let a = paper("2409.13346", Some(36));
    let b = paper("hep-th/9901001", Some(3));
    store
        .upsert_papers(
            &[a.clone(), b.clone()],
            Some(date("2024-09-23")),
            "hf-daily",
        )
        .unwrap();
    let a_later = Paper {
        upvotes: Some(41),
        ..a.clone()
    };
    store
        .upsert_papers(&[a_later], Some(date("2024-09-24")), "hf-daily")
        .unwrap();

    assert_eq!(
        store.paper(&a.id).unwrap(),
        Some(Paper {
            upvotes: Some(41),
            ..a.clone()
        })
    );
    assert_eq!(store.paper(&id("2409.99999")).unwrap(), None);
    assert_eq!(
        store.papers_for_date(date("2024-09-23")).unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        store.papers_for_date(date("2024-09-24")).unwrap()[0].upvotes,
        Some(41)
    );
    assert!(store
        .papers_for_date(date("2024-09-25"))
        .unwrap()
        .is_empty());
    assert_eq!(
        store.dates_of(&a.id).unwrap(),
        [date("2024-09-23"), date("2024-09-24")]
    );
}

#[test]
fn an_arxiv_refresh_keeps_what_only_hf_knew() {
    let store = Store::open_in_memory().unwrap();
    let hf = paper("2409.13346", Some(5));
    store
        .upsert_papers(
            std::slice::from_ref(&hf),
            Some(date("2024-09-23")),
            "hf-daily",
        )
        .unwrap();
    let arxiv = Paper {
        version: Some(2),
        thumbnail: None,
        upvotes: None,
        updated: Some("2024-09-25T00:00:00Z".into()),
        ..hf.clone()
    };
    store.upsert_papers(&[arxiv], None, "arxiv").unwrap();
    let stored = store.paper(&hf.id).unwrap().unwrap();
    assert_eq!(stored.thumbnail, hf.thumbnail);
    assert_eq!(stored.version, Some(2));
    assert_eq!(stored.updated.as_deref(), Some("2024-09-25T00:00:00Z"));
    assert_eq!(stored.upvotes, Some(5), "votes come from the listing");
}

/// Whether `paper`'s current summary was made with `key` and is usable (one paper through `done`).
fn is_done(store: &Store, paper: &Paper, key: &SummaryKey) -> bool {
    let mut with_abstract = paper.clone();
    if key.abstract_hash != paper.abstract_hash() {
        with_abstract.abstract_text.push_str(" (changed)");
    }
    store
        .done(&[with_abstract], &key.prompt_version, &key.model)
        .unwrap()
        .contains(&paper.id)
}

#[test]
fn done_needs_same_key_and_a_usable_status() {
    let store = Store::open_in_memory().unwrap();
    let p = paper("2409.13592", Some(1));
    let run = list_and_begin(&store, &p, "2024-09-23");
    let key = key_for(&p);
    assert!(!is_done(&store, &p, &key), "never summarized");

    store
        .record_attempt(run, &attempt(&p, Status::Failed))
        .unwrap();
    assert!(!is_done(&store, &p, &key), "failed is retried");

    store
        .record_attempt(run, &attempt(&p, Status::Flagged))
        .unwrap();
    assert!(is_done(&store, &p, &key), "flagged is kept for review");

    store.record_attempt(run, &attempt(&p, Status::Ok)).unwrap();
    assert!(is_done(&store, &p, &key));
    let other = paper("2409.13593", Some(1));
    let both = store
        .done(&[p.clone(), other], &key.prompt_version, &key.model)
        .unwrap();
    assert_eq!(both.into_iter().collect::<Vec<_>>(), vec![p.id.clone()]);
    for changed in [
        SummaryKey {
            abstract_hash: "other".into(),
            ..key.clone()
        },
        SummaryKey {
            prompt_version: "p2".into(),
            ..key.clone()
        },
        SummaryKey {
            model: "m2".into(),
            ..key.clone()
        },
    ] {
        assert!(!is_done(&store, &p, &changed), "{changed:?}");
    }
}

#[test]
fn current_moves_with_each_attempt_and_history_keeps_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digest.db");
    let store = Store::open(&path).unwrap();
    let p = paper("2409.13598", Some(2));
    let never = paper("2409.13599", Some(1));
    store
        .upsert_papers(
            &[p.clone(), never.clone()],
            Some(date("2024-09-23")),
            "hf-daily",
        )
        .unwrap();
    let run = store.begin_run(&meta(Some("2024-09-23"))).unwrap();
    store.record_attempt(run, &attempt(&p, Status::Ok)).unwrap();
    let mut second = attempt(&p, Status::Flagged);
    second.sections = Some(sections("second"));
    store.record_attempt(run, &second).unwrap();

    let entries = store.current_for_date(date("2024-09-23")).unwrap();
    assert_eq!(entries.len(), 2);
    let summary = entries[0].summary.as_ref().unwrap();
    assert_eq!(summary.status, Status::Flagged);
    assert_eq!(summary.sections, Some(sections("second")));
    assert_eq!(summary.reasons, second.reasons);
    assert_eq!(summary.key, key_for(&p));
    assert_eq!(entries[0].paper.upvotes, Some(2));
    assert_eq!(entries[1].paper.id, never.id);
    assert_eq!(entries[1].summary, None);

    assert_eq!(raw_count(&path, "SELECT count(*) FROM attempts"), 2);
    assert_eq!(raw_count(&path, "SELECT count(*) FROM current"), 1);
}

/// Regression guard for the one-transaction rule: when moving `current` fails after the history
/// row was inserted, neither change may survive.
#[test]
fn a_failing_current_update_rolls_back_the_history_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digest.db");
    let store = Store::open(&path).unwrap();
    let p = paper("2409.14674", Some(28));
    let run = list_and_begin(&store, &p, "2024-09-24");
    store.record_attempt(run, &attempt(&p, Status::Ok)).unwrap();

    let saboteur = rusqlite::Connection::open(&path).unwrap();
    saboteur
        .execute_batch(
            "CREATE TRIGGER no_move BEFORE UPDATE ON current BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let err = store
        .record_attempt(run, &attempt(&p, Status::Flagged))
        .unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");

    assert_eq!(raw_count(&path, "SELECT count(*) FROM attempts"), 1);
    let entries = store.current_for_date(date("2024-09-24")).unwrap();
    assert_eq!(entries[0].summary.as_ref().unwrap().status, Status::Ok);
}

/// A forced re-summarization that fails must not take a published summary out of the digest.
#[test]
fn a_failed_attempt_does_not_displace_a_usable_summary() {
    let store = Store::open_in_memory().unwrap();
    let p = paper("2409.14674", Some(28));
    let run = list_and_begin(&store, &p, "2024-09-24");
    store.record_attempt(run, &attempt(&p, Status::Ok)).unwrap();
    store
        .record_attempt(run, &attempt(&p, Status::Failed))
        .unwrap();
    let current = store.current(&p.id).unwrap().unwrap();
    assert_eq!(current.status, Status::Ok);
    let report = store.run_report(run).unwrap();
    assert_eq!(
        report.papers.len(),
        1,
        "the failed attempt is still reported"
    );

    // A failed paper is replaced by the next attempt, whatever it is.
    let q = paper("2409.15277", Some(19));
    store
        .upsert_papers(
            std::slice::from_ref(&q),
            Some(date("2024-09-24")),
            "hf-daily",
        )
        .unwrap();
    store
        .record_attempt(run, &attempt(&q, Status::Failed))
        .unwrap();
    store
        .record_attempt(run, &attempt(&q, Status::Failed))
        .unwrap();
    let second = store.current(&q.id).unwrap().unwrap();
    store
        .record_attempt(run, &attempt(&q, Status::Flagged))
        .unwrap();
    let third = store.current(&q.id).unwrap().unwrap();
    assert_eq!(third.status, Status::Flagged);
    assert!(third.attempt > second.attempt);
}

#[test]
fn invalid_attempts_are_refused_with_the_paper_named() {
    let store = Store::open_in_memory().unwrap();
    let p = paper("2409.15277", Some(19));
    let run = store.begin_run(&meta(None)).unwrap();
    let err = store
        .record_attempt(run, &attempt(&p, Status::Ok))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidAttempt { .. }), "{err}");
    assert!(err.to_string().contains("2409.15277"), "{err}");

    store
        .upsert_papers(std::slice::from_ref(&p), None, "ids")
        .unwrap();
    let mut no_sections = attempt(&p, Status::Ok);
    no_sections.sections = None;
    assert!(matches!(
        store.record_attempt(run, &no_sections).unwrap_err(),
        StoreError::InvalidAttempt { .. }
    ));
    let mut nan = attempt(&p, Status::Ok);
    nan.cost_usd = f64::NAN;
    assert!(store.record_attempt(run, &nan).is_err());
    let err = store
        .record_attempt(RunId(99), &attempt(&p, Status::Ok))
        .unwrap_err();
    assert_eq!(err.to_string(), "database (in memory): there is no run 99");
}

#[test]
fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digest.db");
    let p = paper("2409.16191", Some(28));
    {
        let store = Store::open(&path).unwrap();
        let run = list_and_begin(&store, &p, "2024-09-25");
        store.record_attempt(run, &attempt(&p, Status::Ok)).unwrap();
    }
    for _ in 0..2 {
        let store = Store::open(&path).unwrap();
        assert!(is_done(&store, &p, &key_for(&p)));
        assert_eq!(store.last_run_id().unwrap(), Some(RunId(1)));
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, paper_digest::store::SCHEMA_VERSION as i64);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn foreign_or_misplaced_files_are_refused_with_the_path_named() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Store::open(&text).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(
        err.to_string().contains(&text.display().to_string()),
        "{err}"
    );

    let other_app = dir.path().join("other.db");
    rusqlite::Connection::open(&other_app)
        .unwrap()
        .execute_batch("CREATE TABLE papers (x TEXT);")
        .unwrap();
    let err = Store::open(&other_app).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");

    let newer = dir.path().join("newer.db");
    Store::open(&newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = Store::open(&newer).unwrap_err();
    assert!(err.to_string().contains("newer paper-digest"), "{err}");

    let missing = dir.path().join("no-such-folder").join("digest.db");
    let err = Store::open(&missing).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!missing.parent().unwrap().exists(), "no folder is created");
}

#[test]
fn run_report_counts_last_attempts_sums_usage_and_keeps_skipped() {
    let store = Store::open_in_memory().unwrap();
    let day = date("2024-09-26");
    let ok = paper("2409.17146", Some(38));
    let flagged = paper("2409.17115", Some(34));
    let failed = paper("2409.15127", Some(11));
    let recovered = paper("2409.15041", Some(8));
    let papers = [
        ok.clone(),
        flagged.clone(),
        failed.clone(),
        recovered.clone(),
    ];
    store.upsert_papers(&papers, Some(day), "hf-daily").unwrap();

    let earlier = store.begin_run(&meta(Some("2024-09-26"))).unwrap();
    store
        .record_attempt(earlier, &attempt(&ok, Status::Failed))
        .unwrap();

    let run = store.begin_run(&meta(Some("2024-09-26"))).unwrap();
    assert_eq!(store.last_run_id().unwrap(), Some(run));
    store
        .record_attempt(run, &attempt(&ok, Status::Ok))
        .unwrap();
    store
        .record_attempt(run, &attempt(&flagged, Status::Flagged))
        .unwrap();
    store
        .record_attempt(run, &attempt(&failed, Status::Failed))
        .unwrap();
    store
        .record_attempt(run, &attempt(&recovered, Status::Failed))
        .unwrap();
    store
        .record_attempt(run, &attempt(&recovered, Status::Ok))
        .unwrap();

    let unfinished = store.run_report(run).unwrap();
    assert_eq!(unfinished.run.end, None);
    assert_eq!(unfinished.run.finished_at, None);

    store
        .finish_run(
            run,
            &RunOutcome {
                end: RunEnd::Finished,
                skipped: 6,
                note: None,
            },
        )
        .unwrap();
    let report = store.run_report(run).unwrap();
    assert_eq!(report.run.end, Some(RunEnd::Finished));
    assert_eq!(report.run.date, Some(day));
    assert_eq!(
        (
            report.counts.ok,
            report.counts.flagged,
            report.counts.failed,
            report.counts.skipped
        ),
        (2, 1, 1, 6)
    );
    assert_eq!(report.papers.len(), 4);
    let recovered_row = report
        .papers
        .iter()
        .find(|p| p.paper == recovered.id)
        .unwrap();
    assert_eq!(
        (recovered_row.status, recovered_row.attempts),
        (Status::Ok, 2)
    );
    assert_eq!(recovered_row.prompt_tokens, 2000);
    assert_eq!(
        report.totals.attempts, 5,
        "the earlier run's attempt is not counted"
    );
    assert_eq!(report.totals.prompt_tokens, 5000);
    assert!((report.totals.cost_usd - 0.005).abs() < 1e-12);
    let problems: Vec<&str> = report.problems().map(|p| p.paper.as_str()).collect();
    assert_eq!(problems, ["2409.17115", "2409.15127"]);
    let failed_row = report.papers.iter().find(|p| p.paper == failed.id).unwrap();
    assert_eq!(
        failed_row.error.as_deref(),
        Some("HTTP 503 after 5 attempts")
    );

    assert!(matches!(
        store.run_report(RunId(42)),
        Err(StoreError::UnknownRun { .. })
    ));
    assert!(store
        .finish_run(
            RunId(42),
            &RunOutcome {
                end: RunEnd::Aborted,
                skipped: 0,
                note: None
            }
        )
        .is_err());
}

#[test]
fn the_store_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}
