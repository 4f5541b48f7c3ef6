//! The static site and the Atom feed: pages parsed by a real HTML parser (html5ever, through
//! scraper) with no parse error and no unclosed tag, every hostile value escaped, a snapshot of one
//! day's page; the feed parsed back (atom_syndication) and read by a strict XML reader, with unique
//! ids, RFC 3339 dates and escaped content, whose entry changes its `updated` only when the day changes.

use std::path::Path;

use scraper::{Html, Selector};

use crate::common::*;

const DAY: &str = "2024-09-23";

fn site_env(dir: &Path) -> Vec<(String, String)> {
    let site = dir.join("site").display().to_string();
    publish_env(
        dir,
        &[
            ("PAPER_DIGEST_PUBLISH__SITE__ENABLED", "true"),
            ("PAPER_DIGEST_PUBLISH__SITE__DIR", &site),
            ("PAPER_DIGEST_PUBLISH__FEED__ENABLED", "true"),
            ("PAPER_DIGEST_PUBLISH__FEED__DIR", &site),
            (
                "PAPER_DIGEST_PUBLISH__FEED__BASE_URL",
                "https://papers.test/ko/",
            ),
        ],
    )
}

fn hostile_day() -> Vec<DayPaper> {
    let mut hostile = day_paper(1);
    hostile.title =
        "Attack</h2><script>alert(1)</script> & \"quotes\" 'single'\u{202E}\u{200B}\u{7}\nNext line"
            .to_string();
    hostile.authors = vec![
        "<img src=x onerror=alert(1)>".to_string(),
        "javascript:alert(2)".to_string(),
    ];
    hostile.sections[0] =
        "\"><iframe src=javascript:alert(3)></iframe> 새로운 방법을 제안합니다 <!-- comment --> ]]> &amp;"
            .to_string();
    hostile.sections[1] = "기술적으로는 희소 어텐션(sparse attention)을 사용합니다.".to_string();
    hostile.sections[2] = "추론 속도가 두 배 빨라졌습니다.".to_string();
    hostile.votes = Some(99);
    let mut plain = day_paper(3);
    plain.sections = [
        "새로운 벤치마크(benchmark)를 제안합니다.".to_string(),
        "12개 모델을 같은 조건에서 평가했습니다.".to_string(),
        "가장 좋은 모델의 정확도는 71.5%였습니다.".to_string(),
    ];
    let mut flagged = day_paper(2);
    flagged.status = Some(paper_digest::paper::Status::Flagged);
    flagged.reasons = vec!["anchors: <b>bold</b>".to_string()];
    vec![hostile, plain, flagged]
}

/// Every opening tag of these elements has its closing tag, in the page as written.
fn assert_balanced(html: &str) {
    for tag in [
        "html", "head", "body", "section", "article", "nav", "h1", "h2", "p", "a", "dl", "dt",
        "dd", "ul", "li", "title", "style", "span",
    ] {
        let opened =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closed = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opened, closed,
            "<{tag}> opened {opened} times, closed {closed}:\n{html}"
        );
    }
}

