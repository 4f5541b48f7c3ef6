//! The daily digest: exact published layout, ordering, escaping, and the parser used by `lint`.

use std::path::PathBuf;

use chrono::NaiveDate;
use paper_digest::paper::{ArxivId, Sections, Status};
use paper_digest::render::digest::{self, DigestEntry};
use proptest::prelude::*;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn fixture() -> Vec<DigestEntry> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/render/three_papers.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn entry(id: &str, votes: Option<i64>) -> DigestEntry {
    DigestEntry {
        id: id.parse().unwrap(),
        title: format!("Paper {id}"),
        thumbnail: None,
        votes,
        authors: vec!["A. Author".to_string()],
        status: Some(Status::Ok),
        sections: Some(Sections {
            whats_new: "새로운 점".to_string(),
            technical_details: "기술 세부".to_string(),
            performance_highlights: "성능".to_string(),
        }),
        reasons: Vec::new(),
        reviewed: None,
    }
}

fn ids_in(markdown: &str) -> Vec<String> {
    digest::parse(markdown)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.id.to_string())
        .collect()
}

#[test]
fn three_paper_digest_matches_snapshot() {
    let markdown = digest::render(date("2024-09-27"), &fixture(), false);
    // Snapshots trim trailing newlines; the published files end with the last entry's blank line.
    assert!(markdown.ends_with("다.\n\n"), "{markdown:?}");
    insta::assert_snapshot!(markdown);
}

#[test]
fn entries_are_ordered_by_votes_then_arxiv_id() {
    let entries = vec![
        entry("2409.13690", Some(8)),
        entry("2409.13591", Some(8)),
        entry("2409.00001", Some(2)),
        entry("2409.99999", Some(40)),
    ];
    let markdown = digest::render(date("2024-09-23"), &entries, false);
    assert_eq!(
        ids_in(&markdown),
        ["2409.99999", "2409.13591", "2409.13690", "2409.00001"]
    );
}

#[test]
fn papers_without_votes_have_no_vote_line_and_come_last() {
    let entries = vec![entry("2409.00002", None), entry("2409.00003", Some(0))];
    let markdown = digest::render(date("2024-09-23"), &entries, false);
    assert_eq!(ids_in(&markdown), ["2409.00003", "2409.00002"]);
    assert_eq!(markdown.matches("Vote:").count(), 1);
    assert!(
        markdown.contains("\nVote: -\n"),
        "zero votes are published as `-`"
    );
    let parsed = digest::parse(&markdown).unwrap();
    assert_eq!(parsed.entries[0].votes, Some(0));
    assert_eq!(parsed.entries[1].votes, None);
}

#[test]
fn hostile_text_cannot_break_the_markdown() {
    let mut hostile = entry("2409.00004", Some(3));
    hostile.title =
        "Evil [link](https://evil.test) | <script>alert(1)</script>\u{200B}\nnext".into();
    hostile.authors = vec!["Mallory <b>".into(), "Eve\u{202E}".into()];
    hostile.thumbnail = Some("javascript:alert(1)".into());
    if let Some(sections) = hostile.sections.as_mut() {
        sections.whats_new = "첫 줄\n## 가짜 제목\n- **What's New**: 주입".into();
        sections.technical_details = "<img src=x onerror=alert(1)>\u{0007}".into();
    }
    let markdown = digest::render(date("2024-09-23"), &[hostile], false);
    insta::assert_snapshot!(markdown);

    assert!(!markdown.contains("<script>") && !markdown.contains("<img"));
    assert!(!markdown.contains('\u{200B}') && !markdown.contains('\u{202E}'));
    assert_eq!(markdown.lines().filter(|l| l.starts_with("## ")).count(), 1);
    assert_eq!(
        markdown.lines().filter(|l| l.starts_with("- **")).count(),
        3
    );
    let parsed = digest::parse(&markdown).unwrap();
    let [only] = parsed.entries.as_slice() else {
        panic!("expected one entry, got {:?}", parsed.entries);
    };
    assert_eq!(only.id.as_str(), "2409.00004");
    assert_eq!(
        only.title,
        "Evil [link](https://evil.test) | <script>alert(1)</script> next"
    );
    assert_eq!(only.thumbnail, None);
    assert_eq!(only.authors, ["Mallory <b>", "Eve"]);
    assert!(only.known_sections().is_some());
}

