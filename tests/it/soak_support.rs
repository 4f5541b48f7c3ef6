//! Shared by the soak tests: synthetic papers as an HF daily-papers file, the fault-injecting mock
//! model, the binary's environment, and what the invariants read back from the SQLite store.
//!
//! Sizes and seeds come from environment variables so `bench/soak.sh` can run the same tests large:
//! `SOAK_PAPERS`, `SOAK_SEED`, `SOAK_KILLS`, `SOAK_RETRY_AFTER_MS` (Retry-After of injected 429s).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::NaiveDate;
use paper_digest::paper::Status;
use paper_digest::store::{RunId, RunReport, Store};
use paper_digest_mock_llm::{Faults, Latency, MockLlm, Stats};
use serde_json::json;

pub const DAY: &str = "2024-11-05";

pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 11, 5).unwrap()
}

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A generated paper: every one has its own name, terms and figures, so summaries cannot be swapped.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub id: String,
    pub title: String,
    pub abstract_text: String,
}

/// `n` papers with IDs 2411.00001…; names put the number first (`Q17Former`) because the identity
/// checks compare 7-character stems.
pub fn synthetic_papers(n: usize) -> Vec<Synthetic> {
    (1..=n)
        .map(|i| {
            let name = format!("Q{i}Former");
            Synthetic {
                id: format!("2411.{i:05}"),
                title: format!("{name}: Sparse Routing for Long-Context Modeling"),
                abstract_text: format!(
                    "We present {name}, a sparse routing model built on the K{i}-Router module and \
                     trained on the Z{i}Corpus collection. {name} reduces attention memory by {}% \
                     while keeping accuracy on the Z{i}Bench suite, and reaches a score of {}.{} where \
                     the strongest baseline reaches {}.{}. Code and checkpoints are released.",
                    10 + i % 80,
                    40 + i % 50,
                    i % 10,
                    30 + i % 40,
                    (i + 3) % 10,
                ),
            }
        })
        .collect()
}

/// Writes `papers` as one Hugging Face `api/daily_papers` response (the fields the product reads).
pub fn write_hf_file(dir: &Path, papers: &[Synthetic]) -> PathBuf {
    let items: Vec<_> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "paper": {
                    "id": p.id,
                    "authors": [{"_id": format!("a{i}"), "name": format!("Author {i}"), "hidden": false}],
                    "publishedAt": "2024-11-04T12:00:00.000Z",
                    "title": p.title,
                    "summary": p.abstract_text,
                    "upvotes": (i % 17) as i64,
                },
                "publishedAt": "2024-11-05T06:00:00.000Z",
                "title": p.title,
                "summary": p.abstract_text,
                "thumbnail": format!("https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png", p.id),
                "numComments": 0,
            })
        })
        .collect();
    let path = dir.join(format!("hf_{DAY}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&items).unwrap()).unwrap();
    path
}

/// The fault mix of the soak: 20% 429, 10% 5xx, 5% timeouts, 5% malformed, 5% truncated, a few
/// dropped connections and empty answers; and 10% of the papers always answered with a summary of
/// another paper, 5% with a tracker link, so the run has papers to flag and keep for review.
pub fn soak_faults() -> Faults {
    Faults {
        rate_limited: 0.20,
        server_error: 0.10,
        timeout: 0.05,
        malformed: 0.05,
        truncated: 0.05,
        reset: 0.02,
        empty: 0.02,
        wrong_paper: 0.10,
        linked: 0.05,
    }
}

/// Client timeout the binary gets; held ("timeout") requests are held longer than this. Generous,
/// so a loaded CI machine does not turn a delivered answer into a client timeout (and a re-ask).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn faulty_mock(seed: u64, latency: Latency) -> MockLlm {
    MockLlm::builder()
        .faults(soak_faults())
        .seed(seed)
        .latency(latency)
        .hold(CLIENT_TIMEOUT * 3)
        .retry_after(Duration::from_millis(env_number("SOAK_RETRY_AFTER_MS", 0)))
        .start()
        .await
        .unwrap()
}

pub async fn clean_mock() -> MockLlm {
    MockLlm::builder().start().await.unwrap()
}

/// Environment for the binary: store and output in `dir`, small retries/backoff/timeouts, no
/// client-side pacing (the mock's faults are the load).
pub fn env_for(mock: &MockLlm, dir: &Path) -> Vec<(String, String)> {
    [
        ("OPENAI_API_KEY", "sk-test-soak-0123456789".to_string()),
        ("PAPER_DIGEST_MODEL__BASE_URL", format!("{}/v1", mock.uri())),
        ("PAPER_DIGEST_MODEL__MAX_RETRIES", "4".to_string()),
        ("PAPER_DIGEST_MODEL__BACKOFF_INITIAL_MS", "5".to_string()),
        ("PAPER_DIGEST_MODEL__BACKOFF_MAX_SECS", "0.05".to_string()),
        (
            "PAPER_DIGEST_MODEL__REQUEST_TIMEOUT_SECS",
            CLIENT_TIMEOUT.as_secs_f64().to_string(),
        ),
        ("PAPER_DIGEST_MODEL__REQUESTS_PER_MINUTE", "0".to_string()),
        ("PAPER_DIGEST_MODEL__TOKENS_PER_MINUTE", "0".to_string()),
        ("PAPER_DIGEST_RUN__CONCURRENCY", "8".to_string()),
        // A killed run's claims are free again a second later (see `wait_out_leases`).
        ("PAPER_DIGEST_RUN__CLAIM_LEASE_SECS", "1".to_string()),
        (
            "PAPER_DIGEST_RUN__DATABASE",
            db_path(dir).display().to_string(),
        ),
        (
            "PAPER_DIGEST_RUN__OUT_DIR",
            dir.join("out").display().to_string(),
        ),
        ("PAPER_DIGEST_LOG_FORMAT", "json".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("digest.db")
}

/// `paper-digest run` on the input file, with a clean environment plus `env`.
pub fn run_command(env: &[(String, String)], input: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paper-digest"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PAPER_DIGEST_") || key.starts_with("OPENAI_") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["run", "--source", "file", "--date", DAY, "--input"])
        .arg(input);
    command
}

