//! Soak: N synthetic papers through the binary against the fault-injecting mock model (20% 429,
//! 10% 5xx, 5% timeouts, 5% malformed, 5% truncated, a few resets and empty answers). Every paper
//! must end ok, flagged or failed with a reason; none lost, none stored twice, the run report must
//! match the store, and no paper is asked for again once its answer was delivered and stored. A
//! second run without faults finishes the failed ones and sends nothing for the rest.
//!
//! CI runs 60 papers; `bench/soak.sh` runs 300 (`SOAK_PAPERS`).

use crate::soak_support::*;
use paper_digest::paper::Status;
use paper_digest_mock_llm::Latency;

#[tokio::test(flavor = "multi_thread")]
async fn soak_under_faults_then_clean_rerun_finishes_the_failed() {
    let n = env_number("SOAK_PAPERS", 60) as usize;
    let seed = env_number("SOAK_SEED", 20241105);
    let dir = tempfile::tempdir().unwrap();
    let papers = synthetic_papers(n);
    let input = write_hf_file(dir.path(), &papers);
    let db = db_path(dir.path());

    let mock = faulty_mock(seed, Latency::Fixed(std::time::Duration::ZERO)).await;
    run_to_end(&env_for(&mock, dir.path()), &input);
    let statuses = current_statuses(&db, &papers);
    let first = last_report(&db);
    assert_eq!(
        first.papers.len(),
        n,
        "every paper attempted in the first run"
    );
    assert_eq!(first.counts.skipped, 0);
    assert_report_matches_store(&first, &statuses);
    assert_eq!(integrity(&db), "ok");
    assert!(stored_twice(&db).is_empty(), "{:?}", stored_twice(&db));
    let stats = mock.stats();
    assert!(
        !stats.papers.contains_key("unknown"),
        "a request named no paper"
    );
    for (id, paper) in &stats.papers {
        // Every delivered answer is a valid summary: stored ok at once, never asked for again.
        assert!(
            paper.delivered <= 1,
            "{id} delivered {} times",
            paper.delivered
        );
        assert_eq!(
            paper.requests_after_delivery, 0,
            "{id} asked again after delivery"
        );
        if paper.delivered == 1 {
            assert_eq!(
                statuses.get(id),
                Some(&Status::Ok),
                "{id} delivered but not ok"
            );
        }
    }
    let failed = with_status(&statuses, &[Status::Failed]);
    let done = with_status(&statuses, &[Status::Ok, Status::Flagged]);
    assert!(
        !done.is_empty(),
        "nothing survived the faults: {statuses:?}"
    );
    eprintln!(
        "{}",
        figures(
            "soak run 1 (faults)",
            n,
            &stats,
            std::slice::from_ref(&first)
        )
    );
    mock.shutdown().await;

    let clean = clean_mock().await;
    let output = run_to_end(&env_for(&clean, dir.path()), &input);
    let statuses = current_statuses(&db, &papers);
    let second = last_report(&db);
    assert_report_matches_store(&second, &statuses);
    assert_eq!(second.counts.skipped as usize, done.len());
    assert_eq!(second.papers.len(), failed.len());
    let clean_stats = clean.stats();
    let asked: Vec<&String> = clean_stats.papers.keys().collect();
    assert_eq!(
        asked,
        failed.iter().collect::<Vec<_>>(),
        "second run asked for exactly the failed"
    );
    assert!(clean_stats.papers.values().all(|p| p.requests == 1));
    assert!(
        with_status(&statuses, &[Status::Failed]).is_empty(),
        "still failed after a clean rerun: {statuses:?}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "everything published after the rerun"
    );
    assert_eq!(integrity(&db), "ok");
    assert!(stored_twice(&db).is_empty(), "{:?}", stored_twice(&db));
    eprintln!(
        "{}",
        figures("soak run 2 (clean)", n, &clean_stats, &[second])
    );
}
