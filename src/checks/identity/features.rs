//! What the identity checks compare: terms, figures and the work's name, extracted the same way from
//! an English title + abstract and from a Korean summary, so they meet on common keys.
//!
//! Keys are lower-cased English stems (plural stripped, cut to [`STEM_LEN`] characters, so
//! `Transformers`, `transformer` and `transformer-based` meet). Hangul words are mapped to English keys
//! through a loanword/translation table mined from published Korean summaries, where the English term
//! is usually given in parentheses (`디퓨전 프로세스(diffusion process)`); this is what lets summaries
//! that write names in Hangul (트랜스포머, 디퓨전) still be matched against an English abstract.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::translit::{is_syllable, HangulKeys};

/// Stems are cut to this many characters: a cheap stemmer that makes `generation`, `generative` and
/// `generate` meet, at the price of a few harmless collisions.
const STEM_LEN: usize = 7;

/// A term found in almost no abstract weighs this much; common ones weigh less (inverse document frequency).
pub(crate) const MAX_WEIGHT: f64 = 6.0;

/// Smoothing added to the summary's total term weight so a summary with two terms is not 100% supported.
const COVERAGE_PRIOR: f64 = 3.0;

/// Document frequencies in the reference corpus are given per this many abstracts.
const CORPUS_DOCS: f64 = 10_000.0;

/// Function words and words every abstract uses: they say nothing about which paper it is.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "by", "from", "as", "at",
    "is", "are", "was", "were", "be", "been", "this", "that", "these", "those", "we", "our", "it",
    "its", "their", "which", "such", "via", "into", "than", "then", "also", "can", "may", "not",
    "but", "both", "each", "more", "most", "other", "over", "under", "between", "through", "while",
    "when", "where", "how", "what", "who", "all", "any", "new", "based", "using", "use", "used",
    "show", "shows", "shown", "paper", "propose", "proposed", "approach", "method", "methods",
    "model", "models", "result", "results", "vs", "et", "al", "eg", "ie", "etc",
];

static STOP: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOPWORDS.iter().copied().collect());

/// `stem \t documents per 10,000` for stems common in CS abstracts; anything unlisted is rare.
static COMMON_TERMS: LazyLock<HashMap<&'static str, f64>> = LazyLock::new(|| {
    table_rows(include_str!("common_terms.tsv"))
        .filter_map(|(stem, df)| Some((stem, df.parse::<f64>().ok()?)))
        .collect()
});

/// `Hangul word \t English term`; the Hangul side is matched as a prefix (particles follow it).
static LOANWORDS: LazyLock<HashMap<&'static str, Vec<String>>> = LazyLock::new(|| {
    table_rows(include_str!("loanwords.tsv"))
        .map(|(hangul, english)| (hangul, english_keys(english).terms.into_keys().collect()))
        .collect()
});

/// The longest Hangul key in the table, in characters, so prefix lookups stop early.
static LONGEST_LOANWORD: LazyLock<usize> = LazyLock::new(|| {
    LOANWORDS
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
});

fn table_rows(text: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
}

/// How much finding this key says about identity: rare terms a lot, common ones little.
pub(crate) fn weight(key: &str) -> f64 {
    match COMMON_TERMS.get(key) {
        Some(df) => ((CORPUS_DOCS + 1.0) / (df + 1.0)).ln().min(MAX_WEIGHT),
        None => MAX_WEIGHT,
    }
}

/// `Transformers` → `transfo`; `studies` → `study`; `boxes` → `box`.
pub(crate) fn stem(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let singular = if lower.len() > 4 && lower.ends_with("ies") {
        format!("{}y", &lower[..lower.len() - 3])
    } else if lower.len() > 4
        && ["sses", "xes", "ches", "shes"]
            .iter()
            .any(|end| lower.ends_with(end))
    {
        lower[..lower.len() - 2].to_string()
    } else if lower.len() > 3
        && lower.ends_with('s')
        && !lower.ends_with("ss")
        && !lower.ends_with("us")
    {
        lower[..lower.len() - 1].to_string()
    } else {
        lower
    };
    singular.chars().take(STEM_LEN).collect()
}

/// `1,084` → `1084`, `66%` → `66`, `10.40` → `10.4`: the same figure however it is written.
pub(crate) fn normalize_number(raw: &str) -> String {
    let plain: String = raw
        .trim_end_matches('%')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if plain.contains('.') {
        plain
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        plain
    }
}

