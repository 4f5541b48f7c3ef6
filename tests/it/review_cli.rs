//! `paper-digest review` through the binary: list → show → edit → approve changes the digest on
//! disk; reject keeps a paper out (even with `--include-flagged`); resummarize asks the model once;
//! a later run leaves what people decided alone.

use crate::common::*;

fn digest(dir: &std::path::Path) -> String {
    std::fs::read_to_string(
        dir.join("out")
            .join(format!("daily_papers_ko_{FIXTURE_DAY}.md")),
    )
    .unwrap()
}

fn ok(output: &std::process::Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_show_edit_approve_reject_resummarize_through_the_binary() {
    // Every answer of the day is a summary of the next paper: all three are flagged.
    let Setup {
        mock: _swapped,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::Swapped)).await;
    assert_eq!(run_fixture_day(&env, &[]).status.code(), Some(1));
    let held = digest(dir.path());
    assert!(!held.contains("### ["), "nothing published yet:\n{held}");

    let list = ok(
        &run_binary(&env, &["review", "list", "--date", FIXTURE_DAY]),
        0,
    );
    for paper in &PAPERS {
        assert!(
            list.contains(&format!("{}\tflagged\t{FIXTURE_DAY}", paper.id)),
            "{list}"
        );
    }
    assert!(
        list.contains("describes 2409.10002"),
        "reasons are listed:\n{list}"
    );

    // Any pasted form of the ID.
    let (a, b, c) = (&PAPERS[0], &PAPERS[1], &PAPERS[2]);
    let show = ok(
        &run_binary(
            &env,
            &[
                "review",
                "show",
                &format!("https://arxiv.org/abs/{}v2", a.id),
            ],
        ),
        0,
    );
    for expected in [
        "status: flagged",
        "model: gpt-4o-mini",
        "prompt version: ",
        "listed: 2024-09-23",
        "### Summary",
        "### Abstract",
        "### Terms",
        "not found: ",
        "describes 2409.10002",
        "(no decision yet)",
    ] {
        assert!(show.contains(expected), "{expected:?} in:\n{show}");
    }
    // The swapped answer (about Seoul-Bench) is what the reviewer sees.
    assert!(show.contains("Seoul-Bench"), "{show}");

    // Edit A: the reviewer fixes a sentence but keeps the text about the wrong paper: the identity
    // checks still flag it; it is stored as a person's edit, kept for approval (exit 1).
    let summary_block: String = show
        .lines()
        .skip_while(|l| *l != "### Summary")
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .collect::<Vec<_>>()
        .join("\n");
    let fixed = summary_block.replace(
        "가장 좋은 모델의 정확도는",
        "검토자가 확인한 결과, 가장 좋은 모델의 정확도는",
    );
    assert_ne!(fixed, summary_block, "the sentence to fix is there");
    let file = dir.path().join("edit.md");
    std::fs::write(&file, &fixed).unwrap();
    let edited = ok(
        &run_binary(
            &env,
            &[
                "review",
                "edit",
                a.id,
                "--file",
                file.to_str().unwrap(),
                "--actor",
                "kim",
                "--note",
                "fixed a sentence",
            ],
        ),
        1,
    );
    assert!(edited.contains("kim edit (flagged → flagged)"), "{edited}");
    assert!(edited.contains("review approve"), "{edited}");
    assert!(
        !digest(dir.path()).contains("### ["),
        "a flagged edit is not published"
    );

    // Approve A: published with the edited text, decided by a person.
    let approved = ok(
        &run_binary(
            &env,
            &[
                "review",
                "approve",
                a.id,
                "--actor",
                "kim",
                "--note",
                "checked against the paper",
            ],
        ),
        0,
    );
    assert!(
        approved.contains("kim approve (flagged → ok)"),
        "{approved}"
    );
    assert!(approved.contains("digest: "), "{approved}");
    let published = digest(dir.path());
    assert!(published.contains(a.title), "{published}");
    assert!(
        published.contains("검토자가 확인한 결과"),
        "the edited text:\n{published}"
    );
    assert!(
        published.contains("> ✅ 사람이 검토함 (reviewed by a person): approved by kim on "),
        "readers see that a person decided:\n{published}"
    );

    // An edit that carries a link the paper did not give is refused; nothing changes.
    std::fs::write(
        &file,
        fixed.replace(
            "검토자가 확인한 결과,",
            "자세한 내용은 https://evil.example/x 를 보세요.",
        ),
    )
    .unwrap();
    let refused = run_binary(
        &env,
        &["review", "edit", c.id, "--file", file.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("web address"),
        "{}",
        text(&refused.stderr)
    );

    // Reject B: kept out, even when flagged papers are included.
    ok(
        &run_binary(
            &env,
            &[
                "review",
                "reject",
                b.id,
                "--actor",
                "lee",
                "--note",
                "wrong paper",
            ],
        ),
        0,
    );
    let with_flagged = ok(
        &run_cli(
            &env,
            &[
                "digest",
                "--date",
                FIXTURE_DAY,
                "--stdout",
                "--include-flagged",
            ],
        ),
        0,
    );
    assert!(!with_flagged.contains(b.title), "{with_flagged}");
    assert!(
        with_flagged.contains(c.title),
        "C is flagged and shown with its warning"
    );
    let again = run_binary(&env, &["review", "reject", b.id]);
    assert_eq!(again.status.code(), Some(2), "already rejected");

    // The trail keeps who, what, why, and the text before and after the edit.
    let json = ok(
        &run_binary(&env, &["review", "show", a.id, "--format", "json"]),
        0,
    );
    let shown: serde_json::Value = serde_json::from_str(&json).unwrap();
    let trail = shown["decisions"].as_array().unwrap();
    assert_eq!(trail.len(), 2, "{json}");
    assert_eq!(trail[0]["action"], "edit");
    assert_eq!(trail[0]["actor"], "kim");
    assert_eq!(trail[0]["note"], "fixed a sentence");
    assert!(trail[0]["text_before"]["performance_highlights"]
        .as_str()
        .unwrap()
        .starts_with("가장 좋은"));
    assert!(trail[0]["text_after"]["performance_highlights"]
        .as_str()
        .unwrap()
        .starts_with("검토자가"));
    assert_eq!(trail[1]["action"], "approve");
    assert_eq!(trail[1]["status_after"], "ok");
    assert_eq!(shown["current"]["decided"]["action"], "approve");
    let kinds: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["model", "edit", "approve"],
        "the model's answer stays in the history"
    );

    // Resummarize B against a model that answers correctly: asked exactly once, published.
    let correct = MockChat::new(Behaviour::Correct);
    let correct_server = correct.start().await;
    let mut env2 = env.clone();
    for (key, value) in env2.iter_mut() {
        if key == "PAPER_DIGEST_MODEL__BASE_URL" {
            *value = format!("{}/v1", correct_server.uri());
        }
    }
    let resummarized = ok(
        &run_binary(&env2, &["review", "resummarize", b.id, "--actor", "lee"]),
        0,
    );
    assert!(
        resummarized.contains("lee resummarize (rejected → ok)"),
        "{resummarized}"
    );
    assert_eq!(
        correct.counts().get(b.id),
        Some(&1),
        "{:?}",
        correct.counts()
    );
    assert!(digest(dir.path()).contains(b.title));

    // A later run with another model re-asks only what no person decided on (B's summary is the
    // model's); A (approved) and C's state stay as they are for A.
    env2.push(("PAPER_DIGEST_MODEL__NAME".into(), "another-model".into()));
    run_fixture_day(&env2, &[]);
    let counts = correct.counts();
    assert_eq!(
        counts.get(a.id),
        None,
        "A was approved by a person: {counts:?}"
    );
    assert_eq!(counts.get(b.id), Some(&2), "{counts:?}");
    let after = digest(dir.path());
    assert!(
        after.contains("검토자가 확인한 결과"),
        "the approved edit survives:\n{after}"
    );

    // --force replaces a person's decision (the history keeps it).
    run_fixture_day(&env2, &["--force"]);
    assert_eq!(correct.counts().get(a.id), Some(&1));
    let forced = digest(dir.path());
    assert!(!forced.contains("검토자가 확인한 결과"), "{forced}");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_errors_are_clear_and_exit_2() {
    let Setup {
        mock: _mock,
        server: _server,
        dir: _dir,
        env,
    } = setup(MockChat::new(Behaviour::Correct)).await;
    assert_eq!(run_fixture_day(&env, &[]).status.code(), Some(0));
    let unknown = run_cli(&env, &["review", "approve", "2409.99999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("2409.99999"),
        "{}",
        text(&unknown.stderr)
    );
    let bad = run_cli(&env, &["review", "show", "not-an-id"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("not-an-id"),
        "{}",
        text(&bad.stderr)
    );
    let published = run_cli(&env, &["review", "approve", PAPERS[0].id]);
    assert_eq!(published.status.code(), Some(2));
    assert!(
        text(&published.stderr).contains("already published"),
        "{}",
        text(&published.stderr)
    );
    let missing = run_cli(
        &env,
        &[
            "review",
            "edit",
            PAPERS[0].id,
            "--file",
            "/nonexistent/edit.md",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("/nonexistent/edit.md"),
        "{}",
        text(&missing.stderr)
    );
    let empty = run_cli(&env, &["review", "list"]);
    assert_eq!(text(&empty.stdout), "no papers to review\n");
    let all = run_cli(
        &env,
        &["review", "list", "--status", "all", "--format", "json"],
    );
    let listed: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
}

/// A decision updates what was published: the day's site page gets the approved paper, marked as a
/// person's decision, and a rejection takes it out again.
#[tokio::test(flavor = "multi_thread")]
async fn a_decision_publishes_the_day_to_the_publish_targets() {
    let Setup {
        mock: _swapped,
        server: _server,
        dir,
        mut env,
    } = setup(MockChat::new(Behaviour::Swapped)).await;
    let site = dir.path().join("site");
    env.push(("PAPER_DIGEST_PUBLISH__SITE__ENABLED".into(), "true".into()));
    env.push((
        "PAPER_DIGEST_PUBLISH__SITE__DIR".into(),
        site.display().to_string(),
    ));
    let page = || std::fs::read_to_string(site.join(format!("days/{FIXTURE_DAY}.html"))).unwrap();
    assert_eq!(run_fixture_day(&env, &[]).status.code(), Some(1));
    let a = &PAPERS[0];
    assert!(
        !page().contains(&format!("p-{}", a.id)),
        "held:\n{}",
        page()
    );

    let approved = ok(
        &run_binary(&env, &["review", "approve", a.id, "--actor", "kim"]),
        0,
    );
    assert!(
        approved.contains(&format!("{FIXTURE_DAY}\tsite\tpublished")),
        "{approved}"
    );
    let published = page();
    assert!(published.contains(&format!("p-{}", a.id)), "{published}");
    assert!(
        published.contains("reviewed by a person): approved by kim on "),
        "{published}"
    );

    // An edit the checks flag takes the paper back out of the published day (it used to be
    // published only when the edit passed, leaving the targets with the approved text).
    let show = ok(&run_binary(&env, &["review", "show", a.id]), 0);
    let summary_block: String = show
        .lines()
        .skip_while(|l| *l != "### Summary")
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .collect::<Vec<_>>()
        .join("\n");
    let edit = dir.path().join("edit.md");
    std::fs::write(
        &edit,
        summary_block.replace("가장 좋은", "검토한 결과 가장 좋은"),
    )
    .unwrap();
    let edited = ok(
        &run_binary(
            &env,
            &["review", "edit", a.id, "--file", edit.to_str().unwrap()],
        ),
        1,
    );
    assert!(edited.contains("kept for review"), "{edited}");
    assert!(
        edited.contains(&format!("{FIXTURE_DAY}\tsite\tpublished")),
        "{edited}"
    );
    assert!(!page().contains(&format!("p-{}", a.id)), "{}", page());
    ok(&run_binary(&env, &["review", "approve", a.id]), 0);

    let rejected = ok(&run_binary(&env, &["review", "reject", a.id]), 0);
    assert!(
        rejected.contains(&format!("{FIXTURE_DAY}\tsite\tpublished")),
        "{rejected}"
    );
    assert!(!page().contains(&format!("p-{}", a.id)), "{}", page());
}
