//! The binary end to end against a local OpenAI-compatible server: digest layout, idempotent reruns,
//! answers that must not be published, and the documented exit codes.

use std::time::Duration;

use crate::common::*;

fn digest_path(dir: &std::path::Path, day: &str) -> std::path::PathBuf {
    dir.join("out").join(format!("daily_papers_ko_{day}.md"))
}

#[tokio::test(flavor = "multi_thread")]
async fn run_from_file_publishes_checked_digest() {
    let Setup {
        mock: _mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    let digest = std::fs::read_to_string(digest_path(dir.path(), FIXTURE_DAY)).unwrap();
    insta::assert_snapshot!("fixture_digest", digest);
    assert!(dir.path().join("out/reports/run-1.md").is_file());
    assert!(dir.path().join("out/reports/run-1.json").is_file());

    let report = run_cli(&env, &["report", "--last"]);
    assert_eq!(report.status.code(), Some(0));
    assert!(
        text(&report.stdout).contains("# Run 1 report"),
        "{}",
        text(&report.stdout)
    );
    let json = run_cli(&env, &["report", "--run", "1", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["counts"]["ok"], 3);
    let missing = run_cli(&env, &["report", "--run", "99"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("99"),
        "{}",
        text(&missing.stderr)
    );

    let again = run_cli(&env, &["digest", "--date", FIXTURE_DAY, "--stdout"]);
    assert_eq!(
        text(&again.stdout),
        digest,
        "the store re-renders the same digest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_sends_nothing_for_finished_papers_and_force_resends() {
    let Setup {
        mock,
        server: _server,
        dir: _dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    assert_eq!(run_fixture_day(&env, &[]).status.code(), Some(0));
    assert_eq!(run_fixture_day(&env, &[]).status.code(), Some(0));
    assert!(
        mock.counts().values().all(|n| *n == 1),
        "{:?}",
        mock.counts()
    );

    assert_eq!(run_fixture_day(&env, &["--force"]).status.code(), Some(0));
    assert!(
        mock.counts().values().all(|n| *n == 2),
        "{:?}",
        mock.counts()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn english_answers_are_not_published_and_exit_1() {
    let Setup {
        mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::English)).await;
    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let digest = std::fs::read_to_string(digest_path(dir.path(), FIXTURE_DAY)).unwrap();
    assert!(
        !digest.contains("### ["),
        "nothing may be published:\n{digest}"
    );
    // Each paper was asked once and repaired twice, then stored with its reasons.
    assert!(
        mock.counts().values().all(|n| *n == 3),
        "{:?}",
        mock.counts()
    );
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    for paper in &PAPERS {
        assert!(
            report.contains(paper.id),
            "report lists {}:\n{report}",
            paper.id
        );
    }
    assert!(report.contains("Hangul"), "report explains why:\n{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_model_exits_3() {
    // Nothing listens on this port: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let env = env_for(&format!("http://127.0.0.1:{port}"), dir.path());
    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(3),
        "stderr: {}",
        text(&output.stderr)
    );
}

#[test]
fn config_and_input_errors_exit_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_for("http://127.0.0.1:9", dir.path());
    let mut bad_type = env.clone();
    bad_type.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "lots".into()));
    let output = run_fixture_day(&bad_type, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("run.concurrency"),
        "{}",
        text(&output.stderr)
    );

    let no_key: Vec<_> = env
        .iter()
        .filter(|(k, _)| k != "OPENAI_API_KEY")
        .cloned()
        .collect();
    let output = run_fixture_day(&no_key, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("OPENAI_API_KEY"),
        "{}",
        text(&output.stderr)
    );

    let garbage = dir.path().join("garbage.txt");
    std::fs::write(&garbage, "this is not a feed").unwrap();
    let output = run_cli(
        &env,
        &[
            "run",
            "--source",
            "file",
            "--input",
            garbage.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("garbage.txt"),
        "{}",
        text(&output.stderr)
    );

    let truncated = dir.path().join("2024-09-23.json");
    let full = std::fs::read_to_string(fixture("hf_2024-09-23.json")).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let output = run_cli(
        &env,
        &[
            "run",
            "--source",
            "file",
            "--input",
            truncated.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("2024-09-23.json"),
        "{}",
        text(&output.stderr)
    );

    let output = run_cli(&env, &["summarize", "not-an-id"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("not an arXiv ID")
            && text(&output.stderr).contains("not-an-id"),
        "{}",
        text(&output.stderr)
    );

    let output = run_cli(&env, &["run", "--bogus-flag"]);
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_run_resumes_without_paying_twice() {
    let Setup {
        mock,
        server: _server,
        dir,
        mut env,
    } = setup(MockChat::new(Behaviour::Correct).with_delay(Duration::from_millis(700))).await;
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "1".into()));
    env.push(("PAPER_DIGEST_RUN__CLAIM_LEASE_SECS".into(), "1".into()));
    let mut child = spawn_fixture_day(&env);
    let db = dir.path().join("digest.db");
    // Generous: a debug build on a loaded machine takes a while to start (the tokenizer tables load once).
    let finished_before_kill = wait_for_stored(&db, 1, Duration::from_secs(180));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let _ = child.wait();
    assert!(
        !finished_before_kill.is_empty(),
        "the first run stored nothing before the kill"
    );

    // The killed run's claim on the paper it was asking about holds until its lease runs out.
    std::thread::sleep(Duration::from_millis(1200));
    let output = run_fixture_day(&env, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );

    let counts = mock.counts();
    for id in &finished_before_kill {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "{id} was paid for twice: {counts:?}"
        );
    }
    let store = paper_digest::store::Store::open(&db).unwrap();
    let day = chrono::NaiveDate::parse_from_str(FIXTURE_DAY, "%Y-%m-%d").unwrap();
    let current = store.current_for_date(day).unwrap();
    assert_eq!(current.len(), PAPERS.len());
    for paper in &PAPERS {
        let entries = current
            .iter()
            .filter(|e| e.paper.id.as_str() == paper.id)
            .count();
        assert_eq!(
            entries, 1,
            "{} must have exactly one current summary",
            paper.id
        );
    }
}

/// Polls the store until at least `n` papers have a current summary; returns their IDs.
fn wait_for_stored(db: &std::path::Path, n: usize, timeout: Duration) -> Vec<String> {
    let day = chrono::NaiveDate::parse_from_str(FIXTURE_DAY, "%Y-%m-%d").unwrap();
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(store) = paper_digest::store::Store::open(db) {
            if let Ok(current) = store.current_for_date(day) {
                let done: Vec<String> = current
                    .iter()
                    .filter(|e| e.summary.is_some())
                    .map(|e| e.paper.id.to_string())
                    .collect();
                if done.len() >= n {
                    return done;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_stops_new_calls_and_names_what_was_not_attempted() {
    let Setup {
        mock,
        server: _server,
        dir,
        mut env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    // Each mock answer reports 900 tokens: two papers fit under 1,000 checked before each call, not three.
    env.push(("PAPER_DIGEST_RUN__MAX_TOKENS".into(), "1000".into()));
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "1".into()));

    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_eq!(
        mock.counts().values().sum::<usize>(),
        2,
        "{:?}",
        mock.counts()
    );
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["counts"]["ok"], 2, "{report}");
    let text = report.to_string();
    assert!(text.contains("budget_exhausted"), "{text}");
    assert!(text.contains("not attempted: 2409.1000"), "{text}");
}

/// `"date":"Some(2024-09-23)"` and `"digest":"Some(\"out/…\")"` were logged: values must be plain.
#[tokio::test(flavor = "multi_thread")]
async fn json_log_lines_carry_plain_values() {
    let Setup {
        mock: _mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    let input = fixture("hf_2024-09-23.json");
    let output = run_binary(
        &env,
        &[
            "run",
            "--source",
            "file",
            "--input",
            input.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let logs = text(&output.stderr);
    assert!(!logs.contains("Some("), "{logs}");
    let finished = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "run finished")
        .unwrap_or_else(|| panic!("no `run finished` line in:\n{logs}"));
    let fields = &finished["fields"];
    assert_eq!(fields["date"], FIXTURE_DAY);
    assert_eq!(fields["ok"], 3);
    let digest = digest_path(dir.path(), FIXTURE_DAY);
    assert_eq!(fields["digest"], digest.display().to_string());
    assert!(
        fields.get("no_announcement").is_none(),
        "absent values are left out: {fields}"
    );
}

fn send_signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM: the request in flight is answered and stored, nothing new starts, and the run ends as
/// soon as that answer is in (not after the rest of the day); the report names what was not started.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_the_run_after_the_request_in_flight() {
    let Setup {
        mock,
        server: _server,
        dir,
        mut env,
    } = setup(MockChat::new(Behaviour::Correct).with_delay(Duration::from_millis(1500))).await;
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "1".into()));
    let mut child = spawn_fixture_day(&env);
    let db = dir.path().join("digest.db");
    assert!(!wait_for_stored(&db, 1, Duration::from_secs(180)).is_empty());
    send_signal(&child, "TERM");
    let signalled = std::time::Instant::now();
    let status = child.wait().unwrap();
    let stop_took = signalled.elapsed();
    assert_eq!(status.code(), Some(1), "not everything was published");
    assert!(
        stop_took < Duration::from_secs(5),
        "the stop took {stop_took:?}"
    );
    let asked: usize = mock.counts().values().sum();
    assert!(
        asked <= 2,
        "papers started after the signal: {:?}",
        mock.counts()
    );
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(report.contains("interrupted by SIGTERM"), "{report}");
    assert!(report.contains("not attempted"), "{report}");
}

/// A second signal does not wait for anything: the process ends at once with 128 + the signal.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_with_143() {
    let Setup {
        mock: _mock,
        server: _server,
        dir,
        mut env,
    } = setup(MockChat::new(Behaviour::Correct).with_delay(Duration::from_secs(30))).await;
    env.push(("PAPER_DIGEST_RUN__CONCURRENCY".into(), "1".into()));
    let mut child = spawn_fixture_day(&env);
    // The run has started once its papers are stored (before any answer).
    let db = dir.path().join("digest.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while std::time::Instant::now() < deadline {
        let listed = paper_digest::store::Store::open(&db)
            .and_then(|store| store.papers_for_date(FIXTURE_DAY.parse().unwrap()))
            .map(|papers| papers.len())
            .unwrap_or(0);
        if listed > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    send_signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    send_signal(&child, "TERM");
    let signalled = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(crate::soak_support::integrity(&db), "ok");
}

/// A `Retry-After` of a day used to be slept: now it ends the run at once, like an exhausted quota
/// (exit 3), every paper listed as not attempted with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_asking_to_wait_a_day_ends_the_run_with_exit_3() {
    use paper_digest_mock_llm::{Faults, MockLlm};
    let mock = MockLlm::builder()
        .faults(Faults {
            rate_limited: 1.0,
            ..Faults::default()
        })
        .retry_after(Duration::from_secs(86_400))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = env_for(&mock.uri(), dir.path());
    let output = run_fixture_day(&env, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(report.contains("Not attempted (3)"), "{report}");
    assert!(report.contains("model.max_retry_after_secs"), "{report}");
    // None was asked again after the answer to wait (how many went out before it depends on timing).
    let requests = mock.stats().requests;
    assert!((1..=3).contains(&requests), "{:?}", mock.stats());
}

/// A store error in the middle of the results used to drop the answers already paid for and skip
/// finishing the run: now the other results are recorded, the run is finished with the error, the
/// report names the paper whose answer could not be stored, and the exit code is 2.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_error_mid_run_keeps_the_other_results_and_finishes_the_run() {
    let Setup {
        mock: _mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    let db = dir.path().join("digest.db");
    drop(paper_digest::store::Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON attempts WHEN NEW.paper = '2409.10002'
         BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
    )
    .unwrap();
    drop(conn);

    let output = run_fixture_day(&env, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let store = paper_digest::store::Store::open(&db).unwrap();
    let report = store.run_report(paper_digest::store::RunId(1)).unwrap();
    assert!(report.run.finished_at.is_some(), "the run was finished");
    assert_eq!(report.counts.ok, 2, "{report:?}");
    let skipped: Vec<_> = report
        .skips
        .iter()
        .map(|s| (s.paper.as_str(), &s.detail))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, "2409.10002");
    assert!(
        skipped[0].1.contains("answered but not stored") && skipped[0].1.contains("disk I/O error")
    );
    let markdown = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(markdown.contains("answered but not stored"), "{markdown}");
}