/// A figure worth checking: small integers (`3 stages`, `GPT-4`) are too common to identify anything.
fn is_figure(normalized: &str) -> bool {
    normalized.contains('.') || normalized.len() >= 2
}

/// Terms (key → the surface form first seen) and figures of one text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Extracted {
    pub terms: HashMap<String, String>,
    pub figures: HashMap<String, String>,
    /// Distinct English words written in Latin script (for the "little English" subset).
    pub english_words: usize,
}

/// A maximal run of ASCII letters/digits joined by single `.`, `,` or `-`, with an optional `%`.
fn latin_tokens(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() && !bytes[pos].is_ascii_alphanumeric() {
            pos += 1;
        }
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        loop {
            while pos < bytes.len() && bytes[pos].is_ascii_alphanumeric() {
                pos += 1;
            }
            let joins = pos + 1 < bytes.len()
                && matches!(bytes[pos], b'.' | b',' | b'-')
                && bytes[pos + 1].is_ascii_alphanumeric();
            if !joins {
                break;
            }
            pos += 1;
        }
        if pos < bytes.len() && bytes[pos] == b'%' {
            pos += 1;
        }
        // Only ASCII bytes were consumed, so both ends are char boundaries.
        text.get(start..pos)
    })
}

fn is_numeric(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'%'))
}

/// What one pass over English text reports, token by token.
trait Sink {
    fn figure(&mut self, raw: &str);
    /// Every non-numeric part of a token (`Transformer` and `based` in `Transformer-based`).
    fn part(&mut self, part: &str);
    /// A part, or the joined parts of a hyphenated token, that may be a term (stopwords included).
    fn term(&mut self, part: &str, token: &str);
}

/// Splits text into figures, parts and candidate terms, the same way for sources and summaries.
fn scan(text: &str, sink: &mut impl Sink) {
    for token in latin_tokens(text) {
        if is_numeric(token) {
            sink.figure(token);
            continue;
        }
        let bare = token.trim_end_matches('%');
        let parts: Vec<&str> = bare.split(['.', ',', '-']).collect();
        for part in &parts {
            if part.bytes().all(|b| b.is_ascii_digit()) {
                sink.figure(part);
            } else {
                sink.part(part);
                sink.term(part, token);
            }
        }
        if parts.len() > 1 {
            sink.term(&parts.concat(), token);
        }
    }
}

/// The key a term part makes, or `None` for a stopword or a single letter.
fn term_key(part: &str) -> Option<String> {
    (part.len() >= 2 && !STOP.contains(part.to_ascii_lowercase().as_str())).then(|| stem(part))
}

/// Keys and figures of English text (also used for the Latin-script part of a summary).
pub(crate) fn english_keys(text: &str) -> Extracted {
    let mut out = ExtractedSink::default();
    scan(text, &mut out);
    out.extracted.english_words = out.words.len();
    out.extracted
}

#[derive(Default)]
struct ExtractedSink {
    extracted: Extracted,
    words: HashSet<String>,
}

impl Sink for ExtractedSink {
    fn figure(&mut self, raw: &str) {
        if let Some(normalized) = figure_key(raw) {
            self.extracted
                .figures
                .entry(normalized)
                .or_insert_with(|| raw.to_string());
        }
    }

    fn part(&mut self, part: &str) {
        if part.bytes().any(|b| b.is_ascii_alphabetic()) && part.len() >= 2 {
            self.words.insert(part.to_ascii_lowercase());
        }
    }

    fn term(&mut self, part: &str, token: &str) {
        if let Some(key) = term_key(part) {
            self.extracted
                .terms
                .entry(key)
                .or_insert_with(|| token.to_string());
        }
    }
}

fn figure_key(raw: &str) -> Option<String> {
    let normalized = normalize_number(raw);
    is_figure(&normalized).then_some(normalized)
}

#[derive(Default)]
struct TermsSink(HashSet<String>);

impl Sink for TermsSink {
    fn figure(&mut self, _raw: &str) {}

    fn part(&mut self, _part: &str) {}

    fn term(&mut self, part: &str, _token: &str) {
        if let Some(key) = term_key(part) {
            self.0.insert(key);
        }
    }
}

