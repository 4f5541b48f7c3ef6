//! The identity checks end to end: in a run (a summary of another paper of the batch is flagged and
//! kept out of the digest), in `lint` over a published digest, and in `eval-checks`.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_summary_of_another_paper_in_the_batch_is_flagged_and_not_published() {
    let Setup {
        mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::Swapped)).await;
    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let digest = std::fs::read_to_string(
        dir.path()
            .join(format!("out/daily_papers_ko_{FIXTURE_DAY}.md")),
    )
    .unwrap();
    assert!(
        !digest.contains("### ["),
        "a swapped summary was published:\n{digest}"
    );
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    // GlowFormer was given Seoul-Bench's summary, Seoul-Bench Tidal's, Tidal GlowFormer's.
    for (paper, described) in [
        ("2409.10001", "2409.10002"),
        ("2409.10002", "2409.10003"),
        ("2409.10003", "2409.10001"),
    ] {
        assert!(
            report.contains(paper),
            "{paper} is in the report:\n{report}"
        );
        assert!(
            report.contains(&format!("describes {described}")),
            "report names {described}:\n{report}"
        );
    }
    // Flagged summaries are re-asked with the reasons (twice), then kept for review.
    assert!(
        mock.counts().values().all(|n| *n == 3),
        "{:?}",
        mock.counts()
    );

    let with_flagged = run_cli(
        &env,
        &[
            "digest",
            "--date",
            FIXTURE_DAY,
            "--stdout",
            "--include-flagged",
        ],
    );
    assert_eq!(with_flagged.status.code(), Some(0));
    assert_eq!(text(&with_flagged.stdout).matches("### [").count(), 3);
}

#[test]
fn lint_flags_swapped_and_generic_entries_and_reports_unmatched_ones() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_for("http://127.0.0.1:9", dir.path());
    let digest = fixture("digest_2024-09-23.md");
    let papers = fixture("hf_2024-09-23.json");

    let output = run_cli(
        &env,
        &[
            "lint",
            digest.to_str().unwrap(),
            "--papers",
            papers.to_str().unwrap(),
        ],
    );

    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout).replace(digest.to_str().unwrap(), "digest_2024-09-23.md");
    insta::assert_snapshot!("lint_fixture_digest", stdout);

    let json = run_cli(
        &env,
        &[
            "lint",
            digest.to_str().unwrap(),
            "--papers",
            papers.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let entries: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let verdicts: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["ok", "flag", "flag", "unmatched"]);
}

