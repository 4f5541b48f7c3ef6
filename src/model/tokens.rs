//! Token counting with the `o200k_base` encoding, and trimming text to a token budget.
//!
//! The count is exact for OpenAI's current models and a close estimate for other servers, which is
//! all the budget, rate limits and missing-`usage` estimates need.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::prompt::ChatMessage;

/// Tokens OpenAI adds around each chat message (role and separators), and for priming the reply.
const PER_MESSAGE_OVERHEAD: usize = 3;
const REPLY_PRIMING: usize = 3;

fn encoder() -> Option<&'static CoreBPE> {
    static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();
    // The ranks are compiled into tiktoken-rs, so this only fails if that crate is broken; the
    // byte-based estimate in `count` keeps the run going in that case.
    ENCODER
        .get_or_init(|| tiktoken_rs::o200k_base().ok())
        .as_ref()
}

/// Number of tokens in `text`.
pub fn count(text: &str) -> usize {
    match encoder() {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        None => text.len().div_ceil(4),
    }
}

/// Tokens a chat prompt made of `messages` costs, message framing included.
pub fn count_messages(messages: &[ChatMessage]) -> usize {
    messages
        .iter()
        .map(|m| count(&m.content) + PER_MESSAGE_OVERHEAD)
        .sum::<usize>()
        + REPLY_PRIMING
}

/// Result of [`trim_to_budget`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub text: String,
    pub trimmed: bool,
    pub original_tokens: usize,
    pub kept_tokens: usize,
}

/// `text` cut to at most `max_tokens` tokens: at the last sentence end that fits, else at the last
/// word boundary that fits (never mid-word; empty if not even the first word fits).
pub fn trim_to_budget(text: &str, max_tokens: usize) -> Trimmed {
    let original_tokens = count(text);
    if original_tokens <= max_tokens {
        return Trimmed {
            text: text.to_string(),
            trimmed: false,
            original_tokens,
            kept_tokens: original_tokens,
        };
    }
    let kept = longest_fitting(text, &sentence_ends(text), max_tokens)
        .or_else(|| longest_fitting(text, &word_ends(text), max_tokens))
        .unwrap_or("");
    Trimmed {
        text: kept.to_string(),
        trimmed: true,
        original_tokens,
        kept_tokens: count(kept),
    }
}

/// The longest `text[..end]` over the candidate `ends` (ascending) whose token count fits.
fn longest_fitting<'t>(text: &'t str, ends: &[usize], max_tokens: usize) -> Option<&'t str> {
    let prefix = |end: &usize| text.get(..*end).map(str::trim_end);
    let fits = |end: &usize| prefix(end).is_some_and(|p| count(p) <= max_tokens);
    // Token counts (almost always) grow with the prefix, so a binary search finds the boundary in
    // O(log n) counts; the walk back covers the rare prefix that BPE merges make shorter.
    let upper = ends.partition_point(fits);
    ends.get(..upper)?
        .iter()
        .rev()
        .find(|end| fits(end))
        .and_then(prefix)
        .filter(|kept| !kept.is_empty())
}

/// Byte offsets just after sentence-ending punctuation followed by whitespace or the end.
fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends_sentence = matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
        let followed_by_space = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        if ends_sentence && followed_by_space {
            ends.push(i + c.len_utf8());
        }
    }
    ends
}

/// Byte offsets where a word ends (just before whitespace, or the end of the text).
fn word_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut previous_was_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() && previous_was_word {
            ends.push(i);
        }
        previous_was_word = !c.is_whitespace();
    }
    if previous_was_word {
        ends.push(text.len());
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Role;
    use proptest::prelude::*;

    const ABSTRACT: &str = "We present a new method for image generation. It needs no tuning! \
        Experiments show strong results on three benchmarks. Code is released.";

    #[test]
    fn counts_known_text() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
    }

    #[test]
    fn message_count_includes_framing() {
        let messages = [
            ChatMessage::new(Role::System, "hello world"),
            ChatMessage::new(Role::User, "hello world"),
        ];
        assert_eq!(count_messages(&messages), 2 * (2 + 3) + 3);
    }

    #[test]
    fn text_within_budget_is_untouched() {
        let out = trim_to_budget(ABSTRACT, 1_000);
        assert!(!out.trimmed);
        assert_eq!(out.text, ABSTRACT);
        assert_eq!(out.kept_tokens, out.original_tokens);
    }

    #[test]
    fn trims_at_the_last_sentence_that_fits() {
        let two_sentences = "We present a new method for image generation. It needs no tuning!";
        let budget = count(two_sentences) + 2;
        let out = trim_to_budget(ABSTRACT, budget);
        assert!(out.trimmed);
        assert_eq!(out.text, two_sentences);
        assert_eq!(out.kept_tokens, count(two_sentences));
        assert_eq!(out.original_tokens, count(ABSTRACT));
    }

    #[test]
    fn falls_back_to_a_word_boundary_when_no_sentence_fits() {
        let out = trim_to_budget(ABSTRACT, 4);
        assert!(out.trimmed);
        assert!(ABSTRACT.starts_with(&out.text), "{:?}", out.text);
        assert!(!out.text.is_empty());
        let next = &ABSTRACT[out.text.len()..];
        assert!(next.starts_with(' '), "cut mid-word: {:?}", out.text);
        assert!(out.kept_tokens <= 4);
    }

    #[test]
    fn a_single_overlong_word_is_dropped_not_cut() {
        let out = trim_to_budget("Pneumonoultramicroscopicsilicovolcanoconiosis", 1);
        assert!(out.trimmed);
        assert_eq!(out.text, "");
        assert_eq!(out.kept_tokens, 0);
    }

    #[test]
    fn korean_text_is_cut_at_a_sentence_end() {
        let text = "이 논문은 새로운 방법을 제안한다. 실험 결과가 좋다. 코드를 공개한다.";
        let first = "이 논문은 새로운 방법을 제안한다.";
        let out = trim_to_budget(text, count(first));
        assert_eq!(out.text, first);
    }

    proptest! {
        #[test]
        fn trimmed_text_fits_and_is_a_word_aligned_prefix(
            words in proptest::collection::vec("[a-zA-Z가-힣0-9]{1,12}[.!?]?", 0..40),
            budget in 0usize..60,
        ) {
            let text = words.join(" ");
            let out = trim_to_budget(&text, budget);
            if out.trimmed {
                prop_assert!(out.kept_tokens <= budget);
            } else {
                prop_assert_eq!(&out.text, &text);
            }
            prop_assert!(text.starts_with(&out.text));
            let rest = &text[out.text.len()..];
            prop_assert!(out.text.is_empty() || rest.is_empty() || rest.starts_with(' '));
            prop_assert_eq!(out.trimmed, out.original_tokens > budget);
        }
    }
}