#[test]
fn ordinary_titles_stay_byte_identical() {
    let mut plain = entry("2409.00005", Some(1));
    plain.title =
        "MonoFormer: One Transformer for Both Diffusion and Autoregression (v2), 3-D & more".into();
    let markdown = digest::render(date("2024-09-23"), &[plain.clone()], false);
    assert!(markdown.contains(&format!(
        "### [{}](https://arxiv.org/abs/2409.00005)\n",
        plain.title
    )));
}

#[test]
fn flagged_is_left_out_unless_asked_and_then_warned() {
    let mut flagged = entry("2409.00006", Some(9));
    flagged.status = Some(Status::Flagged);
    flagged.reasons = vec!["summary mentions \"15%\", not in the abstract".into()];
    let mut failed = entry("2409.00007", Some(8));
    failed.status = Some(Status::Failed);
    let mut unsummarized = entry("2409.00008", Some(7));
    unsummarized.status = None;
    unsummarized.sections = None;
    let entries = vec![entry("2409.00009", Some(1)), flagged, failed, unsummarized];

    let default = digest::render(date("2024-09-23"), &entries, false);
    assert_eq!(ids_in(&default), ["2409.00009"]);
    assert!(
        default.contains("held for review or not summarized yet: 3 papers"),
        "the day says how many it leaves out:\n{default}"
    );
    assert_eq!(digest::parse(&default).unwrap().entries.len(), 1);

    let with_flagged = digest::render(date("2024-09-23"), &entries, true);
    assert_eq!(ids_in(&with_flagged), ["2409.00006", "2409.00009"]);
    insta::assert_snapshot!(with_flagged);
    let parsed = digest::parse(&with_flagged).unwrap();
    assert!(parsed.entries[0].notice.as_deref().unwrap().contains("15%"));
    assert_eq!(parsed.entries[1].notice, None);
}

#[test]
fn a_day_without_papers_says_so() {
    let empty = digest::render(date("2024-09-28"), &[], false);
    insta::assert_snapshot!(empty);
    let parsed = digest::parse(&empty).unwrap();
    assert_eq!(parsed.date, date("2024-09-28"));
    assert!(parsed.entries.is_empty());

    let mut held = entry("2409.00010", Some(2));
    held.status = Some(Status::Flagged);
    let none_published = digest::render(date("2024-09-28"), &[held], false);
    assert!(
        none_published.contains("held for review"),
        "{none_published}"
    );
    assert_ne!(none_published, empty);
}

#[test]
fn parse_errors_name_the_line() {
    let cases = [
        "",
        "# Something else\n",
        "## Daily Papers (2024-13-01)\n",
        "## Daily Papers (2024-09-23)\n\nVote: 3\n",
        "## Daily Papers (2024-09-23)\n\n### [T](https://example.com/x)\n",
        "## Daily Papers (2024-09-23)\n\n### [T](https://arxiv.org/abs/2409.00001)\n\nVote: many\n",
        "## Daily Papers (2024-09-23)\n\n### [T](https://arxiv.org/abs/2409.00001)\n\nVote: 1\n\nVote: 2\n",
        "## Daily Papers (2024-09-23)\n\n### [T](https://arxiv.org/abs/2409.00001)\n\n- What's New: no bold\n",
        "## Daily Papers (2024-09-23)\n\n### [T](https://arxiv.org/abs/2409.00001)\n\nstray paragraph\n",
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|md| digest::parse(md).unwrap_err().to_string())
        .collect();
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn unknown_section_titles_are_kept() {
    let md = "## Daily Papers (2024-09-23)\n\n### [T](https://arxiv.org/abs/2409.00001v2)\n\n\
              - **What's New**: a\n- **Limitations**: b\n";
    let parsed = digest::parse(md).unwrap();
    let entry = &parsed.entries[0];
    assert_eq!(entry.id, "2409.00001".parse::<ArxivId>().unwrap());
    let titles: Vec<&str> = entry.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["What's New", "Limitations"]);
    assert_eq!(entry.sections[1].line, 6);
    assert_eq!(entry.known_sections(), None);
}

fn shared_data() -> PathBuf {
    std::env::var_os("PAPER_DIGEST_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")))
}

