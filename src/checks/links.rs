//! What a summary links to. A summary is plain text: the model reads untrusted abstracts (prompt
//! injection) and its answer reaches readers, so a digest must carry no link, image, autolink, raw web
//! address or HTML tag that the paper did not give. Each one found is a reason naming it; a web
//! address the title or abstract itself gives (the paper's code repository) may stay, and is published
//! as text. `javascript:`, `data:` and `vbscript:` URLs are never acceptable.

use std::sync::LazyLock;

use regex::Regex;

use crate::checks::Reason;
use crate::paper::{defang_schemes, Sections};

/// `![alt](url …)`.
static IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"!\[[^\]]*\]\(\s*([^)\s]*)[^)]*\)").expect("constant pattern"));
/// `[text](url …)`.
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[[^\]]*\]\(\s*([^)\s]*)[^)]*\)").expect("constant pattern"));
/// `<scheme:…>`.
static AUTOLINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*)>").expect("constant pattern")
});
/// A bare web address: `https://…`, `ftp://…`, `www.…`.
static RAW_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>()\[\]"'`]+"#).expect("constant pattern")
});
/// `<tag …>`, `</tag>`, `<tag/>`.
static HTML_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>").expect("constant pattern")
});
/// A scheme that runs code or carries content, anywhere in the text (`data: 10k samples` is prose).
static DANGEROUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(javascript|vbscript|data):\S").expect("constant pattern"));

/// Every link-like thing in the summary that the paper did not give, as reasons (check `links`).
pub fn check(sections: &Sections, title: &str, abstract_text: &str) -> Vec<Reason> {
    let source = format!("{title}\n{abstract_text}").to_lowercase();
    let mut reasons = Vec::new();
    for (name, text) in sections.iter() {
        let mut found = Vec::new();
        for url in captures(&IMAGE, text) {
            found.push(format!("an image ({})", describe(&url)));
        }
        let without_images = IMAGE.replace_all(text, "");
        for url in captures(&LINK, &without_images)
            .into_iter()
            .chain(captures(&AUTOLINK, &without_images))
        {
            if let Some(problem) = unsupported(&url, &source, "a link") {
                found.push(problem);
            }
        }
        let without_links = LINK.replace_all(&without_images, "").into_owned();
        let without_links = AUTOLINK.replace_all(&without_links, "");
        for url in RAW_URL.find_iter(&without_links).map(|m| m.as_str()) {
            if let Some(problem) = unsupported(url, &source, "a web address") {
                found.push(problem);
            }
        }
        for tag in HTML_TAG.find_iter(&without_links).map(|m| m.as_str()) {
            if !source.contains(&tag.to_lowercase()) {
                // Named, not quoted: a reason reaches every output, and carries no markup itself.
                found.push(format!("an HTML tag ({})", tag_name(tag)));
            }
        }
        if found.is_empty() {
            if let Some(scheme) = DANGEROUS.captures(text).and_then(|c| c.get(1)) {
                found.push(format!("a {}[:] URL", scheme.as_str().to_lowercase()));
            }
        }
        found.dedup();
        for problem in found {
            reasons.push(Reason::new(
                "links",
                format!("section {name:?} carries {problem}: a summary is plain text"),
            ));
        }
    }
    reasons
}

fn captures(pattern: &Regex, text: &str) -> Vec<String> {
    pattern
        .captures_iter(text)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .collect()
}

/// `None` when the paper gives `url`; else what is wrong with it.
fn unsupported(url: &str, source: &str, what: &str) -> Option<String> {
    if DANGEROUS.is_match(url) {
        return Some(format!("{what} to {}", describe(url)));
    }
    let key = comparable(url);
    if !key.is_empty() && source.contains(&key) {
        return None;
    }
    Some(format!("{what} to {} not in the abstract", describe(url)))
}

/// `https://GitHub.com/x/y/.` → `github.com/x/y`: how an address is looked up in the abstract.
fn comparable(url: &str) -> String {
    let lower = url.to_lowercase();
    let without_scheme = lower
        .split_once("://")
        .map_or(lower.as_str(), |(_, rest)| rest);
    without_scheme
        .trim_start_matches("www.")
        .trim_end_matches(['.', ',', ';', ':', ')', '/'])
        .to_string()
}

/// The host of a web address (or the defanged scheme of another URL), for a reason.
fn describe(url: &str) -> String {
    if let Some(scheme) = DANGEROUS.captures(url).and_then(|c| c.get(1)) {
        return format!("{}[:] URL", scheme.as_str().to_lowercase());
    }
    let host = comparable(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();
    if host.is_empty() {
        quoted(url)
    } else {
        host
    }
}

/// `</IFrame src=x>` → `iframe`.
fn tag_name(tag: &str) -> String {
    tag.trim_start_matches(['<', '/'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

fn quoted(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    format!("{:?}", defang_schemes(&short))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Sections {
        Sections {
            whats_new: text.to_string(),
            technical_details: "기술 내용입니다.".to_string(),
            performance_highlights: "성능 내용입니다.".to_string(),
        }
    }

    fn reasons(text: &str, abstract_text: &str) -> Vec<String> {
        check(&sections(text), "A Title", abstract_text)
            .into_iter()
            .map(|r| r.message)
            .collect()
    }

    #[test]
    fn every_kind_of_link_is_named() {
        let found = reasons(
            "[click](javascript:alert(1)) ![](https://tracker.example/p.gif) \
             <https://autolink.example/x> 자세한 내용은 https://raw.example/page 참고. <script>x</script>",
            "We release code.",
        );
        let joined = found.join("\n");
        for expected in [
            "a link to javascript[:] URL",
            "an image (tracker.example)",
            "a link to autolink.example not in the abstract",
            "a web address to raw.example not in the abstract",
            "an HTML tag (script)",
        ] {
            assert!(joined.contains(expected), "{expected}: {joined}");
        }
        assert!(!joined.contains("javascript:"), "{joined}");
    }

    #[test]
    fn an_address_the_abstract_gives_may_stay() {
        let abstract_text = "Code is at https://github.com/org/GlowFormer.";
        assert!(reasons(
            "코드는 https://github.com/org/glowformer 에서 공개되었습니다.",
            abstract_text
        )
        .is_empty());
        assert!(reasons("[코드](https://github.com/org/GlowFormer)", abstract_text).is_empty());
        assert_eq!(
            reasons(
                "코드는 https://github.com/other/repo 에 있습니다.",
                abstract_text
            )
            .len(),
            1
        );
    }

    #[test]
    fn plain_text_with_brackets_comparisons_and_tags_the_paper_names_is_fine() {
        assert!(reasons("정확도가 p < 0.05 수준에서 [유의미]하며 x<1 입니다.", "").is_empty());
        assert!(reasons(
            "모델은 <think> 토큰으로 추론합니다.",
            "Reasoning in <think> tags."
        )
        .is_empty());
        assert_eq!(
            reasons("모델은 <think> 토큰으로 추론합니다.", "No tags.").len(),
            1
        );
        assert!(reasons("학습 data: 10k 샘플", "").is_empty());
        assert_eq!(reasons("data:text/html,x 입니다", "").len(), 1);
    }
}
