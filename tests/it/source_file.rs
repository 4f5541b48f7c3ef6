//! A saved response is recognised by content: HF JSON, arXiv Atom, or an error naming the file.

use std::path::{Path, PathBuf};

use paper_digest::source::{file, SourceError};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/source")
        .join(name)
}

fn ids(papers: &[paper_digest::paper::Paper]) -> Vec<&str> {
    papers.iter().map(|p| p.id.as_str()).collect()
}

#[test]
fn loads_hf_json_by_content() {
    let papers = file::load(&fixture("hf_daily_2024.json")).unwrap();
    assert_eq!(ids(&papers), ["2409.10001", "2409.10002"]);
    assert_eq!(papers[0].upvotes, Some(41));
}

#[test]
fn loads_arxiv_atom_by_content_whatever_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.json");
    let xml = std::fs::read_to_string(fixture("arxiv_2012_style.xml")).unwrap();
    // A byte-order mark and leading blank lines do not hide the format.
    std::fs::write(&path, format!("\u{feff}\n\n{xml}")).unwrap();
    let papers = file::load(&path).unwrap();
    assert_eq!(ids(&papers), ["hep-th/9901001", "1205.1001"]);
    assert_eq!(papers[0].upvotes, None);
}

#[test]
fn garbage_html_and_other_json_are_unknown_formats_naming_the_path() {
    for name in ["garbage.csv", "not_atom.html"] {
        let path = fixture(name);
        let err = file::load(&path).unwrap_err();
        assert_eq!(err, SourceError::UnknownFormat { path: path.clone() });
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [("object.json", r#"{"papers": []}"#), ("empty.txt", "  \n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        assert_eq!(
            file::load(&path).unwrap_err(),
            SourceError::UnknownFormat { path }
        );
    }
}

#[test]
fn truncated_files_are_malformed_naming_the_path() {
    for name in ["hf_daily_truncated.json", "arxiv_truncated.xml"] {
        let path = fixture(name);
        let err = file::load(&path).unwrap_err();
        assert!(
            matches!(&err, SourceError::Malformed { input, .. } if *input == path.display().to_string()),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn saved_error_answers_are_errors_not_empty_lists() {
    let err = file::load(&fixture("hf_error.json")).unwrap_err();
    assert!(err.to_string().contains("Hugging Face error body"), "{err}");
    let err = file::load(&fixture("arxiv_error.xml")).unwrap_err();
    assert!(matches!(err, SourceError::ArxivApi { .. }), "{err:?}");
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let path = fixture("does-not-exist.json");
    let err = file::load(&path).unwrap_err();
    assert!(
        matches!(&err, SourceError::Io { path: p, .. } if *p == path),
        "{err:?}"
    );
}

#[test]
fn non_utf8_bytes_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.json");
    std::fs::write(&path, b"[{\"paper\": {\"title\": \"caf\xe9\"}}]").unwrap();
    let err = file::load(&path).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}