fn assert_clean_html(html: &str) -> Html {
    assert_balanced(html);
    let parsed = Html::parse_document(html);
    assert!(
        parsed.errors.is_empty(),
        "parse errors {:?}:\n{html}",
        parsed.errors
    );
    for selector in ["script", "iframe", "img[onerror]", "[onerror]", "b"] {
        let found = parsed.select(&Selector::parse(selector).unwrap()).count();
        assert_eq!(found, 0, "{selector} in:\n{html}");
    }
    for link in parsed.select(&Selector::parse("[href], [src]").unwrap()) {
        let target = link.attr("href").or(link.attr("src")).unwrap_or_default();
        assert!(
            target.starts_with("https://arxiv.org/abs/")
                || ["../index.html", "days/", "feed.xml", "../feed.xml"]
                    .iter()
                    .any(|p| target.starts_with(p)),
            "unexpected link {target:?}"
        );
    }
    parsed
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_parse_as_html_with_every_hostile_value_escaped() {
    let dir = tempfile::tempdir().unwrap();
    store_day(&dir.path().join("digest.db"), DAY, &hostile_day());
    let env = site_env(dir.path());
    let output = run_cli(&env, &["publish", "--date", DAY]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );

    let page = std::fs::read_to_string(dir.path().join("site/days/2024-09-23.html")).unwrap();
    let parsed = assert_clean_html(&page);
    let titles: Vec<String> = parsed
        .select(&Selector::parse("article.paper h2 a").unwrap())
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(
        titles[0], "Attack</h2><script>alert(1)</script> & \"quotes\" 'single' Next line",
        "the title is shown as text, on one line, without invisible characters"
    );
    assert_eq!(titles.len(), 2, "the flagged paper is held: {titles:?}");
    let ids: Vec<&str> = parsed
        .select(&Selector::parse("article.paper").unwrap())
        .filter_map(|a| a.attr("id"))
        .collect();
    assert_eq!(
        ids,
        ["p-2409.10001", "p-2409.10003"],
        "an anchor per paper, by votes"
    );
    let page_text: String = parsed.root_element().text().collect();
    assert!(
        page_text.contains("javascript[:]alert(2)"),
        "schemes are defanged"
    );
    assert!(
        page_text.contains("held for review or not summarized yet: 1 paper."),
        "{page_text}"
    );
    insta::assert_snapshot!("day_page", page);

    let index = std::fs::read_to_string(dir.path().join("site/index.html")).unwrap();
    let parsed = assert_clean_html(&index);
    let days: Vec<(String, String)> = parsed
        .select(&Selector::parse("nav li a").unwrap())
        .map(|a| {
            (
                a.attr("href").unwrap_or_default().to_string(),
                a.text().collect(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("days/2024-09-23.html".to_string(), DAY.to_string())]
    );
    assert!(index.contains("논문 2편 · 검토 대기 1편"), "{index}");
    assert!(index.contains("href=\"feed.xml\""), "{index}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_lists_days_newest_first_and_pages_are_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digest.db");
    store_day(&db, "2024-09-23", &[day_paper(0)]);
    store_day(&db, "2024-09-24", &[day_paper(1), day_paper(2)]);
    store_day(&db, "2024-09-25", &[day_paper(3)]);
    let env = site_env(dir.path());
    assert_eq!(run_cli(&env, &["publish", "--all"]).status.code(), Some(0));
    let index = std::fs::read_to_string(dir.path().join("site/index.html")).unwrap();
    let parsed = assert_clean_html(&index);
    let order: Vec<String> = parsed
        .select(&Selector::parse("nav li a").unwrap())
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(order, ["2024-09-25", "2024-09-24", "2024-09-23"]);
    // Written through a temporary file renamed over the page: no temporary file is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("site/days"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".html"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    for day in ["2024-09-23", "2024-09-24", "2024-09-25"] {
        let page =
            std::fs::read_to_string(dir.path().join(format!("site/days/{day}.html"))).unwrap();
        assert_clean_html(&page);
    }
}

/// The feed read by a strict XML reader (every end tag checked), start to end.
fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(error) => panic!(
                "not well-formed at {}: {error}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_parses_back_and_updates_only_when_a_day_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digest.db");
    store_day(&db, DAY, &hostile_day());
    store_day(&db, "2024-09-24", &[day_paper(7)]);
    let env = site_env(dir.path());
    assert_eq!(run_cli(&env, &["publish", "--all"]).status.code(), Some(0));
    let path = dir.path().join("site/feed.xml");
    let xml = std::fs::read_to_string(&path).unwrap();
    assert_well_formed(&xml);
    assert!(!xml.contains("<script"), "content is escaped");
    let feed = atom_syndication::Feed::read_from(xml.as_bytes()).unwrap();
    assert_eq!(feed.id(), "https://papers.test/ko/");
    let ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
    assert_eq!(
        ids,
        [
            "https://papers.test/ko/days/2024-09-24.html",
            "https://papers.test/ko/days/2024-09-23.html"
        ],
        "unique, stable, newest first"
    );
    for raw in xml.split("<updated>").skip(1) {
        let value = raw.split('<').next().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(value).is_ok(),
            "{value:?} is RFC 3339"
        );
    }
    let entry = &feed.entries()[1];
    assert_eq!(
        entry.links()[0].href(),
        "https://papers.test/ko/days/2024-09-23.html"
    );
    let content = entry.content().and_then(|c| c.value()).unwrap_or_default();
    assert_eq!(entry.content().and_then(|c| c.content_type()), Some("html"));
    let html = Html::parse_fragment(content);
    assert_eq!(
        html.select(&Selector::parse("script, iframe, [onerror]").unwrap())
            .count(),
        0
    );
    let shown: String = html.root_element().text().collect();
    assert!(
        shown.contains("Attack</h2><script>alert(1)</script>"),
        "shown as text: {shown}"
    );
    let updated = entry.updated().to_rfc3339();

    // Unchanged: the feed file is not even rewritten.
    let before = std::fs::read(&path).unwrap();
    assert_eq!(run_cli(&env, &["publish", "--all"]).status.code(), Some(0));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // The day changes: its entry's `updated` moves, the other entry's does not.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut changed = hostile_day();
    changed[1].votes = Some(7);
    store_day(&db, DAY, &changed);
    let output = run_cli(&env, &["publish", "--date", DAY]);
    assert!(
        text(&output.stdout).contains("feed\tpublished\tentry updated"),
        "{}",
        text(&output.stdout)
    );
    let feed = atom_syndication::Feed::read_from(std::fs::read(&path).unwrap().as_slice()).unwrap();
    let by_id = |id: &str| {
        feed.entries()
            .iter()
            .find(|e| e.id().ends_with(id))
            .map(|e| e.updated().to_rfc3339())
            .unwrap_or_default()
    };
    assert_ne!(by_id("2024-09-23.html"), updated);
    let other = atom_syndication::Feed::read_from(before.as_slice()).unwrap();
    assert_eq!(
        by_id("2024-09-24.html"),
        other.entries()[0].updated().to_rfc3339()
    );
    assert_eq!(feed.updated().to_rfc3339(), by_id("2024-09-23.html"));
}
