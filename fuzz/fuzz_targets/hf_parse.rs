//! The Hugging Face daily-papers JSON parser on arbitrary bytes: may reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paper_digest::source::hf;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = hf::parse(body, "fuzz");
    }
});
