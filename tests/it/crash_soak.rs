//! Crash soak: the binary against the fault-injecting mock model, killed (SIGKILL) at random moments
//! (after a random number of newly stored papers, plus random jitter) several times, then run until done. The database must never be corrupt (`PRAGMA
//! integrity_check` after every kill), no paper may be lost or stored twice, and a paper stored
//! ok/flagged before a kill must never be asked for again. (A paper whose answer was delivered but
//! not yet stored when the process died may legitimately be asked again.) A clean rerun then
//! finishes the failed ones.
//!
//! CI runs 40 papers and 4 kills; `bench/soak.sh` runs more (`SOAK_PAPERS`, `SOAK_KILLS`,
//! `SOAK_KILL_JITTER_MS`, `SOAK_SEED`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::soak_support::*;
use paper_digest::paper::Status;
use paper_digest::store::Store;
use paper_digest_mock_llm::Latency;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, OpenFlags};

/// Papers stored ok/flagged so far (none when the run died before creating the store). The observer
/// opens the file read-only, so it can neither migrate it nor hide a write the run failed to make.
fn done_papers(db: &std::path::Path) -> Vec<String> {
    if !db.exists() {
        return Vec::new();
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("store unusable after a kill: {e}"));
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    // Migrations run in one transaction: a run killed during the first one leaves no tables at all.
    let migrated: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'listings')",
            [],
            |row| row.get(0),
        )
        .unwrap_or_else(|e| panic!("store unreadable after a kill: {e}"));
    if !migrated {
        return Vec::new();
    }
    let mut statement = conn
        .prepare(
            "SELECT l.paper FROM listings l
             JOIN current c ON c.paper = l.paper
             JOIN attempts a ON a.id = c.attempt
             WHERE l.date = ?1 AND a.status IN ('ok', 'flagged')
             ORDER BY l.paper",
        )
        .unwrap_or_else(|e| panic!("store unreadable after a kill: {e}"));
    statement
        .query_map([day().to_string()], |row| row.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .unwrap_or_else(|e| panic!("store unreadable after a kill: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runs_resume_without_paying_twice_or_corrupting_the_store() {
    let n = env_number("SOAK_PAPERS", 40) as usize;
    let kills = env_number("SOAK_KILLS", 4);
    let kill_jitter_ms = env_number("SOAK_KILL_JITTER_MS", 300).max(1);
    let seed = env_number("SOAK_SEED", 20241105);
    let dir = tempfile::tempdir().unwrap();
    let papers = synthetic_papers(n);
    let input = write_hf_file(dir.path(), &papers);
    let db = db_path(dir.path());
    let mock = faulty_mock(
        seed,
        Latency::Uniform {
            min: Duration::from_millis(50),
            max: Duration::from_millis(300),
        },
    )
    .await;
    let env = env_for(&mock, dir.path());
    let mut rng = StdRng::seed_from_u64(seed);
    let step = (n / (kills as usize + 2)).max(1);

    // Requests each paper had received when it was first seen stored ok/flagged after a kill.
    let mut paid_at_kill: BTreeMap<String, u64> = BTreeMap::new();
    let mut killed = 0;
    for _ in 0..kills {
        let mut child = run_command(&env, &input)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A random moment after a random amount of progress, so kills land mid-flight.
        let target = done_papers(&db).len() + rng.random_range(1..=step);
        let give_up = Instant::now() + Duration::from_secs(120);
        while child.try_wait().unwrap().is_none()
            && done_papers(&db).len() < target
            && Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..kill_jitter_ms)));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap_or(()); // SIGKILL; an already finished run is left alone
        child.wait().unwrap();
        if db.exists() {
            assert_eq!(integrity(&db), "ok", "corrupt after kill {killed}");
        }
        let stats = mock.stats();
        for id in done_papers(&db) {
            let requests = stats.papers.get(&id).map_or(0, |p| p.requests);
            paid_at_kill.entry(id).or_insert(requests);
        }
    }
    assert!(killed > 0, "no run was still going when its kill came");

    wait_out_leases();
    run_to_end(&env, &input);
    let statuses = current_statuses(&db, &papers);
    let last = last_report(&db);
    assert_report_matches_store(&last, &statuses);
    let c = last.counts;
    assert_eq!(
        (c.ok + c.flagged + c.failed + c.skipped) as usize,
        n,
        "{c:?}"
    );
    assert_eq!(integrity(&db), "ok");
    assert!(stored_twice(&db).is_empty(), "{:?}", stored_twice(&db));
    let stats = mock.stats();
    for (id, before) in &paid_at_kill {
        let after = stats.papers.get(id).map_or(0, |p| p.requests);
        assert_eq!(
            after, *before,
            "{id} was stored before a kill and asked for again"
        );
    }
    let runs = Store::open(&db)
        .unwrap()
        .last_run_id()
        .unwrap()
        .map_or(0, |r| r.0);
    let reports: Vec<_> = (1..=runs).map(|run| report(&db, run)).collect();
    eprintln!(
        "{} kills={killed} stored_before_a_kill={}",
        figures("crash soak (faults)", n, &stats, &reports),
        paid_at_kill.len()
    );
    mock.shutdown().await;

    let failed = with_status(&statuses, &[Status::Failed]);
    let clean = clean_mock().await;
    let output = run_to_end(&env_for(&clean, dir.path()), &input);
    let clean_stats = clean.stats();
    let asked: Vec<&String> = clean_stats.papers.keys().collect();
    assert_eq!(asked, failed.iter().collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(0));
    let statuses = current_statuses(&db, &papers);
    assert!(with_status(&statuses, &[Status::Failed]).is_empty());
    assert_eq!(integrity(&db), "ok");
    assert!(stored_twice(&db).is_empty(), "{:?}", stored_twice(&db));
}
