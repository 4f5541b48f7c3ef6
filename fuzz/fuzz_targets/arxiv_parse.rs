//! The arXiv Atom parser on arbitrary bytes: it may reject the input, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paper_digest::source::arxiv;

fuzz_target!(|data: &[u8]| {
    if let Ok(xml) = std::str::from_utf8(data) {
        if let Ok(feed) = arxiv::parse(xml, "fuzz") {
            // Parsed text comes from the input; it cannot be larger than it (no entity expansion).
            let text: usize = feed
                .papers
                .iter()
                .map(|p| p.title.len() + p.abstract_text.len())
                .sum();
            assert!(
                text <= xml.len(),
                "{text} bytes of text from {} bytes of XML",
                xml.len()
            );
        }
    }
});
