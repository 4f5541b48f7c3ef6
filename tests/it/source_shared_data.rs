//! Parses every real captured response under the shared data folder and checks the counts its
//! INDEX.json files give. Skips (with a printed reason) when the folder is absent.

use std::path::{Path, PathBuf};

use paper_digest::source::{arxiv, hf, SourceError};
use serde_json::Value;

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPER_DIGEST_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: shared data folder {} is absent", dir.display());
        None
    }
}

fn index(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("INDEX.json")).unwrap();
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

fn index_entry<'a>(index: &'a [Value], file: &str) -> Option<&'a Value> {
    index.iter().find(|e| e["file"].as_str() == Some(file))
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter(|p| p.file_name().is_some_and(|n| n != "INDEX.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_hf_daily_papers_file_parses_with_the_indexed_ids() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("hf_daily_papers");
    let index = index(&dir);
    let mut files = sorted_files(&dir, "json");
    files.extend(sorted_files(&dir.join("newer_schema_sample"), "json"));
    assert!(
        files.len() >= 9,
        "expected the eight days and the newer sample"
    );
    for path in files {
        let body = std::fs::read_to_string(&path).unwrap();
        let papers = hf::parse(&body, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!papers.is_empty(), "{}", path.display());
        for paper in &papers {
            assert!(!paper.title.is_empty() && !paper.abstract_text.is_empty());
            assert!(!paper.authors.is_empty() && paper.upvotes.is_some());
            assert!(!paper.abstract_text.contains('\n'));
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let relative = path.strip_prefix(&dir).unwrap().to_str().unwrap();
        let Some(entry) = index_entry(&index, name).or(index_entry(&index, relative)) else {
            continue;
        };
        if let Some(ids) = entry["ids"].as_array() {
            let got: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
            let want: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
            assert_eq!(got, want, "{name}");
        }
        if let Some(n) = entry["n_papers"].as_u64() {
            assert_eq!(papers.len() as u64, n, "{name}");
        }
    }
}

#[test]
fn the_hf_error_sample_is_reported_as_an_error_body() {
    let Some(data) = shared_data() else { return };
    let path = data.join("hf_daily_papers/error_response_sample/deep-diver_papers.json");
    let body = std::fs::read_to_string(&path).unwrap();
    let err = hf::parse(&body, "sample").unwrap_err();
    assert!(matches!(err, SourceError::Malformed { .. }));
    assert!(err.to_string().contains("can't find the page"), "{err}");
}

#[test]
fn every_arxiv_api_file_parses_with_the_indexed_counts() {
    let Some(data) = shared_data() else { return };
    let root = data.join("arxiv_api");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut parsed_files = 0;
    for dir in dirs {
        let index = index(&dir);
        for path in sorted_files(&dir, "xml") {
            parsed_files += 1;
            let name = path.file_name().unwrap().to_str().unwrap();
            let entry = index_entry(&index, name);
            let xml = std::fs::read_to_string(&path).unwrap();
            let result = arxiv::parse(&xml, name);
            if entry.and_then(|e| e["http_status"].as_u64()) == Some(400) {
                let err = result.unwrap_err();
                assert!(matches!(err, SourceError::ArxivApi { .. }), "{name}: {err}");
                continue;
            }
            let feed = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let total = feed.total_results.expect("totalResults");
            for paper in &feed.papers {
                assert!(
                    !paper.title.is_empty() && !paper.abstract_text.is_empty(),
                    "{name}"
                );
                assert!(
                    !paper.authors.is_empty() && paper.primary_category.is_some(),
                    "{name}"
                );
                assert!(
                    paper.version.is_some() && paper.published.is_some(),
                    "{name}"
                );
                assert!(!paper.title.contains('\n') && !paper.abstract_text.contains('\n'));
            }
            if let Some(n) = entry.and_then(|e| e["entries"].as_u64()) {
                assert_eq!(feed.papers.len() as u64, n, "{name}");
            }
            if let Some(n) = entry.and_then(|e| e["totalResults"].as_u64()) {
                assert_eq!(total, n, "{name}");
            }
            if let Some(per_page) = max_results_of(entry) {
                // A page holds min(max_results, what is left of totalResults).
                let start = feed.start_index.unwrap_or(0);
                let expected = per_page.min(total.saturating_sub(start));
                assert_eq!(feed.papers.len() as u64, expected, "{name}");
            }
        }
    }
    assert!(parsed_files >= 25, "only {parsed_files} arXiv files found");
}

fn max_results_of(entry: Option<&Value>) -> Option<u64> {
    let url = entry?["request_url"].as_str()?;
    let value = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("max_results="))?;
    value.parse().ok()
}
