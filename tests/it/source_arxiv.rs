//! arXiv Atom parsing (current and older format, namespaces by URI, error entry, truncation) and the
//! client's batching, paging and pacing against a loopback server speaking the real format.

use std::time::Duration;

use chrono::NaiveDate;
use paper_digest::paper::ArxivId;
use paper_digest::source::arxiv::{self, ArxivClient, Pacer};
use paper_digest::source::SourceError;
use tokio::time::Instant;
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/source/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn id(text: &str) -> ArxivId {
    text.parse().unwrap()
}

/// A current-format feed page with one minimal entry per ID.
fn feed(total: u64, start: u64, ids: &[&str]) -> String {
    let entries: String = ids
        .iter()
        .map(|id| {
            format!(
                r#"
  <entry>
    <id>http://arxiv.org/abs/{id}v1</id>
    <title>Paper {id}</title>
    <updated>2024-09-23T10:00:00Z</updated>
    <summary>Abstract of {id}.</summary>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <published>2024-09-23T10:00:00Z</published>
    <arxiv:primary_category term="cs.CL"/>
    <author>
      <name>Author of {id}</name>
    </author>
  </entry>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/generated</id>
  <title>arXiv Query</title>
  <updated>2024-09-24T00:00:00Z</updated>
  <opensearch:itemsPerPage>{}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>{entries}
</feed>
"#,
        ids.len()
    )
}

fn ids(papers: &[paper_digest::paper::Paper]) -> Vec<&str> {
    papers.iter().map(|p| p.id.as_str()).collect()
}

#[test]
fn parses_an_id_list_hit_with_every_field() {
    let feed = arxiv::parse(&fixture("arxiv_id_hit.xml"), "fixture").unwrap();
    assert_eq!(
        (feed.total_results, feed.start_index, feed.items_per_page),
        (Some(1), Some(0), Some(1))
    );
    let [paper] = feed.papers.as_slice() else {
        panic!("expected one paper, got {:?}", feed.papers);
    };
    assert_eq!(paper.id.as_str(), "2409.17481");
    assert_eq!(paper.version, Some(2));
    assert_eq!(
        paper.title,
        "MaskLLM: Learnable Semi-Structured Sparsity & <N:M> Masks"
    );
    assert_eq!(
        paper.abstract_text,
        "We learn 2:4 sparsity masks end to end \u{2014} no retraining \u{2014} and keep 97% of accuracy."
    );
    assert_eq!(paper.authors, ["Gongfan Fang", "Hongxu Yin"]);
    assert_eq!(paper.primary_category.as_deref(), Some("cs.LG"));
    assert_eq!(paper.categories, ["cs.LG", "cs.CL"]);
    assert_eq!(paper.published.as_deref(), Some("2024-09-26T02:46:40Z"));
    assert_eq!(paper.updated.as_deref(), Some("2024-10-01T08:00:00Z"));
    assert_eq!((paper.upvotes, paper.thumbnail.as_deref()), (None, None));
}

#[test]
fn parses_the_2012_format_with_wrapped_lines_and_per_element_namespaces() {
    let feed = arxiv::parse(&fixture("arxiv_2012_style.xml"), "fixture").unwrap();
    assert_eq!(feed.total_results, Some(2));
    assert_eq!(feed.items_per_page, Some(10));
    assert_eq!(ids(&feed.papers), ["hep-th/9901001", "1205.1001"]);
    let old = &feed.papers[0];
    assert_eq!(old.version, Some(1));
    assert_eq!(
        old.title,
        "Branes at Angles and the Wrapped Title of an Old Paper"
    );
    assert_eq!(
        old.abstract_text,
        "We study branes at angles. The summary is wrapped at about eighty columns, as the old API did, and ends with a newline."
    );
    assert_eq!(old.authors, ["A. Physicist", "B. Theorist"]);
    assert_eq!(old.primary_category.as_deref(), Some("hep-th"));
    let second = &feed.papers[1];
    assert_eq!(second.version, Some(3));
    assert_eq!(second.categories, ["cond-mat.soft", "physics.bio-ph"]);
}

#[test]
fn elements_are_matched_by_namespace_uri_not_by_prefix() {
    let xml = r#"<?xml version="1.0"?>
<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:os="http://a9.com/-/spec/opensearch/1.1/">
  <os:totalResults>1</os:totalResults>
  <totalResults>99</totalResults>
  <a:entry>
    <a:id>http://arxiv.org/abs/2409.00001v1</a:id>
    <title>not Atom: no default namespace here</title>
    <a:title>The Atom Title</a:title>
    <a:summary>Text.</a:summary>
    <a:author><a:name>Real Author</a:name></a:author>
    <x:author xmlns:x="urn:example:other"><x:name>Not An Author</x:name></x:author>
    <ax:primary_category xmlns:ax="http://arxiv.org/schemas/atom" term="cs.AI"/>
    <o:primary_category xmlns:o="urn:example:other" term="math.XX"/>
    <a:category term="cs.AI"/>
  </a:entry>
</a:feed>"#;
    let feed = arxiv::parse(xml, "inline").unwrap();
    assert_eq!(feed.total_results, Some(1));
    let paper = &feed.papers[0];
    assert_eq!(paper.title, "The Atom Title");
    assert_eq!(paper.authors, ["Real Author"]);
    assert_eq!(paper.primary_category.as_deref(), Some("cs.AI"));
}

#[test]
fn the_error_entry_is_an_api_error_with_its_summary() {
    let err = arxiv::parse(&fixture("arxiv_error.xml"), "query-url").unwrap_err();
    assert_eq!(
        err,
        SourceError::ArxivApi {
            query: "query-url".to_string(),
            message: "incorrect id format for abc".to_string()
        }
    );
}

#[test]
fn an_empty_result_is_an_empty_feed() {
    let feed = arxiv::parse(&fixture("arxiv_empty.xml"), "fixture").unwrap();
    assert_eq!(feed.total_results, Some(0));
    assert!(feed.papers.is_empty());
}

#[test]
fn truncated_xml_is_malformed_naming_the_origin_and_the_open_element() {
    let err = arxiv::parse(&fixture("arxiv_truncated.xml"), "saved/feed.xml").unwrap_err();
    let SourceError::Malformed { input, message } = &err else {
        panic!("expected Malformed, got {err:?}");
    };
    assert_eq!(input, "saved/feed.xml");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn broken_xml_and_other_roots_are_malformed() {
    let err = arxiv::parse(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry></feed>",
        "x",
    )
    .unwrap_err();
    assert!(matches!(err, SourceError::Malformed { .. }), "{err:?}");
    let err = arxiv::parse("<html><body>busy</body></html>", "x").unwrap_err();
    assert!(err.to_string().contains("root element is <html>"), "{err}");
    let err = arxiv::parse(&feed(1, 0, &[]).replace(">1<", ">one<"), "x").unwrap_err();
    assert!(
        err.to_string().contains("totalResults is not a count"),
        "{err}"
    );
}

#[test]
fn an_entry_with_a_bad_id_is_skipped_but_a_feed_of_only_bad_ids_is_an_error() {
    let xml = feed(2, 0, &["2409.00001", "2409.00002"]).replace("2409.00002v1", "bogus");
    let parsed = arxiv::parse(&xml, "x").unwrap();
    assert_eq!(ids(&parsed.papers), ["2409.00001"]);
    let xml = feed(1, 0, &["2409.00002"]).replace("2409.00002v1", "bogus");
    let err = arxiv::parse(&xml, "x").unwrap_err();
    assert!(err.to_string().contains("none of the 1 entries"), "{err}");
}

fn client(server: &MockServer, page_size: usize) -> ArxivClient {
    ArxivClient::new(&server.uri(), Duration::ZERO, page_size, test_http()).unwrap()
}

#[tokio::test]
async fn lookup_reports_an_unknown_id_as_missing() {
    let server = MockServer::start().await;
    Mock::given(path("/api/query"))
        .and(query_param("id_list", "2408.99999,1707.08567"))
        .and(query_param("max_results", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("arxiv_two_ids_one_unknown.xml")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let lookup = client(&server, 100)
        .lookup(&[id("2408.99999"), id("1707.08567"), id("2408.99999")])
        .await
        .unwrap();
    assert_eq!(ids(&lookup.found), ["1707.08567"]);
    assert_eq!(lookup.missing, [id("2408.99999")]);
}

#[tokio::test]
async fn lookup_batches_ids_and_keeps_the_order_asked() {
    let server = MockServer::start().await;
    Mock::given(path("/api/query"))
        .and(query_param("id_list", "2409.00001,2409.00002"))
        .respond_with(ResponseTemplate::new(200).set_body_string(feed(
            2,
            0,
            &["2409.00002", "2409.00001"],
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/query"))
        .and(query_param("id_list", "2409.00003"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("arxiv_empty.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let asked = [id("2409.00001"), id("2409.00002"), id("2409.00003")];
    let lookup = client(&server, 2).lookup(&asked).await.unwrap();
    assert_eq!(ids(&lookup.found), ["2409.00001", "2409.00002"]);
    assert_eq!(lookup.missing, [id("2409.00003")]);
}

#[tokio::test]
async fn an_error_entry_with_http_400_is_an_api_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/query"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("arxiv_error.xml")))
        .mount(&server)
        .await;
    let err = client(&server, 100)
        .lookup(&[id("2409.00001")])
        .await
        .unwrap_err();
    let SourceError::ArxivApi { query, message } = &err else {
        panic!("expected ArxivApi, got {err:?}");
    };
    assert_eq!(message, "incorrect id format for abc");
    assert!(query.contains("id_list=2409.00001"), "{query}");
}

#[tokio::test]
async fn a_non_atom_503_is_an_http_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/query"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Rate exceeded."))
        .mount(&server)
        .await;
    let err = client(&server, 100)
        .lookup(&[id("2409.00001")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::Http { status: 503, message, .. } if message == "Rate exceeded."),
        "{err:?}"
    );
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 9, d).unwrap()
}

fn listing_page(start: &str, body: String) -> Mock {
    Mock::given(path("/api/query"))
        .and(query_param(
            "search_query",
            "cat:cs.CL AND submittedDate:[202409230000 TO 202409242359]",
        ))
        .and(query_param("sortBy", "submittedDate"))
        .and(query_param("sortOrder", "descending"))
        .and(query_param("start", start))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
}

#[tokio::test]
async fn listing_pages_until_total_results() {
    let server = MockServer::start().await;
    listing_page("0", feed(5, 0, &["2409.00005", "2409.00004"]))
        .expect(1)
        .mount(&server)
        .await;
    listing_page("2", feed(5, 2, &["2409.00003", "2409.00002"]))
        .expect(1)
        .mount(&server)
        .await;
    listing_page("4", feed(5, 4, &["2409.00001"]))
        .expect(1)
        .mount(&server)
        .await;
    let papers = client(&server, 2)
        .listing("cs.CL", day(23), day(24), None)
        .await
        .unwrap()
        .papers;
    assert_eq!(
        ids(&papers),
        [
            "2409.00005",
            "2409.00004",
            "2409.00003",
            "2409.00002",
            "2409.00001"
        ]
    );
}

#[tokio::test]
async fn listing_stops_at_the_limit_and_asks_only_for_what_is_left() {
    let server = MockServer::start().await;
    listing_page("0", feed(5, 0, &["2409.00005", "2409.00004"]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/query"))
        .and(query_param("start", "2"))
        .and(query_param("max_results", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(feed(5, 2, &["2409.00003"])))
        .expect(1)
        .mount(&server)
        .await;
    let papers = client(&server, 2)
        .listing("cs.CL", day(23), day(24), Some(3))
        .await
        .unwrap()
        .papers;
    assert_eq!(ids(&papers), ["2409.00005", "2409.00004", "2409.00003"]);
}

#[tokio::test]
async fn listing_retries_an_empty_page_once_then_continues() {
    let server = MockServer::start().await;
    listing_page("0", feed(3, 0, &["2409.00003", "2409.00002"]))
        .expect(1)
        .mount(&server)
        .await;
    listing_page("2", feed(3, 2, &[]))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    listing_page("2", feed(3, 2, &["2409.00001"]))
        .expect(1)
        .mount(&server)
        .await;
    let papers = client(&server, 2)
        .listing("cs.CL", day(23), day(24), None)
        .await
        .unwrap()
        .papers;
    assert_eq!(ids(&papers), ["2409.00003", "2409.00002", "2409.00001"]);
}

#[tokio::test]
async fn listing_stops_when_a_page_stays_empty_instead_of_looping() {
    let server = MockServer::start().await;
    listing_page("0", feed(9, 0, &["2409.00009", "2409.00008"]))
        .expect(1)
        .mount(&server)
        .await;
    listing_page("2", feed(9, 2, &[]))
        .expect(2)
        .mount(&server)
        .await;
    let list = client(&server, 2)
        .listing("cs.CL", day(23), day(24), None)
        .await
        .unwrap();
    assert_eq!(ids(&list.papers), ["2409.00009", "2409.00008"]);
    assert!(!list.complete, "a listing cut short is not the whole day");
    assert!(
        list.note
            .as_deref()
            .is_some_and(|n| n.contains("empty twice")),
        "{list:?}"
    );
}

#[tokio::test]
async fn listing_of_a_quiet_day_is_one_request_and_empty() {
    let server = MockServer::start().await;
    listing_page("0", feed(0, 0, &[]))
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server, 2)
        .listing("cs.CL", day(23), day(24), None)
        .await
        .unwrap();
    assert!(list.papers.is_empty() && list.complete);
}

#[tokio::test(start_paused = true)]
async fn the_pacer_spaces_request_starts_by_the_minimum_interval() {
    let pacer = Pacer::new(Duration::from_secs(3));
    let begin = Instant::now();
    drop(pacer.turn().await);
    assert_eq!(
        begin.elapsed(),
        Duration::ZERO,
        "the first turn does not wait"
    );
    drop(pacer.turn().await);
    assert!(
        begin.elapsed() >= Duration::from_secs(3),
        "{:?}",
        begin.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle = Instant::now();
    drop(pacer.turn().await);
    assert_eq!(
        idle.elapsed(),
        Duration::ZERO,
        "no wait once the interval has passed"
    );
}

#[tokio::test(start_paused = true)]
async fn the_pacer_gives_one_turn_at_a_time() {
    let pacer = std::sync::Arc::new(Pacer::new(Duration::from_secs(3)));
    let begin = Instant::now();
    let first = pacer.turn().await;
    let waiter = {
        let pacer = pacer.clone();
        tokio::spawn(async move {
            let _turn = pacer.turn().await;
            Instant::now()
        })
    };
    // A long first request: the second may not start until it is over.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!waiter.is_finished());
    drop(first);
    let second_start = waiter.await.unwrap();
    assert_eq!(second_start - begin, Duration::from_secs(20));
}

// Real time: a paused clock would jump over the client's request timeout while it waits on the
// socket, so this one pays a second of wall time.
#[tokio::test]
async fn the_client_starts_the_second_request_a_full_interval_after_the_first() {
    let server = MockServer::start().await;
    Mock::given(path("/api/query"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("arxiv_empty.xml")))
        .expect(2)
        .mount(&server)
        .await;
    let interval = Duration::from_secs(1);
    let client = ArxivClient::new(&server.uri(), interval, 10, test_http()).unwrap();
    let begin = Instant::now();
    client.lookup(&[id("2409.00001")]).await.unwrap();
    assert!(
        begin.elapsed() < interval,
        "the first request does not wait"
    );
    client.lookup(&[id("2409.00002")]).await.unwrap();
    assert!(begin.elapsed() >= interval, "{:?}", begin.elapsed());
}

fn test_http() -> paper_digest::source::SourceHttp {
    paper_digest::source::SourceHttp::new(std::time::Duration::from_secs(10), 1 << 20).unwrap()
}
