//! The model-answer parser and the shape check on arbitrary text: may reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

use paper_digest::checks::answer;
use paper_digest::checks::shape::{self, ShapeLimits};
use paper_digest::model::{ChatAnswer, FinishReason, Usage};
use paper_digest::paper::OutputMode;
use paper_digest::settings::Settings;

/// The shipped limits (`config/default.toml`), read once.
static LIMITS: LazyLock<ShapeLimits> = LazyLock::new(|| match Settings::defaults() {
    Ok(settings) => settings.summarize.shape,
    Err(error) => panic!("the built-in config is valid: {error}"),
});

fuzz_target!(|data: &[u8]| {
    // The first byte picks the finish reason and whether the text is a refusal.
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = answer::parse(text);
    let finish_reason = match selector % 4 {
        0 => FinishReason::Stop,
        1 => FinishReason::Length,
        2 => FinishReason::Missing,
        _ => FinishReason::Other(text.chars().take(8).collect()),
    };
    let refusal = selector & 0x80 != 0;
    let chat = ChatAnswer {
        content: (!refusal).then(|| text.to_string()),
        refusal: refusal.then(|| text.to_string()),
        finish_reason,
        usage: Usage {
            prompt_tokens: 0,
            completion_tokens: 0,
            estimated: true,
        },
        cost_usd: 0.0,
        mode: OutputMode::Plain,
        model: "fuzz".to_string(),
        http_attempts: 1,
        retries_429: 0,
    };
    if let Ok(sections) = shape::check(&chat, &LIMITS) {
        // An accepted answer has three non-empty sections.
        assert!(sections
            .iter()
            .iter()
            .all(|(_, text)| !text.trim().is_empty()));
    }
});