/// Runs to the end; the exit code must be 0 (all published) or 1 (some flagged/failed).
pub fn run_to_end(env: &[(String, String)], input: &Path) -> Output {
    let output = run_command(env, input).output().unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "exit {:?}; stderr tail:\n{}",
        output.status.code(),
        tail(&output.stderr, 3000)
    );
    output
}

fn tail(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// Each paper's current status, read from the store; every listed paper must have exactly one
/// current summary, and flagged/failed ones must say why.
pub fn current_statuses(db: &Path, papers: &[Synthetic]) -> BTreeMap<String, Status> {
    let store = Store::open(db).unwrap();
    let current = store.current_for_date(day()).unwrap();
    let mut statuses = BTreeMap::new();
    for entry in &current {
        let id = entry.paper.id.to_string();
        let summary = entry
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("{id} was lost: listed but never stored"));
        if summary.status != Status::Ok {
            assert!(
                !summary.reasons.is_empty() || summary.error.is_some(),
                "{id} is {} without a reason",
                summary.status.as_str()
            );
        }
        if summary.status == Status::Flagged {
            assert!(
                summary.sections.is_some(),
                "{id} is flagged without the answer paid for"
            );
        }
        assert!(
            statuses.insert(id.clone(), summary.status).is_none(),
            "{id} has two current summaries"
        );
    }
    let expected: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    let stored: Vec<&str> = statuses.keys().map(String::as_str).collect();
    assert_eq!(
        stored, expected,
        "the store lists other papers than the input"
    );
    statuses
}

pub fn with_status(statuses: &BTreeMap<String, Status>, wanted: &[Status]) -> Vec<String> {
    statuses
        .iter()
        .filter(|(_, s)| wanted.contains(s))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Papers with more than one ok/flagged attempt in the history: paid for twice.
pub fn stored_twice(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT paper FROM attempts WHERE status IN ('ok', 'flagged')
             GROUP BY paper HAVING count(*) > 1",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap()
}

/// `PRAGMA integrity_check` on the database file (with its WAL).
pub fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

pub fn last_report(db: &Path) -> RunReport {
    let store = Store::open(db).unwrap();
    let run = store.last_run_id().unwrap().expect("a run was recorded");
    store.run_report(run).unwrap()
}

pub fn report(db: &Path, run: i64) -> RunReport {
    Store::open(db).unwrap().run_report(RunId(run)).unwrap()
}

/// The run's counts must be the store's: each paper attempted in it has its last status there.
pub fn assert_report_matches_store(report: &RunReport, statuses: &BTreeMap<String, Status>) {
    let mut counted = [0u64; 3];
    for paper in &report.papers {
        let id = paper.paper.to_string();
        let status = statuses.get(&id).copied();
        // A failed attempt never displaces a usable summary, so only a non-failed result must match.
        if paper.status != Status::Failed {
            assert_eq!(status, Some(paper.status), "{id}: report vs store");
        }
        counted[match paper.status {
            Status::Ok => 0,
            Status::Flagged => 1,
            Status::Failed => 2,
        }] += 1;
    }
    let counts = report.counts;
    assert_eq!(
        [counts.ok, counts.flagged, counts.failed],
        counted,
        "report counts vs its papers"
    );
}

/// One line of figures for the closing note.
pub fn figures(label: &str, papers: usize, stats: &Stats, reports: &[RunReport]) -> String {
    let calls: u64 = reports.iter().map(|r| r.totals.calls).sum();
    let o = stats.outcomes;
    let last = reports.last().map(|r| r.counts).unwrap_or_default();
    format!(
        "{label}: papers={papers} runs={} http_requests={} answered_calls={calls} unanswered={} \
         429s={} (limited {}) 5xx={} timeouts={} resets={} malformed={} truncated={} empty={} \
         wrong_paper={} linked={} delivered={} | last run: ok={} flagged={} failed={} skipped={}",
        reports.len(),
        stats.requests,
        stats.requests.saturating_sub(calls),
        o.rate_limited + o.limited,
        o.limited,
        o.server_errors,
        o.timeouts,
        o.resets,
        o.malformed,
        o.truncated,
        o.empty,
        o.wrong_paper,
        o.linked,
        stats.delivered,
        last.ok,
        last.flagged,
        last.failed,
        last.skipped,
    )
}

/// Waits until the claims of a killed run (lease: one second, see `env_for`) have expired.
pub fn wait_out_leases() {
    std::thread::sleep(std::time::Duration::from_millis(1200));
}