/// Proves the layout: every published digest re-renders from its parsed entries byte for byte.
#[test]
fn real_digests_round_trip_byte_identical() {
    let folder = shared_data().join("digests");
    let Ok(listing) = std::fs::read_dir(&folder) else {
        println!("skipped: no shared data at {}", folder.display());
        return;
    };
    let mut files: Vec<PathBuf> = listing
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no digests in {}", folder.display());
    for file in files {
        let original = std::fs::read_to_string(&file).unwrap();
        let parsed = digest::parse(&original).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            parsed.entries.len(),
            original.matches("\n### [").count(),
            "{}: every entry parses",
            file.display()
        );
        let entries: Vec<DigestEntry> = parsed
            .entries
            .iter()
            .map(|e| DigestEntry {
                id: e.id.clone(),
                title: e.title.clone(),
                thumbnail: e.thumbnail.clone(),
                votes: e.votes,
                authors: e.authors.clone(),
                status: Some(Status::Ok),
                sections: Some(e.known_sections().unwrap_or_else(|| {
                    panic!("{}:{}: not the three sections", file.display(), e.line)
                })),
                reasons: Vec::new(),
                reviewed: None,
            })
            .collect();
        let rendered = digest::render_in_order(parsed.date, &entries, false);
        if rendered != original {
            let first_diff = rendered
                .lines()
                .zip(original.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || "at the end".to_string(),
                    |i| format!("at line {}", i + 1),
                );
            panic!(
                "{}: re-rendered digest differs from the published file {first_diff}",
                file.display()
            );
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_text(text in any::<String>()) {
        let _ = digest::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_digest_shaped_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("## Daily Papers (2024-09-23)".to_string()),
                Just("### [T](https://arxiv.org/abs/2409.00001)".to_string()),
                Just("- **What's New**: 가나다".to_string()),
                Just("Vote: -".to_string()),
                Just("Authors: a, b".to_string()),
                Just(String::new()),
                "(### \\[|- \\*\\*|Vote: |Authors: |!\\[\\]\\(|> )?[^\n]{0,20}",
            ],
            0..12,
        )
    ) {
        let _ = digest::parse(&lines.join("\n"));
    }

    #[test]
    fn rendered_digests_parse_back(title in "[^\u{0}]{0,40}", text in "\\PC{0,60}", votes in proptest::option::of(0i64..1000)) {
        let mut e = entry("2409.00001", votes);
        e.title = title;
        if let Some(sections) = e.sections.as_mut() {
            sections.technical_details = text;
        }
        let markdown = digest::render(date("2024-09-23"), &[e], false);
        let parsed = digest::parse(&markdown).unwrap();
        prop_assert_eq!(parsed.entries.len(), 1);
        prop_assert_eq!(parsed.entries[0].votes, votes);
        prop_assert_eq!(parsed.entries[0].sections.len(), 3);
    }
}

/// Readers see that a person decided: an approved or edited summary carries who and when, as a
/// `> ` line the parser reads back; the name is text, never markup.
#[test]
fn a_reviewed_summary_says_who_decided_and_when() {
    let mut approved = entry("2409.00001", Some(5));
    approved.reviewed = Some(paper_digest::render::digest::Reviewed {
        edited: false,
        by: "kim [x](javascript:alert(1))".to_string(),
        on: "2026-12-02".to_string(),
    });
    let mut edited = entry("2409.00002", Some(3));
    edited.reviewed = Some(paper_digest::render::digest::Reviewed {
        edited: true,
        by: "lee".to_string(),
        on: "2026-12-01".to_string(),
    });
    let date = "2024-09-23".parse().unwrap();
    let markdown = digest::render(
        date,
        &[approved, edited, entry("2409.00003", Some(1))],
        false,
    );
    insta::assert_snapshot!("reviewed_entries", markdown);
    assert!(!markdown.contains("](javascript:"), "{markdown}");
    let parsed = digest::parse(&markdown).unwrap();
    assert_eq!(
        parsed.entries[0].notice.as_deref(),
        Some("✅ 사람이 검토함 (reviewed by a person): approved by kim [x](javascript[:]alert(1)) on 2026-12-02")
    );
    assert!(parsed.entries[1]
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("edited by lee on 2026-12-01")));
    assert_eq!(parsed.entries[2].notice, None);
}
