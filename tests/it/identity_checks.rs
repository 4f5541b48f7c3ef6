//! Identity checks on a small dev set written for the project (eight invented papers with Korean
//! summaries composed for them, `tests/fixtures/identity/dev_pairs.jsonl`): true pairs, each summary
//! paired with the next paper's abstract, a generic invented summary, one with invented figures and
//! one with English sentences left in.

use std::io::BufReader;

use paper_digest::checks::identity::{
    check, evaluate, prepare, read_jsonl, IdentityReport, Label, LabelledPair, Summary, WrittenFrom,
};
use paper_digest::paper::{Paper, Sections};

const DEV_PAIRS: &str = include_str!("../fixtures/identity/dev_pairs.jsonl");

fn pairs() -> Vec<LabelledPair> {
    read_jsonl(BufReader::new(DEV_PAIRS.as_bytes()))
        .collect::<Result<_, _>>()
        .expect("dev pairs parse")
}

fn paper(pair: &LabelledPair) -> Paper {
    Paper {
        id: pair.arxiv_id.clone(),
        version: None,
        title: pair.title.clone(),
        authors: Vec::new(),
        abstract_text: pair.abstract_text.clone(),
        upvotes: None,
        thumbnail: None,
        published: None,
        updated: None,
        primary_category: None,
        categories: Vec::new(),
    }
}

fn sections(pair: &LabelledPair) -> Sections {
    match &pair.summary {
        Summary::Sections(sections) => sections.clone(),
        Summary::Text(text) => panic!("dev pairs carry sections, got text {text:?}"),
    }
}

/// The eight papers of the dev batch (from the true pairs that have a batch).
fn batch_papers() -> Vec<Paper> {
    pairs()
        .iter()
        .filter(|p| p.label == Label::Match && p.batch.is_some())
        .map(paper)
        .collect()
}

fn true_pair(id: &str) -> LabelledPair {
    pairs()
        .into_iter()
        .find(|p| p.label == Label::Match && p.batch.is_some() && p.arxiv_id.as_str() == id)
        .expect("dev pair present")
}

fn failed(report: &IdentityReport) -> Vec<String> {
    report.reasons().into_iter().map(|r| r.check).collect()
}

#[test]
fn correct_summaries_pass_every_identity_check() {
    let papers = batch_papers();
    assert_eq!(papers.len(), 8);
    let batch = prepare(&papers);
    for pair in pairs()
        .iter()
        .filter(|p| p.label == Label::Match && p.batch.is_some())
    {
        let report = batch.check(
            &sections(pair),
            &paper(pair),
            &crate::common::defaults().summarize.identity,
        );
        assert!(report.passed(), "{}: {:?}", pair.arxiv_id, report.reasons());
    }
}

#[test]
fn summary_of_another_paper_names_the_paper_it_describes() {
    let summary_of = true_pair("2501.00102");
    let shown_with = true_pair("2501.00103");
    let report = check(
        &sections(&summary_of),
        &paper(&shown_with),
        &batch_papers(),
        &crate::common::defaults().summarize.identity,
    );
    let contrast = report
        .reasons()
        .into_iter()
        .find(|r| r.check == "contrast")
        .expect("contrast flags the swap");
    insta::assert_snapshot!("swap_contrast_reason", contrast.message);
}

#[test]
fn summary_of_another_paper_is_flagged_even_when_its_paper_is_not_in_the_batch() {
    let summary_of = true_pair("2501.00104");
    let shown_with = true_pair("2501.00105");
    let report = check(
        &sections(&summary_of),
        &paper(&shown_with),
        &[paper(&shown_with)],
        &crate::common::defaults().summarize.identity,
    );
    assert_eq!(
        failed(&report),
        ["anchors", "support", "figures", "identity", "generic"]
    );
}

#[test]
fn generic_invented_summary_is_flagged_as_generic() {
    let pair = pairs()
        .into_iter()
        .find(|p| {
            p.label == Label::Mismatch && p.batch.is_none() && p.arxiv_id.as_str() == "2501.00101"
        })
        .expect("generic dev pair");
    let report = check(
        &sections(&pair),
        &paper(&pair),
        &batch_papers(),
        &crate::common::defaults().summarize.identity,
    );
    let reasons = report.reasons();
    let generic = reasons
        .iter()
        .find(|r| r.check == "generic")
        .expect("generic flag");
    insta::assert_snapshot!("generic_reason", generic.message);
    assert!(reasons.iter().any(|r| r.check == "identity"), "{reasons:?}");
}

#[test]
fn invented_figures_are_listed() {
    let pair = pairs()
        .into_iter()
        .find(|p| {
            p.label == Label::Mismatch && p.batch.is_none() && p.arxiv_id.as_str() == "2501.00102"
        })
        .expect("invented-figures dev pair");
    let report = check(
        &sections(&pair),
        &paper(&pair),
        &[],
        &crate::common::defaults().summarize.identity,
    );
    println!("{report:#?}");
    let figures = report
        .reasons()
        .into_iter()
        .find(|r| r.check == "figures")
        .expect("figures flag");
    insta::assert_snapshot!("invented_figures_reason", figures.message);
}