/// What a source's text offers, gathered in one pass (no surface forms: a source is only looked up).
#[derive(Default)]
struct SourceSink {
    terms: HashSet<String>,
    figures: HashSet<String>,
    words: HashMap<String, Vec<String>>,
    initials: String,
}

impl Sink for SourceSink {
    fn figure(&mut self, raw: &str) {
        if let Some(normalized) = figure_key(raw) {
            self.figures.insert(normalized);
        }
    }

    fn part(&mut self, part: &str) {
        if let Some(first) = part.chars().next().filter(char::is_ascii_alphabetic) {
            self.initials.push(first.to_ascii_lowercase());
        }
    }

    fn term(&mut self, part: &str, _token: &str) {
        let Some(key) = term_key(part) else { return };
        // Alphabetic words of three letters or more, for finding them written in Hangul.
        if part.len() >= 3 && part.bytes().all(|b| b.is_ascii_alphabetic()) {
            let spellings = self.words.entry(key.clone()).or_default();
            if !spellings.iter().any(|w| w.eq_ignore_ascii_case(part)) {
                spellings.push(part.to_string());
            }
        }
        self.terms.insert(key);
    }
}

/// English keys of the Hangul words in `text`, each with the Hangul word it came from.
fn hangul_keys(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !is_syllable(c))
        .filter(|w| !w.is_empty())
    {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        let longest = chars.len().min(*LONGEST_LOANWORD);
        // Longest known prefix first: 트랜스포머를 → 트랜스포머.
        for len in (2..=longest).rev() {
            let end = chars.get(len).map_or(word.len(), |(i, _)| *i);
            if let Some(keys) = word.get(..end).and_then(|p| LOANWORDS.get(p)) {
                out.extend(keys.iter().map(|k| (k.clone(), word.to_string())));
                break;
            }
        }
    }
    out
}

/// Everything a Korean summary claims that can be looked up in an English source.
#[derive(Debug, Clone)]
pub(crate) struct SummaryFeatures {
    /// (key, surface, weight), Latin-script terms first, then those recovered from Hangul.
    pub terms: Vec<(String, String, f64)>,
    pub figures: Vec<(String, String)>,
    pub total_weight: f64,
    /// The summary as lower-case letters and digits only, for finding a name like `MaskLLM`.
    pub squashed: String,
    /// The coined name the summary repeats most: usually the work it describes.
    pub focus: Option<Focus>,
    /// Its Hangul words as sound keys, to find Latin names written in Hangul.
    pub hangul: HangulKeys,
}

/// A coined name (`MaskLLM`, `GPT-4o`, `RAG`) and how often the summary writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Focus {
    pub name: String,
    pub mentions: usize,
}

