//! The one rule every output applies to untrusted text (titles, names, abstracts, model output,
//! reasons): it stays text. One line, no invisible or control characters, no URL scheme that runs
//! code (`javascript:`, `data:`, `vbscript:` are written `javascript[:]`), and in Markdown no raw HTML,
//! link, image or autolink. Bare web addresses stay readable; where no check vouched for the text
//! (a flagged summary, a reason quoting an answer) they are written `https[:]//…` so that no renderer
//! turns them into links. The HTML, feed and webhook outputs build on [`one_line`] and escape their own
//! syntax.

pub use crate::paper::defang_schemes;

/// Removes what cannot be seen or breaks a line: control characters and zero-width or
/// direction-changing format characters. Line breaks become single spaces.
pub fn one_line(text: &str) -> String {
    defang_schemes(&without_breaks(text))
}

fn without_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}') {
            pending_space = !out.is_empty();
            continue;
        }
        let c = if c == '\t' { ' ' } else { c };
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if pending_space {
            // One space per line break, and none doubled next to spaces already there.
            if !out.ends_with(' ') && c != ' ' {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push(c);
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM/RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'   // bidi isolates
        | '\u{FEFF}'                // BOM / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
    )
}

/// One line without raw HTML: `<` and `>` as entities.
fn without_html(text: &str) -> String {
    one_line(text).replace('<', "&lt;").replace('>', "&gt;")
}

/// Inline Markdown text vouched for by the checks: no raw HTML, link or image.
pub(crate) fn inline(text: &str) -> String {
    without_html(text)
        .replace("](", "\\](")
        .replace("![", "!\\[")
}

/// Inline Markdown text no check vouched for (a flagged summary, a reason quoting an answer): as
/// [`inline`], and bare web addresses are not written as addresses a renderer would link.
pub(crate) fn inline_unvouched(text: &str) -> String {
    unlinked(&inline(text))
}

/// Bare web addresses written so that no renderer turns them into links (`https[:]//…`, `www[.]…`),
/// for text no check vouched for; every output format applies it to such text.
pub(crate) fn unlinked(text: &str) -> String {
    text.replace("://", "[:]//").replace("www.", "www[.]")
}

/// Link text: also no `[`, `]`, `|` or backslash that could end the link or start a table cell.
pub(crate) fn link_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in without_html(text).chars() {
        if matches!(c, '\\' | '[' | ']' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The inverse of [`inline`].
pub(crate) fn unescape_inline(text: &str) -> String {
    text.replace("!\\[", "![")
        .replace("\\](", "](")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The inverse of [`link_text`].
pub(crate) fn unescape_link_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('\\' | '[' | ']' | '|'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">")
}

/// An image URL that cannot end the `![](…)` or run script: http(s) or site-relative only,
/// with characters that would end the link percent-encoded.
pub(crate) fn image_url(url: &str) -> Option<String> {
    let url = one_line(url);
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let allowed = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (url.starts_with('/') && !url.starts_with("//"));
    if !allowed {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            _ => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_breaks_and_drops_invisibles() {
        assert_eq!(one_line("a\nb\r\n\r\nc"), "a b c");
        assert_eq!(one_line("a \n b"), "a  b");
        assert_eq!(one_line("x\u{200B}y\u{202E}z\u{7}\u{FEFF}"), "xyz");
        assert_eq!(one_line("\nlead"), "lead");
        assert_eq!(one_line("tab\there"), "tab here");
    }

    #[test]
    fn dangerous_schemes_never_survive_in_any_case() {
        assert_eq!(
            one_line("click javascript:alert(1) or JavaScript:x, DATA:text/html;, vbscript:y"),
            "click javascript[:]alert(1) or JavaScript[:]x, DATA[:]text/html;, vbscript[:]y"
        );
        assert_eq!(one_line("no scheme: here"), "no scheme: here");
        assert_eq!(
            one_line("한글 data: 값, data:text/html"),
            "한글 data: 값, data[:]text/html"
        );
    }

    #[test]
    fn links_images_and_html_render_as_text() {
        let text =
            "[click](https://evil.test) ![](https://tracker.test/p.gif) <b>x</b> <https://a.test>";
        let shown = inline(text);
        // Every `](` and `![` is escaped: CommonMark then renders them as the characters themselves.
        assert_eq!(
            shown.matches("](").count(),
            shown.matches("\\](").count(),
            "{shown}"
        );
        assert!(!shown.contains("!["), "{shown}");
        assert!(!shown.contains('<') && !shown.contains('>'), "{shown}");
        assert_eq!(unescape_inline(&shown), text);
        let unvouched = inline_unvouched("see https://tracker.test and www.evil.test");
        assert_eq!(unvouched, "see https[:]//tracker.test and www[.]evil.test");
    }

    #[test]
    fn link_text_round_trips() {
        for title in ["a [b] | c \\ d <script>", "plain: Title (v2)", "]["] {
            assert_eq!(unescape_link_text(&link_text(title)), title);
        }
        assert_eq!(link_text("[x] <y>"), "\\[x\\] &lt;y&gt;");
    }

    #[test]
    fn image_urls_are_contained() {
        assert_eq!(
            image_url("/avatars/a.svg").as_deref(),
            Some("/avatars/a.svg")
        );
        assert_eq!(
            image_url("https://x.test/a b(1).png").as_deref(),
            Some("https://x.test/a%20b%281%29.png")
        );
        assert_eq!(image_url("javascript:alert(1)"), None);
        assert_eq!(image_url("//evil.test/x.png"), None);
    }
}