/// English left in the sections is the shape check's business (Hangul share), not identity's.
#[test]
fn english_left_in_passes_identity() {
    let pair = pairs()
        .into_iter()
        .find(|p| p.label == Label::Match && p.batch.is_none())
        .expect("english-left-in dev pair");
    let report = check(
        &sections(&pair),
        &paper(&pair),
        &batch_papers(),
        &crate::common::defaults().summarize.identity,
    );
    assert!(report.passed(), "{:?}", report.reasons());
}

#[test]
fn dev_set_is_separated_completely() {
    let report = evaluate(
        pairs().into_iter(),
        &crate::common::defaults().summarize.identity,
    );
    assert_eq!(
        (
            report.true_positives,
            report.false_negatives,
            report.true_negatives,
            report.false_positives
        ),
        (10, 0, 9, 0),
        "{report:?}"
    );
    assert_eq!(report.recall, 1.0);
    assert_eq!(report.false_positive_rate, 0.0);
}

#[test]
fn one_threshold_set_in_the_environment_leaves_the_others_at_their_defaults() {
    let env = paper_digest::settings::Env::from_pairs([(
        "PAPER_DIGEST_CHECKS__IDENTITY__MIN_ANCHOR_COVERAGE".to_string(),
        "0.2".to_string(),
    )]);
    let settings = paper_digest::settings::Settings::load(None, &env).unwrap();
    let identity = settings.summarize.identity;
    assert_eq!(identity.min_anchor_coverage, 0.2);
    assert_eq!(
        identity.contrast_margin,
        crate::common::defaults().summarize.identity.contrast_margin
    );
    let misspelt = paper_digest::settings::Env::from_pairs([(
        "PAPER_DIGEST_CHECKS__IDENTITY__MIN_ANCHOR_COVERAG".to_string(),
        "0.2".to_string(),
    )]);
    let err = paper_digest::settings::Settings::load(None, &misspelt).unwrap_err();
    assert!(err.to_string().contains("min_anchor_coverag"), "{err}");
}

#[test]
fn malformed_pair_line_is_reported_with_its_number() {
    let input = "\n{\"arxiv_id\":\"2501.00101\",\"title\":\"T\",\"abstract\":\"A\",\"summary\":\"요약\",\"label\":\"match\"}\n{\"arxiv_id\":\"nope\"}\n";
    let results: Vec<_> = read_jsonl(BufReader::new(input.as_bytes())).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.starts_with("labelled pairs line 3:"), "{err}");
}

/// Shaped like the invented entry of a published digest: a chemistry-GNN summary under a diffusion
/// paper's title, on a day of unrelated papers. It stays flagged, and no reason claims it describes
/// one of the day's other papers: it fits none of them.
#[test]
fn invented_entry_fits_none_of_the_days_papers() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/identity/invented_entry_day.json")).unwrap();
    let day: Vec<Paper> = fixture["day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Paper {
            id: p["id"].as_str().unwrap().parse().unwrap(),
            version: None,
            title: p["title"].as_str().unwrap().to_string(),
            authors: Vec::new(),
            abstract_text: p["abstract"].as_str().unwrap().to_string(),
            upvotes: None,
            thumbnail: None,
            published: None,
            updated: None,
            primary_category: None,
            categories: Vec::new(),
        })
        .collect();
    let entry = &fixture["entry"];
    let summary = &entry["summary"];
    let sections = Sections {
        whats_new: summary["whats_new"].as_str().unwrap().to_string(),
        technical_details: summary["technical_details"].as_str().unwrap().to_string(),
        performance_highlights: summary["performance_highlights"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    let paper = day
        .iter()
        .find(|p| p.id.as_str() == entry["arxiv_id"].as_str().unwrap())
        .unwrap();
    let batch = prepare(&day);
    for written_from in [WrittenFrom::Abstract, WrittenFrom::FullText] {
        let report = batch.check_written_from(
            &sections,
            paper,
            written_from,
            &crate::common::defaults().summarize.identity,
        );
        assert!(!report.passed(), "{written_from}: {report:#?}");
        for reason in report.reasons() {
            assert!(
                !reason.message.contains("describes 2409.2000"),
                "{written_from}: {reason:?}"
            );
        }
    }
    let report = batch.check_written_from(
        &sections,
        paper,
        WrittenFrom::FullText,
        &crate::common::defaults().summarize.identity,
    );
    let reasons: Vec<String> = report
        .reasons()
        .iter()
        .map(|r| format!("{}: {}", r.check, r.message))
        .collect();
    insta::assert_snapshot!("invented_entry_reasons", reasons.join("\n"));
}
