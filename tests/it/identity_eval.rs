//! Measures the identity checks on real data when the shared data folder is present (skips otherwise):
//! - a labelled set built on the fly from `korean_summaries/arxivbot_ko_pairs.jsonl`: each true pair,
//!   plus each summary paired with another paper's abstract from the same field as a mismatch;
//! - the five published digests against the matching Hugging Face daily-papers abstracts.
//!
//! Run with `cargo test --release --test identity_eval -- --nocapture` to see the figures.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use paper_digest::checks::identity::{
    evaluate_written_from, prepare, EvalReport, IdentitySettings, Label, LabelledPair, Summary,
    WrittenFrom,
};
use paper_digest::paper::{ArxivId, Paper, Sections};
use serde_json::Value;

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPER_DIGEST_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: shared data folder {} is absent", dir.display());
        None
    }
}

/// Defaults, or thresholds to try given as JSON in `IDENTITY_SETTINGS` (for tuning runs).
fn settings() -> IdentitySettings {
    match std::env::var("IDENTITY_SETTINGS") {
        Ok(json) => {
            serde_json::from_str(&json).expect("IDENTITY_SETTINGS is IdentitySettings JSON")
        }
        Err(_) => crate::common::defaults().summarize.identity,
    }
}

struct Row {
    id: ArxivId,
    title: String,
    abstract_text: String,
    summary: String,
    field: String,
    batch: String,
}

fn arxivbot_rows(dir: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("korean_summaries/arxivbot_ko_pairs.jsonl"))
        .expect("arxivbot pairs readable");
    text.lines()
        .filter_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            let id = v["arxiv_id"].as_str()?.parse().ok()?;
            let title = v["title_hf"]
                .as_str()
                .or(v["title_in_log"].as_str())?
                .to_string();
            let sections = v["korean_summary_sections"].as_object()?;
            let summary = sections
                .values()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n");
            let path = v["summary_source"]["path"].as_str()?.to_string();
            let path_category = path.rsplit('/').next()?.trim_end_matches(".md").to_string();
            let field = v["listing_category_section"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(path_category);
            Some(Row {
                id,
                title,
                abstract_text: v["abstract_en"].as_str()?.to_string(),
                summary,
                field,
                batch: path,
            })
        })
        .collect()
}

/// A fixed pseudo-random partner from the same field (deterministic, so figures are reproducible).
fn partner(index: usize, pool: &[usize]) -> Option<usize> {
    if pool.len() < 2 {
        return None;
    }
    let mut state = (index as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    loop {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = pool[(state >> 33) as usize % pool.len()];
        if pick != index {
            return Some(pick);
        }
    }
}

fn pair(summary_of: &Row, source: &Row, label: Label, batch: Option<&str>) -> LabelledPair {
    LabelledPair {
        arxiv_id: source.id.clone(),
        title: source.title.clone(),
        abstract_text: source.abstract_text.clone(),
        summary: Summary::Text(summary_of.summary.clone()),
        label,
        batch: batch.map(str::to_string),
    }
}

/// `with_batch`: the batch is the summary's own day+category (its real paper is usually in it).
fn labelled_set(rows: &[Row], with_batch: bool) -> Vec<LabelledPair> {
    let mut by_field: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        by_field.entry(&row.field).or_default().push(i);
    }
    let mut pairs = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let batch = with_batch.then_some(row.batch.as_str());
        pairs.push(pair(row, row, Label::Match, batch));
        if let Some(j) = partner(i, &by_field[row.field.as_str()]) {
            pairs.push(pair(row, &rows[j], Label::Mismatch, batch));
        }
    }
    pairs
}

fn print_report(name: &str, report: &EvalReport) {
    println!(
        "{name}: TP {} FN {} TN {} FP {} | recall {:.4} precision {:.4} FPR {:.4} | low-English FPR {:.4} ({} of {}) | {:.0} summaries/s",
        report.true_positives,
        report.false_negatives,
        report.true_negatives,
        report.false_positives,
        report.recall,
        report.precision,
        report.false_positive_rate,
        report.low_english_false_positive_rate,
        report.low_english_false_positives,
        report.low_english_matches,
        report.summaries_per_second,
    );
    println!(
        "  flags by check (matches, mismatches): {:?}",
        report.flags_by_check
    );
}

#[test]
fn arxivbot_swaps_are_caught_and_true_pairs_pass() {
    let Some(dir) = shared_data() else { return };
    let rows = arxivbot_rows(&dir);
    assert!(
        rows.len() > 3000,
        "expected the full arxivbot set, got {}",
        rows.len()
    );
    let settings = settings();

    // The bot wrote these summaries from the full papers.
    let full_text = WrittenFrom::FullText;
    let with_batch =
        evaluate_written_from(labelled_set(&rows, true).into_iter(), full_text, &settings);
    print_report("same-field swaps, batch = day+category", &with_batch);
    let alone = evaluate_written_from(labelled_set(&rows, false).into_iter(), full_text, &settings);
    print_report("same-field swaps, no batch (real paper absent)", &alone);
    if std::env::var_os("IDENTITY_EVAL_LIST").is_some() {
        for flagged in &with_batch.flagged_matches {
            println!(
                "FLAGGED TRUE {} {} :: {:?}",
                flagged.arxiv_id, flagged.title, flagged.reasons
            );
        }
    }
    // The targets, measured with the realistic batch.
    assert!(with_batch.recall >= 0.99, "recall {}", with_batch.recall);
    assert!(
        with_batch.false_positive_rate <= 0.02,
        "FPR {}",
        with_batch.false_positive_rate
    );
    assert!(
        with_batch.low_english_false_positive_rate <= 0.05,
        "low-English FPR {}",
        with_batch.low_english_false_positive_rate
    );
}

