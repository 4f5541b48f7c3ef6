//! Calibrates `crate::common::defaults().summarize.shape` on real published Korean summaries and prints what each
//! rule flags. Reads `PAPER_DIGEST_SHARED_DATA` (default `../shared/data` next to the crate) and
//! skips with a message when that folder is absent.
//!
//! Run with `cargo test --test checks_real_data -- --nocapture` to see the figures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use paper_digest::checks::answer::{self, AnswerFormat};
use paper_digest::checks::shape::{check_sections, hangul_share};
use paper_digest::checks::Reason;
use paper_digest::paper::Sections;

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPER_DIGEST_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: shared data folder {} is absent (set PAPER_DIGEST_SHARED_DATA)",
            dir.display()
        );
        None
    }
}

/// Per check name: how many summaries it flags.
#[derive(Default)]
struct Tally {
    summaries: usize,
    flagged: usize,
    by_check: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, reasons: &[Reason]) {
        self.summaries += 1;
        if !reasons.is_empty() {
            self.flagged += 1;
        }
        let mut checks: Vec<&str> = reasons.iter().map(|r| r.check.as_str()).collect();
        checks.dedup();
        for check in checks {
            *self.by_check.entry(check.to_string()).or_default() += 1;
        }
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: {} summaries, {} flagged ({:.2}%)",
            self.summaries,
            self.flagged,
            percent(self.flagged, self.summaries)
        );
        for (check, count) in &self.by_check {
            println!(
                "  {check:<12} {count:>5} ({:.2}%)",
                percent(*count, self.summaries)
            );
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// Malformed the way the data README describes: a dict- or list-like string instead of prose.
fn looks_like_a_python_literal(text: &str) -> bool {
    let text = text.trim();
    (text.starts_with("{'") || text.starts_with("[{") || text.starts_with("['"))
        && (text.ends_with('}') || text.ends_with(']'))
}

fn sections_of(value: &serde_json::Value) -> Option<Sections> {
    let object = value.get("korean_summary_sections")?.as_object()?;
    if object.len() != 3 {
        return None;
    }
    let text = |title: &str| object.get(title)?.as_str().map(str::to_string);
    Some(Sections {
        whats_new: text(Sections::TITLES[0])?,
        technical_details: text(Sections::TITLES[1])?,
        performance_highlights: text(Sections::TITLES[2])?,
    })
}

#[test]
fn real_korean_summaries_mostly_pass_and_malformed_ones_are_caught() {
    let Some(data) = shared_data() else { return };
    let path = data.join("korean_summaries/arxivbot_ko_pairs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let limits = crate::common::defaults().summarize.shape;
    let mut tally = Tally::default();
    let mut literals = 0;
    // Per summary: its lowest Hangul share and its shortest and longest section, for the sweep.
    let mut extremes: Vec<(f64, usize, usize)> = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(sections) = sections_of(&value) else {
            continue;
        };
        let reasons = check_sections(&sections, &limits);
        let texts = sections.iter().into_iter().map(|(_, text)| text.trim());
        extremes.push((
            texts.clone().map(hangul_share).fold(1.0, f64::min),
            texts.clone().map(|t| t.chars().count()).min().unwrap_or(0),
            texts.map(|t| t.chars().count()).max().unwrap_or(0),
        ));
        for reason in reasons.iter().filter(|r| r.check != "stray_json") {
            println!("  {}: {reason}", value["arxiv_id"]);
        }
        tally.add(&reasons);
        for (title, text) in sections.iter() {
            let about_this = |check: &str| {
                reasons
                    .iter()
                    .any(|r| r.check == check && r.message.contains(&format!("{title:?}")))
            };
            if looks_like_a_python_literal(text) {
                literals += 1;
                assert!(about_this("stray_json"), "not caught: {title}: {text}");
            }
            if text.trim_end().ends_with('(') {
                assert!(about_this("truncated"), "not caught: {title}: {text}");
            }
        }
    }
    tally.print("arxivbot_ko_pairs.jsonl (three standard sections)");
    println!("  dict/list-like sections found and caught: {literals}");
    let share_of = |flagged: usize| percent(flagged, extremes.len());
    for minimum in [0.1, 0.2, 0.25, 0.3, 0.4, 0.5] {
        let flagged = extremes.iter().filter(|e| e.0 < minimum).count();
        println!(
            "  min_hangul_share {minimum:.2} would flag {flagged} ({:.2}%)",
            share_of(flagged)
        );
    }
    for minimum in [20, 40, 60, 80] {
        let flagged = extremes.iter().filter(|e| e.1 < minimum).count();
        println!(
            "  min_section_chars {minimum} would flag {flagged} ({:.2}%)",
            share_of(flagged)
        );
    }
    for maximum in [600, 800, 1200] {
        let flagged = extremes.iter().filter(|e| e.2 > maximum).count();
        println!(
            "  max_section_chars {maximum} would flag {flagged} ({:.2}%)",
            share_of(flagged)
        );
    }
    assert_eq!(tally.summaries, 3283, "the data set changed");
    assert!(literals > 0);
    // Well-formed real summaries pass: the few flagged are English/Chinese answers,
    // dict-like strings and cut-off sections.
    assert!(percent(tally.flagged, tally.summaries) < 2.0);
}

#[test]
fn real_digests_parse_as_markdown_and_mostly_pass() {
    let Some(data) = shared_data() else { return };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data.join("digests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 5);
    let limits = crate::common::defaults().summarize.shape;
    let mut tally = Tally::default();
    for path in &paths {
        let digest = std::fs::read_to_string(path).unwrap();
        // Each paper's block starts with `### `; its sections are the `- **…**:` lines.
        for block in digest.split("\n### ").skip(1) {
            let section_lines: Vec<&str> = block
                .lines()
                .filter(|line| line.starts_with("- **"))
                .collect();
            let parsed = answer::parse(&section_lines.join("\n")).unwrap();
            assert_eq!(parsed.format, AnswerFormat::Markdown);
            assert_eq!(parsed.outside_text(), None);
            let reasons = check_sections(&parsed.sections, &limits);
            for reason in &reasons {
                println!(
                    "  {}: {}",
                    path.file_name().unwrap().to_string_lossy(),
                    reason
                );
            }
            let literal = parsed
                .sections
                .iter()
                .iter()
                .any(|(_, text)| looks_like_a_python_literal(text));
            assert_eq!(literal, reasons.iter().any(|r| r.check == "stray_json"));
            tally.add(&reasons);
        }
    }
    tally.print("digests/*.md");
    assert_eq!(tally.summaries, 64);
    assert!(tally.flagged <= 2);
}
