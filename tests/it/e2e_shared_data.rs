//! Acceptance on real data: a saved Hugging Face daily-papers response in, a digest out with exactly the
//! layout of the published Korean digest of that day, its values taken from the input file.
//! Skips (with a printed reason) when ../shared/data is absent.

use crate::common::*;
use serde_json::Value;

/// What kind of line each digest line is, so two digests with different texts can be compared by layout.
fn shape(line: &str) -> String {
    let kinds = [
        ("## Daily Papers (", "daily-heading"),
        ("### [", "paper-heading"),
        ("![](", "thumbnail"),
        ("Vote: ", "vote"),
        ("Authors: ", "authors"),
        ("- **What's New**: ", "whats-new"),
        ("- **Technical Details**: ", "technical-details"),
        ("- **Performance Highlights**: ", "performance-highlights"),
    ];
    if line.is_empty() {
        return "blank".into();
    }
    kinds
        .iter()
        .find(|(prefix, _)| line.starts_with(prefix))
        .map(|(_, kind)| kind.to_string())
        .unwrap_or_else(|| format!("other: {line}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hf_file_run_matches_published_digest_layout() {
    let Some(data) = shared_data() else {
        println!(
            "skipped: ../shared/data is absent (set PAPER_DIGEST_SHARED_DATA to run this test)"
        );
        return;
    };
    let input = data.join("hf_daily_papers/2024-09-23.json");
    let published =
        std::fs::read_to_string(data.join("digests/daily_papers_ko_2024-09-23.md")).unwrap();
    let Setup {
        mock: _mock,
        server: _server,
        dir,
        env,
    } = setup(MockChat::new(Behaviour::FromAbstract)).await;

    let output = run_cli(
        &env,
        &[
            "run",
            "--source",
            "file",
            "--input",
            input.to_str().unwrap(),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    let ours =
        std::fs::read_to_string(dir.path().join("out/daily_papers_ko_2024-09-23.md")).unwrap();

    // Same layout: the published file's line kinds, entry by entry (its extra entry aside).
    let ours_shape: Vec<String> = ours.lines().map(shape).collect();
    let published_shape: Vec<String> = published.lines().map(shape).collect();
    let entry_len = 12; // heading, blank, thumbnail, blank, vote, blank, authors, blank, 3 bullets, blank
    assert_eq!(ours_shape[..2], published_shape[..2]);
    let published_entry = &published_shape[2..2 + entry_len];
    for (n, entry) in ours_shape[2..].chunks(entry_len).enumerate() {
        assert_eq!(
            entry, published_entry,
            "entry {n} differs in layout:\n{ours}"
        );
    }
    assert!(ours.ends_with(".\n\n"), "ends like the published digest");
    assert_eq!(ours.lines().next(), published.lines().next());

    // Values from the input file: every paper, votes, authors in source order, ordered by votes.
    let papers: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    assert_eq!(ours.matches("\n### [").count(), papers.len());
    let mut last_votes = i64::MAX;
    for line in ours.lines().filter(|l| l.starts_with("Vote: ")) {
        let votes: i64 = line["Vote: ".len()..].parse().unwrap();
        assert!(votes <= last_votes, "ordered by votes");
        last_votes = votes;
    }
    for item in &papers {
        let paper = &item["paper"];
        let id = paper["id"].as_str().unwrap();
        let title = paper["title"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let heading = format!("### [{title}](https://arxiv.org/abs/{id})");
        let at = ours
            .find(&heading)
            .unwrap_or_else(|| panic!("missing {heading}"));
        let entry = &ours[at..];
        let authors: Vec<&str> = paper["authors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(
            entry.contains(&format!("\n\nVote: {}\n\n", paper["upvotes"])),
            "{id} votes"
        );
        assert!(
            entry.contains(&format!("\n\nAuthors: {}\n\n", authors.join(", "))),
            "{id} authors"
        );
        assert!(
            entry.contains(&format!("![]({})", item["thumbnail"].as_str().unwrap())),
            "{id} thumbnail"
        );
    }
}