/// `### [Title](https://arxiv.org/abs/ID)` entries of a published digest with their three sections.
fn digest_entries(markdown: &str) -> Vec<(String, String, Sections)> {
    let mut out = Vec::new();
    for block in markdown.split("\n### [").skip(1) {
        let Some((title, rest)) = block.split_once("](https://arxiv.org/abs/") else {
            continue;
        };
        let Some((id, body)) = rest.split_once(')') else {
            continue;
        };
        let mut sections: BTreeMap<&str, String> = BTreeMap::new();
        for line in body.lines() {
            for name in Sections::TITLES {
                if let Some(text) = line.strip_prefix(&format!("- **{name}**:")) {
                    sections.insert(name, text.trim().to_string());
                }
            }
        }
        let get = |name: &str| sections.get(name).cloned().unwrap_or_default();
        out.push((
            id.to_string(),
            title.to_string(),
            Sections {
                whats_new: get("What's New"),
                technical_details: get("Technical Details"),
                performance_highlights: get("Performance Highlights"),
            },
        ));
    }
    out
}

fn hf_papers(path: &std::path::Path) -> Vec<Paper> {
    let text = std::fs::read_to_string(path).expect("HF daily papers readable");
    let list: Vec<Value> = serde_json::from_str(&text).expect("HF daily papers JSON");
    list.iter()
        .filter_map(|item| {
            let paper = &item["paper"];
            Some(Paper {
                id: paper["id"].as_str()?.parse().ok()?,
                version: None,
                title: paper["title"]
                    .as_str()?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                authors: Vec::new(),
                abstract_text: paper["summary"]
                    .as_str()?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                upvotes: None,
                thumbnail: None,
                published: None,
                updated: None,
                primary_category: None,
                categories: Vec::new(),
            })
        })
        .collect()
}

#[test]
fn published_digests_flags_are_listed() {
    let Some(dir) = shared_data() else { return };
    for written_from in [WrittenFrom::Abstract, WrittenFrom::FullText] {
        println!("summaries written from: {written_from}");
        list_digest_flags(&dir, written_from);
    }
}

fn list_digest_flags(dir: &std::path::Path, written_from: WrittenFrom) {
    let settings = settings();
    let mut digests: Vec<PathBuf> = std::fs::read_dir(dir.join("digests"))
        .expect("digests folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    digests.sort();
    let (mut checked, mut flagged, mut unmatched) = (0, 0, 0);
    for digest in digests {
        let name = digest
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Some(date) = name
            .strip_prefix("daily_papers_ko_")
            .and_then(|n| n.strip_suffix(".md"))
        else {
            continue;
        };
        let papers = hf_papers(&dir.join(format!("hf_daily_papers/{date}.json")));
        let batch = prepare(&papers);
        let markdown = std::fs::read_to_string(&digest).expect("digest readable");
        for (id, title, sections) in digest_entries(&markdown) {
            let Some(paper) = papers.iter().find(|p| p.id.as_str() == id) else {
                unmatched += 1;
                println!("{date} UNMATCHED {id} {title}");
                continue;
            };
            checked += 1;
            let report = batch.check_written_from(&sections, paper, written_from, &settings);
            if std::env::var_os("IDENTITY_EVAL_LIST").is_some() {
                let anchors = report.verdicts.iter().find(|v| v.check == "anchors");
                println!(
                    "{date} {id} anchors {:.2}",
                    anchors.map_or(0.0, |v| v.score)
                );
            }
            if !report.passed() {
                flagged += 1;
                println!("{date} FLAGGED {id} {title}");
                for reason in report.reasons() {
                    println!("    [{}] {}", reason.check, reason.message);
                }
            }
        }
    }
    println!("digests: {checked} checked, {flagged} flagged, {unmatched} unmatched");
    assert!(checked > 0, "no digest entry matched an HF abstract");
}

/// The arxivbot set as `bench/arxivbot_pairs.py` writes it, printed as `eval-checks` prints it (hard
/// negatives included), in both modes; the targets hold for what the summaries were written
/// from (full texts). From the abstract, their body figures flag on their own, as they must for our
/// own runs.
#[test]
fn arxivbot_hard_negatives_are_caught() {
    let Some(dir) = shared_data() else { return };
    let rows = arxivbot_rows(&dir);
    let show_errors = std::env::var_os("IDENTITY_EVAL_LIST").is_some();
    let abstract_mode = evaluate_written_from(
        labelled_set(&rows, true).into_iter(),
        WrittenFrom::Abstract,
        &settings(),
    );
    println!("{}", abstract_mode.to_text(show_errors));
    let report = evaluate_written_from(
        labelled_set(&rows, true).into_iter(),
        WrittenFrom::FullText,
        &settings(),
    );
    println!("{}", report.to_text(show_errors));
    assert!(report.nearest_neighbour.negatives > 3000, "{report:?}");
    assert!(report.paper_absent.negatives > 3000, "{report:?}");
    assert!(
        report.nearest_neighbour.recall >= 0.97,
        "{}",
        report.nearest_neighbour.recall
    );
    assert!(
        report.false_positive_rate <= 0.015,
        "{}",
        report.false_positive_rate
    );
    assert!(report.recall >= 0.999, "{}", report.recall);
    assert!(
        report.paper_absent.recall >= 0.99,
        "{}",
        report.paper_absent.recall
    );
}