#[test]
fn lint_of_a_file_that_is_not_a_digest_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_for("http://127.0.0.1:9", dir.path());
    let bogus = dir.path().join("notes.md");
    std::fs::write(&bogus, "# My notes\n\nnothing here\n").unwrap();

    let output = run_cli(&env, &["lint", bogus.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("notes.md"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn eval_checks_prints_the_confusion_matrix_of_the_dev_set() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_for("http://127.0.0.1:9", dir.path());
    let pairs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identity/dev_pairs.jsonl");

    let output = run_cli(&env, &["eval-checks", "--pairs", pairs.to_str().unwrap()]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    insta::with_settings!({filters => vec![(r"throughput: \d+ summaries/s", "throughput: [N] summaries/s")]}, {
        insta::assert_snapshot!("eval_checks_dev_set", text(&output.stdout));
    });

    let broken = dir.path().join("pairs.jsonl");
    std::fs::write(&broken, "{\"arxiv_id\": \"2409.10001\"}\n").unwrap();
    let output = run_cli(&env, &["eval-checks", "--pairs", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("line 1"),
        "{}",
        text(&output.stderr)
    );
}

/// With the judge on and every verdict treated as borderline, the judge decides.
#[tokio::test(flavor = "multi_thread")]
async fn the_optional_judge_settles_borderline_verdicts_and_its_calls_are_counted() {
    for describes_paper in [true, false] {
        let Setup {
            mock,
            server: _server,
            dir,
            mut env,
        } = setup(MockChat::new(Behaviour::Correct).with_judge_saying(describes_paper)).await;
        env.push(("PAPER_DIGEST_CHECKS__JUDGE__ENABLED".into(), "true".into()));
        env.push((
            "PAPER_DIGEST_CHECKS__JUDGE__BORDERLINE_MARGIN".into(),
            "1.0".into(),
        ));
        env.push(("PAPER_DIGEST_CHECKS__MAX_REPAIRS".into(), "0".into()));
        let output = run_fixture_day(&env, &[]);

        let expected_exit = if describes_paper { 0 } else { 1 };
        assert_eq!(
            output.status.code(),
            Some(expected_exit),
            "stderr: {}",
            text(&output.stderr)
        );
        assert_eq!(mock.judge_calls(), PAPERS.len(), "one judge call per paper");
        let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.json")).unwrap();
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(
            report["totals"]["calls"],
            2 * PAPERS.len(),
            "judge calls are counted: {report}"
        );
        if !describes_paper {
            let text = report.to_string();
            assert!(
                text.contains("judge: the summary does not describe this paper"),
                "{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_judge_is_off_by_default() {
    let Setup {
        mock,
        server: _server,
        dir: _dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct).with_judge_saying(false)).await;
    let output = run_fixture_day(&env, &[]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_eq!(mock.judge_calls(), 0);
}

/// A summary written from the whole paper (a router module, training figures, baselines of its
/// table) is flagged against the abstract; its own full text, fetched from a server shaped like
/// arXiv's HTML rendering, supports it, so it passes with the reason recorded. The rendering is
/// cached in the store: a second lint asks no server.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_from_the_full_text_passes_once_its_own_full_text_is_fetched() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let html = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/arxiv_html/2409.10001.html"),
    )
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/html/2409.10001"))
        .respond_with(ResponseTemplate::new(200).set_body_string(html))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let digest = dir.path().join("daily_papers_ko_2024-09-23.md");
    std::fs::write(
        &digest,
        "## Daily Papers (2024-09-23)\n\n\
         ### [GlowFormer: Efficient Long-Context Attention with Learned Sparsity](https://arxiv.org/abs/2409.10001)\n\n\
         - **What's New**: GlowFormer는 GateNet 모듈이라는 가벼운 라우터(router)로 키 블록(key block)을 고르는 학습된 블록 라우팅(learned block routing)을 제안합니다.\n\
         - **Technical Details**: 라우터는 64 토큰 블록마다 점수를 매겨 쿼리 블록당 상위 8개 블록을 남기며, straight-through estimator와 0.01 가중치의 희소성 패널티(sparsity penalty)로 함께 학습됩니다. 1.3B 파라미터 모델을 128개의 A100 GPU에서 100K 스텝 학습했습니다.\n\
         - **Performance Highlights**: LongBench에서 BigBird(39.7)와 Longformer보다 높은 44.8점을 기록했고, 32K 토큰에서 어텐션 메모리는 14.3GB로 밀집 어텐션(dense attention)의 38.5GB보다 훨씬 적습니다.\n\n",
    )
    .unwrap();
    let mut env = env_for("http://127.0.0.1:9", dir.path());
    env.push((
        "PAPER_DIGEST_SOURCE__ARXIV_HTML_BASE_URL".into(),
        server.uri(),
    ));
    env.push((
        "PAPER_DIGEST_SOURCE__ARXIV_MIN_INTERVAL_SECS".into(),
        "0".into(),
    ));
    let papers = fixture("hf_2024-09-23.json");
    let lint = |extra: &[&str]| {
        let mut args = vec![
            "lint",
            digest.to_str().unwrap(),
            "--papers",
            papers.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_cli(&env, &args)
    };

    let against_abstract = lint(&[]);
    assert_eq!(
        against_abstract.status.code(),
        Some(1),
        "{}",
        text(&against_abstract.stdout)
    );
    for _ in 0..2 {
        let grounded = lint(&["--fetch-full-text"]);
        let shown = text(&grounded.stdout);
        assert_eq!(
            grounded.status.code(),
            Some(0),
            "{shown}{}",
            text(&grounded.stderr)
        );
        assert!(shown.contains("\tOK\t2409.10001"), "{shown}");
        assert!(
            shown.contains("= full-text:"),
            "the reason is recorded:\n{shown}"
        );
    }
}
