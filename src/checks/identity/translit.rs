//! Hangul spellings of Latin names and terms that the mined loanword table does not know (`라마` for
//! Llama, `아야` for Aya, `트랜스포머` for Transformer): both sides are reduced to what Korean
//! loanword spelling keeps of an English word, and compared.
//!
//! Two keys, each exact (no edit distance: near misses between unrelated words are too common):
//! - the consonant skeleton: consonants by sound class (`l`/`r` → L, `f`/`p`/`b`/`v` → P, ...), an
//!   English `r` after a vowel dropped (Korean loanwords follow non-rhotic speech: former → 포머),
//!   vowels and Korean's silent `ㅇ` dropped. Only skeletons of five or more consonants are used:
//!   with four, one swapped arxivbot pair in four credited a word (`simple`, `Notably`, `finding`
//!   met ordinary Korean words); with five, one in 28, mostly loanwords both papers use;
//! - the plain spelling of short names, doubled letters collapsed (`llama` → `lama` = 라마), for
//!   names of three to five letters whose skeleton is too short.
//!
//! Matching runs one way only: a title or abstract word found written in Hangul in the summary. It
//! adds to what the summary is credited with saying, never to what it claims.

use std::collections::{HashMap, HashSet};

/// Skeletons shorter than this match ordinary Korean words by chance.
const MIN_SKELETON: usize = 5;
/// Plain spellings are compared for names this long (shorter ones are mostly chance).
const SPELLING_LEN: std::ops::RangeInclusive<usize> = 3..=5;
/// A particle or ending after a name is at most this many syllables (`를`, `에서`, `으로는`).
const MAX_SUFFIX_SYLLABLES: usize = 3;

const SYLLABLE_BASE: u32 = 0xAC00;
const SYLLABLE_LAST: u32 = 0xD7A3;

/// Initial consonants in Unicode order, as sound classes (`ㅇ` is silent).
const INITIAL_CLASS: [&str; 19] = [
    "K", "K", "N", "T", "T", "L", "M", "P", "P", "S", "S", "", "J", "J", "J", "K", "T", "P", "H",
];
/// Final consonants in Unicode order (index 0: none). Final `ㅅ` is written for English `t`
/// (로봇), final `ㅇ` for `ng` (러닝).
const FINAL_CLASS: [&str; 28] = [
    "", "K", "K", "K", "N", "N", "N", "T", "L", "K", "M", "P", "L", "T", "P", "L", "M", "P", "P",
    "T", "T", "N", "T", "T", "K", "T", "P", "T",
];
/// Initials and vowels as plain Latin, for short names (Revised Romanization, loanword-leaning).
const INITIAL_SPELLING: [&str; 19] = [
    "g", "k", "n", "d", "t", "l", "m", "b", "p", "s", "s", "", "j", "j", "ch", "k", "t", "p", "h",
];
const VOWEL_SPELLING: [&str; 21] = [
    "a", "a", "ya", "ya", "eo", "e", "yeo", "ye", "o", "wa", "wa", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "", "ui", "i",
];
const FINAL_SPELLING: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "p", "l", "t", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
];

/// The Hangul words of a summary, looked up against Latin words on demand (a summary is compared with
/// a few dozen source words, so their keys are computed rather than every Hangul prefix's).
#[derive(Debug, Clone, Default)]
pub(crate) struct HangulKeys {
    /// Words of two syllables or more.
    words: Vec<Vec<char>>,
}

impl HangulKeys {
    pub fn new(text: &str) -> Self {
        let words = text
            .split(|c: char| !is_syllable(c))
            .map(|w| w.chars().collect::<Vec<char>>())
            .filter(|w| w.len() >= 2)
            .collect();
        HangulKeys { words }
    }

    /// Whether the summary writes the Latin `word` in Hangul.
    pub fn writes(&self, word: &str) -> bool {
        !self.written([word]).is_empty()
    }

    /// The Latin words (of `latin`) the summary writes in Hangul: a word or the word less a particle
    /// or ending (`라마와` → `라마`) has the same key.
    pub fn written<'a>(&self, latin: impl IntoIterator<Item = &'a str>) -> HashSet<&'a str> {
        let mut by_skeleton: HashMap<String, Vec<&str>> = HashMap::new();
        let mut by_spelling: HashMap<String, Vec<&str>> = HashMap::new();
        for word in latin {
            if !word.bytes().all(|b| b.is_ascii_alphabetic()) {
                continue;
            }
            let lower = word.to_ascii_lowercase();
            let skeleton = latin_skeleton(&lower);
            if skeleton.len() >= MIN_SKELETON {
                by_skeleton.entry(skeleton).or_default().push(word);
            }
            let spelling = collapse_doubles(&lower);
            if SPELLING_LEN.contains(&spelling.len()) {
                by_spelling.entry(spelling).or_default().push(word);
            }
        }
        let mut found = HashSet::new();
        if by_skeleton.is_empty() && by_spelling.is_empty() {
            return found;
        }
        let mut key = String::new();
        for syllables in &self.words {
            let shortest = syllables.len().saturating_sub(MAX_SUFFIX_SYLLABLES).max(2);
            for len in shortest..=syllables.len() {
                let stem = &syllables[..len];
                if !by_skeleton.is_empty() {
                    hangul_skeleton(stem, &mut key);
                    if let Some(words) = by_skeleton.get(key.as_str()) {
                        found.extend(words.iter().copied());
                    }
                }
                if !by_spelling.is_empty() {
                    hangul_spelling(stem, &mut key);
                    if let Some(words) = by_spelling.get(key.as_str()) {
                        found.extend(words.iter().copied());
                    }
                }
            }
        }
        found
    }
}