/// A name someone coined rather than an English word: capitals after the first letter or digits.
fn is_coined(token: &str) -> bool {
    let mut chars = token.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && token.len() >= 2
        && chars.any(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The most repeated coined name (the first written, on a tie).
fn focus(summary: &str) -> Option<Focus> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for token in latin_tokens(summary).filter(|t| is_coined(t)) {
        match counts.iter_mut().find(|(name, _)| *name == token) {
            Some((_, count)) => *count += 1,
            None => counts.push((token, 1)),
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for (name, count) in counts {
        if best.is_none_or(|(_, top)| count > top) {
            best = Some((name, count));
        }
    }
    best.map(|(name, mentions)| Focus {
        name: name.to_string(),
        mentions,
    })
}

impl SummaryFeatures {
    pub fn new(summary: &str) -> Self {
        let latin = english_keys(summary);
        let mut terms: Vec<(String, String, f64)> = latin
            .terms
            .into_iter()
            .map(|(key, surface)| {
                let w = weight(&key);
                (key, surface, w)
            })
            .collect();
        let mut seen: HashSet<String> = terms.iter().map(|(k, _, _)| k.clone()).collect();
        for (key, hangul) in hangul_keys(summary) {
            if !STOP.contains(key.as_str()) && seen.insert(key.clone()) {
                let w = weight(&key);
                terms.push((key, hangul, w));
            }
        }
        // Stable order (HashMap iteration is not) so reasons read the same on every run.
        terms.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut figures: Vec<(String, String)> = latin.figures.into_iter().collect();
        figures.sort();
        SummaryFeatures {
            total_weight: terms.iter().map(|t| t.2).sum(),
            terms,
            figures,
            squashed: squash(summary),
            focus: focus(summary),
            hangul: HangulKeys::new(summary),
        }
    }
}

impl SummaryFeatures {
    /// A summary given directly as its weighted terms (for tests of what consumes them).
    #[cfg(test)]
    pub fn from_terms(terms: Vec<(String, String, f64)>) -> Self {
        SummaryFeatures {
            total_weight: terms.iter().map(|t| t.2).sum(),
            terms,
            figures: Vec::new(),
            squashed: String::new(),
            focus: None,
            hangul: HangulKeys::default(),
        }
    }

    /// The coined name the summary is about (written at least twice) when `mentioned` says the source
    /// never names it: the summary's subject is missing there.
    pub fn unnamed_focus(&self, mentioned: impl Fn(&str) -> bool) -> Option<&Focus> {
        self.focus
            .as_ref()
            .filter(|f| f.mentions >= 2 && !mentioned(&f.name))
    }

    /// What a source's matched weight is divided by to give its coverage (the same for every source).
    pub fn coverage_denominator(&self) -> f64 {
        self.total_weight + COVERAGE_PRIOR
    }
}

/// What a paper's title and abstract offer to be matched.
#[derive(Debug, Clone)]
pub(crate) struct SourceFeatures {
    pub terms: HashSet<String>,
    pub figures: HashSet<String>,
    /// The name the title gives the work (`MaskLLM` in `MaskLLM: Learnable ...`), if any.
    pub name: Option<String>,
    /// The title's own terms (a summary of the paper echoes its key ones).
    pub title_terms: HashSet<String>,
    /// Title and abstract as lower-case letters and digits only, for finding a coined name.
    pub squashed: String,
    /// The alphabetic words behind each key, for finding them written in Hangul.
    pub words: HashMap<String, Vec<String>>,
    /// The first letter of every word in order (`multiple-choice question answering` → `mcqa`), for
    /// finding an acronym the abstract spells out.
    pub initials: String,
}

impl SourceFeatures {
    pub fn new(title: &str, abstract_text: &str) -> Self {
        let text = format!("{title}\n{abstract_text}");
        let mut sink = SourceSink::default();
        scan(&text, &mut sink);
        SourceFeatures {
            terms: sink.terms,
            figures: sink.figures,
            name: work_name(title),
            title_terms: english_keys(title).terms.into_keys().collect(),
            squashed: squash(&text),
            words: sink.words,
            initials: sink.initials,
        }
    }

    /// Only the keys of a title and abstract, for the batch index (the rest is needed only for the
    /// paper a summary is checked against).
    pub fn terms_of(title: &str, abstract_text: &str) -> HashSet<String> {
        let mut sink = TermsSink::default();
        scan(title, &mut sink);
        scan(abstract_text, &mut sink);
        sink.0
    }

    /// Whether the title or abstract writes `name` (however hyphenated or cased), or spells out an
    /// acronym of three letters or more (`MCQA`).
    pub fn mentions(&self, name: &str) -> bool {
        let squashed = squash(name);
        let acronym = (3..=6).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_uppercase());
        !squashed.is_empty()
            && (self.squashed.contains(&squashed) || (acronym && self.initials.contains(&squashed)))
    }
}

/// Whether the summary names the work, in Latin script or written in Hangul (`아야` for `Aya 23`).
pub(crate) fn summary_names(name: &str, summary: &SummaryFeatures) -> bool {
    names_work(name, &summary.squashed) || summary.hangul.writes(name_base(name))
}

/// The name before a version or a second word: `Aya` in `Aya 23`, `ANAH` in `ANAH-v2`.
fn name_base(name: &str) -> &str {
    name.split(|c: char| c.is_ascii_digit() || c == ' ' || c == '-')
        .next()
        .unwrap_or(name)
}

/// Lower-case letters and digits only: `Mask-LLM`, `MaskLLM` and `maskllm` all become `maskllm`.
pub(crate) fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The work's own name when the title leads with one: `Lotus: ...`, `MInference 1.0: ...`.
/// A leading phrase of ordinary words (`Breaking Boundaries: ...`) is not a name.
pub(crate) fn work_name(title: &str) -> Option<String> {
    let (head, _) = title.split_once(':')?;
    // `Molmo and PixMo: ...` names two works; the first is the one summaries lead with.
    let head = head.split(" and ").next().unwrap_or(head).trim();
    let words: Vec<&str> = head.split_whitespace().collect();
    let looks_coined = head.bytes().any(|b| b.is_ascii_digit())
        || head.contains('-')
        || words
            .iter()
            .any(|w| w.chars().skip(1).any(|c| c.is_ascii_uppercase()));
    let name_like = match words.len() {
        1 => !STOP.contains(head.to_ascii_lowercase().as_str()),
        2 => looks_coined,
        _ => false,
    };
    (name_like && (2..=40).contains(&head.len()) && squash(head).len() >= 2)
        .then(|| head.to_string())
}

/// Whether `squashed_summary` names the work: the whole name, or its stem before a version
/// (`ANAH` for `ANAH-v2`, `Aya` for `Aya 23`).
pub(crate) fn names_work(name: &str, squashed_summary: &str) -> bool {
    let full = squash(name);
    if squashed_summary.contains(&full) {
        return true;
    }
    let base = squash(name_base(name));
    base.len() >= 3 && squashed_summary.contains(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_meet_however_written() {
        assert_eq!(normalize_number("1,084"), "1084");
        assert_eq!(normalize_number("66%"), "66");
        assert_eq!(normalize_number("10.40"), "10.4");
        assert_eq!(normalize_number("10.42"), "10.42");
        assert_eq!(normalize_number("3.0"), "3");
    }

    #[test]
    fn stems_meet_across_plural_and_case() {
        assert_eq!(stem("Transformers"), stem("transformer"));
        assert_eq!(stem("studies"), stem("study"));
        assert_eq!(stem("Benchmarks"), stem("benchmark"));
    }

    #[test]
    fn hyphenated_terms_yield_parts_and_joined_form() {
        let keys = english_keys("a Transformer-based model scores 1,084 and 66%");
        assert!(keys.terms.contains_key(&stem("transformer")));
        assert!(keys.terms.contains_key(&stem("transformerbased")));
        assert!(keys.figures.contains_key("1084"));
        assert!(keys.figures.contains_key("66"));
    }

    #[test]
    fn hangul_loanwords_map_to_english_keys_despite_particles() {
        let keys: Vec<String> = hangul_keys("트랜스포머를 디퓨전으로")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(keys.contains(&stem("transformer")), "{keys:?}");
        assert!(keys.contains(&stem("diffusion")), "{keys:?}");
    }

    #[test]
    fn names_come_from_coined_title_heads_only() {
        assert_eq!(
            work_name("MaskLLM: Learnable Semi-Structured Sparsity").as_deref(),
            Some("MaskLLM")
        );
        assert_eq!(
            work_name("Lotus: Diffusion-based Visual Foundation Model").as_deref(),
            Some("Lotus")
        );
        assert_eq!(work_name("Breaking Boundaries: A Study").as_deref(), None);
        assert_eq!(work_name("No colon here"), None);
        assert!(names_work("ANAH-v2", &squash("ANAH 프레임워크는")));
        assert!(!names_work("Lotus", &squash("새로운 모델")));
    }

    #[test]
    fn an_acronym_spelled_out_is_mentioned() {
        let source = SourceFeatures::new("T", "benchmarks of multiple-choice question answering");
        assert!(source.mentions("MCQA"));
        assert!(!source.mentions("MCQ-A2"));
        assert!(!source.mentions("RAG"));
    }

    #[test]
    fn a_name_written_in_hangul_names_the_work() {
        assert!(summary_names(
            "Aya 23",
            &SummaryFeatures::new("아야 23은 다국어 모델입니다")
        ));
        assert!(!summary_names(
            "Aya 23",
            &SummaryFeatures::new("새로운 다국어 모델입니다")
        ));
    }

    #[test]
    fn the_focus_is_the_coined_name_repeated_most() {
        let summary = SummaryFeatures::new(
            "MaskLLM은 희소성을 배웁니다. LLaMA-2에서 MaskLLM은 GPT-4o보다 낫습니다.",
        );
        let focus = summary.focus.unwrap();
        assert_eq!((focus.name.as_str(), focus.mentions), ("MaskLLM", 2));
        assert_eq!(SummaryFeatures::new("새로운 방법을 제안합니다").focus, None);
    }
}
