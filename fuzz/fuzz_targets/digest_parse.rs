//! The digest parser on arbitrary text (may reject, never panic), and the renderer on arbitrary
//! titles, authors and section text: whatever they contain, the digest parses back to one entry
//! with the same ID, authors and sections, and carries no raw HTML.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use paper_digest::paper::{ArxivId, Sections, Status};
use paper_digest::render::digest::{self, DigestEntry};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = digest::parse(text);

    let (Ok(id), Some(date)) = (
        "2409.00001".parse::<ArxivId>(),
        NaiveDate::from_ymd_opt(2024, 9, 23),
    ) else {
        return;
    };
    let entry = DigestEntry {
        id: id.clone(),
        title: text.to_string(),
        thumbnail: Some(text.to_string()),
        votes: Some(i64::try_from(text.len()).unwrap_or(0)),
        authors: vec![text.to_string()],
        status: Some(Status::Ok),
        sections: Some(Sections {
            whats_new: text.to_string(),
            technical_details: text.to_string(),
            performance_highlights: text.to_string(),
        }),
        reasons: Vec::new(),
    };
    let markdown = digest::render(date, &[entry], false);
    assert!(!markdown.contains('<'), "raw `<` in {markdown:?}");
    let parsed = match digest::parse(&markdown) {
        Ok(parsed) => parsed,
        Err(error) => panic!("rendered digest does not parse: {error}\n{markdown}"),
    };
    assert_eq!(parsed.date, date);
    let [only] = parsed.entries.as_slice() else {
        panic!("expected one entry, got {:?}\n{markdown}", parsed.entries);
    };
    assert_eq!(only.id, id);
    assert!(only.known_sections().is_some(), "{markdown}");
});
