//! Runs that overlap on one store never pay twice: two runs and a manual `summarize` started
//! together, each paper asked for exactly once, each run's report naming what another run had in
//! progress; a run killed mid-way leaves claims that expire, and a later run finishes its papers
//! without asking again for what was stored. Through the binary (bench/overlap.sh runs 100 papers).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use paper_digest::store::{SkipKind, Store};
use paper_digest_mock_llm::{Latency, MockLlm};

use crate::soak_support::*;

const PAPERS: usize = 24;

fn start(command: &mut std::process::Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn summarize(env: &[(String, String)], ids: &[String]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_paper-digest"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PAPER_DIGEST_") || key.starts_with("OPENAI_") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .arg("summarize")
        .args(ids);
    command
}

async fn slow_mock() -> MockLlm {
    MockLlm::builder()
        .latency(Latency::Fixed(Duration::from_millis(400)))
        .start()
        .await
        .unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn listed(db: &std::path::Path) -> usize {
    Store::open(db)
        .and_then(|store| store.papers_for_date(day()))
        .map(|papers| papers.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_and_a_summarize_at_once_ask_for_each_paper_once() {
    let dir = tempfile::tempdir().unwrap();
    let papers = synthetic_papers(PAPERS);
    let input = write_hf_file(dir.path(), &papers);
    let db = db_path(dir.path());
    let mock = slow_mock().await;
    let mut env = env_for(&mock, dir.path());
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "3".into()));
    // The second run and the summarize start as soon as the first has listed the day (the
    // summarize then finds its papers stored and asks arXiv for nothing).
    let mut first = start(&mut run_command(&env, &input));
    wait_until("the day is listed", || listed(&db) == PAPERS);
    let mut second = start(&mut run_command(&env, &input));
    let manual: Vec<String> = papers[PAPERS - 3..].iter().map(|p| p.id.clone()).collect();
    let mut third = start(&mut summarize(&env, &manual));
    for child in [&mut first, &mut second, &mut third] {
        let status = child.wait().unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    }

    let stats = mock.stats();
    for paper in &papers {
        let requests = stats.papers.get(&paper.id).map_or(0, |p| p.requests);
        assert_eq!(requests, 1, "{} was asked for {requests} times", paper.id);
    }
    let store = Store::open(&db).unwrap();
    let reports: Vec<_> = (1..=3)
        .map(|run| store.run_report(paper_digest::store::RunId(run)).unwrap())
        .collect();
    let stored: u64 = reports.iter().map(|r| r.counts.ok).sum();
    assert_eq!(
        stored as usize, PAPERS,
        "every paper is stored by exactly one run"
    );
    let elsewhere: usize = reports
        .iter()
        .map(|r| {
            r.skips
                .iter()
                .filter(|s| s.kind == SkipKind::Elsewhere)
                .count()
        })
        .sum();
    assert!(elsewhere > 0, "the runs met: one saw the other's claims");
    for report in &reports {
        for skip in report
            .skips
            .iter()
            .filter(|s| s.kind == SkipKind::Elsewhere)
        {
            assert!(skip.detail.starts_with("in progress in run "), "{skip:?}");
        }
        let markdown = paper_digest::render::report::markdown(report);
        let counted = report.counts.elsewhere;
        assert!(
            counted == 0 || markdown.contains("In progress in another run"),
            "{markdown}"
        );
    }
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_runs_claims_expire_and_a_later_run_finishes_its_papers() {
    let dir = tempfile::tempdir().unwrap();
    let papers = synthetic_papers(PAPERS);
    let input = write_hf_file(dir.path(), &papers);
    let db = db_path(dir.path());
    let mock = slow_mock().await;
    let mut env = env_for(&mock, dir.path());
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "3".into()));
    let mut doomed = start(&mut run_command(&env, &input));
    let stored = |db: &std::path::Path| {
        Store::open(db)
            .and_then(|store| store.current_for_date(day()))
            .map(|entries| entries.iter().filter(|e| e.summary.is_some()).count())
            .unwrap_or(0)
    };
    wait_until("a few papers are stored", || stored(&db) >= 4);
    doomed.kill().unwrap(); // SIGKILL: its claims stay behind
    doomed.wait().unwrap();
    let paid_at_kill: usize = mock
        .stats()
        .papers
        .values()
        .map(|p| p.requests as usize)
        .sum();
    let stored_at_kill = stored(&db);

    // Right away, the killed run's claims still hold: those papers are left alone.
    let early = run_to_end(&env, &input);
    assert_eq!(early.status.code(), Some(1));
    let store = Store::open(&db).unwrap();
    let early_report = store
        .run_report(store.last_run_id().unwrap().unwrap())
        .unwrap();
    let held = early_report.counts.elsewhere as usize;
    assert!(
        held > 0,
        "the killed run's in-flight papers were still claimed"
    );

    wait_out_leases();
    let late = run_to_end(&env, &input);
    assert_eq!(
        late.status.code(),
        Some(0),
        "the later run finished the rest"
    );
    assert_eq!(stored(&db), PAPERS);
    let stats = mock.stats();
    let paid: usize = stats.papers.values().map(|p| p.requests as usize).sum();
    // Beyond one request per paper, only the ones in flight at the kill were paid for again.
    let in_flight_at_kill = paid_at_kill - stored_at_kill;
    assert!(
        paid <= PAPERS + in_flight_at_kill,
        "{paid} requests for {PAPERS} papers ({in_flight_at_kill} in flight at the kill)"
    );
    mock.shutdown().await;
}