/// A precomposed Hangul syllable (가..힣).
pub(crate) fn is_syllable(c: char) -> bool {
    (SYLLABLE_BASE..=SYLLABLE_LAST).contains(&(c as u32))
}

/// (initial, vowel, final) indices of a precomposed syllable.
fn jamo(c: char) -> Option<(usize, usize, usize)> {
    let offset = (c as u32).checked_sub(SYLLABLE_BASE)?;
    if offset > SYLLABLE_LAST - SYLLABLE_BASE {
        return None;
    }
    let offset = offset as usize;
    Some((offset / (21 * 28), (offset / 28) % 21, offset % 28))
}

/// The skeleton of `syllables`, written into `out` (reused between calls).
fn hangul_skeleton(syllables: &[char], out: &mut String) {
    out.clear();
    for (initial, _, last) in syllables.iter().filter_map(|c| jamo(*c)) {
        push_class(out, INITIAL_CLASS[initial]);
        push_class(out, FINAL_CLASS[last]);
    }
}

/// The plain spelling of `syllables`, doubled letters collapsed, written into `out`.
fn hangul_spelling(syllables: &[char], out: &mut String) {
    out.clear();
    for (initial, vowel, last) in syllables.iter().filter_map(|c| jamo(*c)) {
        for part in [
            INITIAL_SPELLING[initial],
            VOWEL_SPELLING[vowel],
            FINAL_SPELLING[last],
        ] {
            for c in part.chars() {
                if !out.ends_with(c) {
                    out.push(c);
                }
            }
        }
    }
}

/// Appends a sound class unless it repeats the last one (Korean writes `ss`, `ll` once or twice).
fn push_class(out: &mut String, class: &str) {
    if !class.is_empty() && !out.ends_with(class) {
        out.push_str(class);
    }
}

fn collapse_doubles(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// The consonant sound classes of an English word as Korean loanword spelling renders them.
fn latin_skeleton(word: &str) -> String {
    let b = word.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = at(i + 1);
        let (class, used) = match (c, next) {
            (b'p', Some(b'h')) => ("P", 2),
            (b't', Some(b'h')) => ("T", 2),
            (b's', Some(b'h')) | (b'c', Some(b'h')) => ("S", 2),
            (b'c', Some(b'k')) => ("K", 2),
            // `-sion`, `-sia` → 전, 지아; `-tion` → 션.
            (b's', Some(b'i')) if at(i + 2).is_some_and(is_vowel) && i > 0 => ("J", 1),
            (b't', Some(b'i')) if at(i + 2).is_some_and(is_vowel) && i > 0 => ("S", 1),
            (b'n', Some(b'g')) if at(i + 2).is_none_or(|n| !is_vowel(n)) => ("N", 2),
            (b'q', Some(b'u')) => ("K", 2),
            (b'x', _) => ("KS", 1),
            (b'c', Some(b'e' | b'i' | b'y')) => ("S", 1),
            (b'c' | b'k' | b'g', _) => ("K", 1),
            (b'j' | b'z', _) => ("J", 1),
            (b'f' | b'p' | b'b' | b'v', _) => ("P", 1),
            (b't' | b'd', _) => ("T", 1),
            (b's', _) => ("S", 1),
            (b'm', _) => ("M", 1),
            (b'n', _) => ("N", 1),
            (b'l', _) => ("L", 1),
            // Spoken only before a vowel (non-rhotic loanwords: former → 포머).
            (b'r', _) if i > 0 && is_vowel(b[i - 1]) && next.is_none_or(|n| !is_vowel(n)) => {
                ("", 1)
            }
            (b'r', _) => ("L", 1),
            (b'h', _) if i == 0 => ("H", 1),
            _ => ("", 1),
        };
        for part in class.as_bytes().chunks(1) {
            push_class(&mut out, std::str::from_utf8(part).unwrap_or_default());
        }
        i += used;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loanword_spellings_meet_their_english_words() {
        let keys =
            HangulKeys::new("트랜스포머를 쓰고 라마와 아야는 세그멘테이션 모델이며 프롬프팅으로");
        for word in ["Transformer", "Llama", "Aya", "segmentation", "prompting"] {
            assert!(keys.writes(word), "{word}: {keys:?}");
        }
    }

    #[test]
    fn short_skeletons_are_not_trusted() {
        // 디퓨전 is diffusion, but a four-consonant skeleton also fits ordinary Korean words.
        assert!(!HangulKeys::new("디퓨전").writes("diffusion"));
    }

    #[test]
    fn unrelated_words_do_not_meet() {
        let keys = HangulKeys::new("새로운 모델은 결과를 크게 개선했습니다");
        for word in ["Transformer", "Llama", "retrieval", "segmentation", "GPT"] {
            assert!(!keys.writes(word), "{word}");
        }
    }

    #[test]
    fn skeletons_follow_loanword_spelling() {
        let mut key = String::new();
        assert_eq!(latin_skeleton("transformer"), "TLNSPM");
        hangul_skeleton(&"트랜스포머".chars().collect::<Vec<_>>(), &mut key);
        assert_eq!(key, "TLNSPM");
        assert_eq!(latin_skeleton("learning"), "LN");
        hangul_spelling(&"라마".chars().collect::<Vec<_>>(), &mut key);
        assert_eq!(key, "lama");
    }
}
