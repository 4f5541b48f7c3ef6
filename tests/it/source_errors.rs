//! The message of every source error kind, as users read it.

use std::path::PathBuf;

use chrono::NaiveDate;
use paper_digest::source::SourceError;

#[test]
fn every_error_kind_names_its_input_and_the_problem() {
    let errors = [
        SourceError::Unreachable {
            url: "http://export.arxiv.org/api/query?id_list=2409.17481".into(),
            message: "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)".into(),
        },
        SourceError::Http {
            url: "https://huggingface.co/api/daily_papers?date=2024-09-23&limit=100&p=0".into(),
            status: 503,
            message: "<html> <h1>Service Unavailable</h1></html>".into(),
        },
        SourceError::HfApi {
            date: NaiveDate::from_ymd_opt(2024, 9, 23).unwrap(),
            message: "Invalid value for parameter date".into(),
        },
        SourceError::ArxivApi {
            query: "http://export.arxiv.org/api/query?id_list=abc&start=0&max_results=1".into(),
            message: "incorrect id format for abc".into(),
        },
        SourceError::Malformed {
            input: "saved/2024-09-23.json".into(),
            message: "invalid JSON: EOF while parsing a list at line 40 column 0".into(),
        },
        SourceError::Io {
            path: PathBuf::from("saved/missing.json"),
            message: "No such file or directory (os error 2)".into(),
        },
        SourceError::UnknownFormat {
            path: PathBuf::from("saved/notes.csv"),
        },
        SourceError::BadBaseUrl {
            url: "mailto:someone@example.org".into(),
            message: "the URL cannot have a path".into(),
        },
    ];
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(rendered.join("\n"));
    let unreachable: Vec<bool> = errors.iter().map(SourceError::is_unreachable).collect();
    assert_eq!(
        unreachable,
        [true, false, false, false, false, false, false, false]
    );
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/source/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn parse_errors_from_real_shaped_inputs_read_well() {
    use paper_digest::source::{arxiv, hf};
    let errors = [
        hf::parse(&fixture("hf_daily_truncated.json"), "saved/truncated.json").unwrap_err(),
        hf::parse(&fixture("hf_error.json"), "saved/error.json").unwrap_err(),
        hf::parse(r#"[{"paper": {"title": "No ID"}}]"#, "saved/no-id.json").unwrap_err(),
        arxiv::parse(&fixture("arxiv_truncated.xml"), "saved/truncated.xml").unwrap_err(),
        arxiv::parse(&fixture("arxiv_error.xml"), "saved/error.xml").unwrap_err(),
        arxiv::parse(
            "<html><body>Bad Gateway</body></html>",
            "saved/gateway.html",
        )
        .unwrap_err(),
        arxiv::parse("<feed><entry></feed>", "saved/no-namespace.xml").unwrap_err(),
        arxiv::parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>"#,
            "saved/mismatched.xml",
        )
        .unwrap_err(),
        arxiv::parse("", "saved/empty.xml").unwrap_err(),
    ];
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(rendered.join("\n"));
}
