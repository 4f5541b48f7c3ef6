//! The run report (Markdown and JSON) and atomic file writes.

use paper_digest::paper::Status;
use paper_digest::render::{report, write_atomic};
use paper_digest::store::{
    Listing, PaperResult, RunEnd, RunId, RunInfo, RunKind, RunReport, Skip, SkipKind, StatusCounts,
    Totals,
};

fn result(id: &str, status: Status, reasons: &[&str], error: Option<&str>) -> PaperResult {
    PaperResult {
        paper: id.parse().unwrap(),
        title: format!("Title of {id} [draft]"),
        status,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        error: error.map(str::to_string),
        attempts: 1,
        calls: 2,
        prompt_tokens: 1200,
        completion_tokens: 450,
        cost_usd: 0.00123,
        duration_ms: 3456,
        trimmed: status == Status::Failed,
    }
}

fn sample(end: Option<RunEnd>) -> RunReport {
    RunReport {
        run: RunInfo {
            id: RunId(7),
            kind: RunKind::Run,
            date: Some("2024-09-23".parse().unwrap()),
            source: "hf-daily".into(),
            dry_run: false,
            model: "gpt-4o-mini".into(),
            prompt_version: "3f2a9c1d".into(),
            started_at: "2024-09-23T06:00:00.000Z".into(),
            finished_at: end.map(|_| "2024-09-23T06:04:10.500Z".into()),
            end,
            note: None,
            listing: Some(Listing {
                listed: 9,
                complete: true,
                note: None,
            }),
        },
        counts: StatusCounts {
            ok: 1,
            flagged: 1,
            failed: 1,
            skipped: 4,
            not_attempted: 1,
            elsewhere: 1,
        },
        papers: vec![
            result("2409.13346", Status::Ok, &[], None),
            result(
                "2409.13592",
                Status::Flagged,
                &[
                    "section \"Technical Details\" is 12% Hangul (minimum 50%)",
                    "figure \"15%\" appears nowhere in the abstract",
                ],
                None,
            ),
            result(
                "2409.13598",
                Status::Failed,
                &[],
                Some("model gave up after 5 attempts: HTTP 503"),
            ),
        ],
        skips: vec![
            Skip {
                paper: "2409.13600".parse().unwrap(),
                kind: SkipKind::NotAttempted,
                detail: "not started: interrupted by SIGTERM".into(),
            },
            Skip {
                paper: "2409.13601".parse().unwrap(),
                kind: SkipKind::Elsewhere,
                detail: "in progress in run 6".into(),
            },
        ],
        totals: Totals {
            attempts: 3,
            calls: 6,
            prompt_tokens: 3600,
            completion_tokens: 1350,
            cost_usd: 0.00369,
            duration_ms: 10368,
        },
        published: Vec::new(),
    }
}

#[test]
fn markdown_report_lists_counts_problems_and_totals() {
    let text = report::markdown(&sample(Some(RunEnd::Finished)));
    insta::assert_snapshot!(text);
    assert!(
        !text.contains("2409.13346"),
        "published papers need no review"
    );
}

#[test]
fn markdown_report_of_an_unfinished_run_says_so() {
    let text = report::markdown(&sample(None));
    assert!(text.contains("Not ended"), "{text}");
}

#[test]
fn markdown_report_without_problems() {
    let mut clean = sample(Some(RunEnd::Finished));
    clean.papers.truncate(1);
    let text = report::markdown(&clean);
    assert!(text.ends_with("Nothing needs review.\n"), "{text}");
}

#[test]
fn json_report_matches_snapshot() {
    let text = report::json(&sample(Some(RunEnd::Interrupted))).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["counts"]["skipped"], 4);
    assert_eq!(value["run"]["end"], "interrupted");
    insta::assert_snapshot!(text);
}

#[test]
fn write_atomic_replaces_the_file_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digest.md");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, "둘째".as_bytes()).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "둘째");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["digest.md"]);
}

#[test]
fn write_atomic_creates_the_folder_and_names_the_path_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let created = dir.path().join("new").join("digest.md");
    write_atomic(&created, b"x").unwrap();
    assert_eq!(std::fs::read(&created).unwrap(), b"x");
    // A file where the folder should be.
    let path = created.join("digest.md");
    let err = write_atomic(&path, b"x").unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}
