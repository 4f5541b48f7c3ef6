//! Hugging Face daily papers: both schemas, error bodies, truncation, bad items, and the client's
//! paging and error mapping against a loopback server speaking the real format.

use chrono::NaiveDate;
use paper_digest::source::hf::{self, HfClient};
use paper_digest::source::SourceError;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/source/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 9, 23).unwrap()
}

/// One list item in the 2024 shape.
fn item(id: &str, upvotes: i64) -> Value {
    json!({
        "paper": {
            "id": id,
            "authors": [{"_id": "a1", "name": "Some Author", "hidden": false}],
            "publishedAt": "2024-09-20T09:21:49.000Z",
            "title": format!("Paper {id}"),
            "summary": format!("Abstract of {id}."),
            "upvotes": upvotes,
            "discussionId": "d1"
        },
        "publishedAt": "2024-09-23T02:51:57.482Z",
        "title": format!("Paper {id}"),
        "thumbnail": format!("https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{id}.png"),
        "numComments": 0
    })
}

fn ids(papers: &[paper_digest::paper::Paper]) -> Vec<&str> {
    papers.iter().map(|p| p.id.as_str()).collect()
}

#[test]
fn parses_the_2024_schema_with_normalised_text_and_authors_in_order() {
    let papers = hf::parse(&fixture("hf_daily_2024.json"), "fixture").unwrap();
    assert_eq!(ids(&papers), ["2409.10001", "2409.10002"]);
    let first = &papers[0];
    assert_eq!(
        first.title,
        "Sparse Lanterns: Routing Tokens Through Tiny Experts"
    );
    assert_eq!(
        first.abstract_text,
        "We study routing in mixture-of-experts models. Our router, Lantern, sends each token to two of 64 tiny experts and cuts training cost by 31%."
    );
    // The hidden author is kept (hidden only hides the HF profile link), whitespace normalised.
    assert_eq!(first.authors, ["Mina Park", "Tomas Lind", "Ada Okafor"]);
    assert_eq!(first.upvotes, Some(41));
    assert_eq!(
        first.thumbnail.as_deref(),
        Some("https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2409.10001.png")
    );
    assert_eq!(first.published.as_deref(), Some("2024-09-20T09:21:49.000Z"));
    assert_eq!(first.version, None);
    assert_eq!(papers[1].upvotes, Some(7));
}

#[test]
fn parses_the_newer_schema_ignoring_extra_fields() {
    let papers = hf::parse(&fixture("hf_daily_newer_schema.json"), "fixture").unwrap();
    assert_eq!(ids(&papers), ["2608.10001"]);
    let paper = &papers[0];
    assert_eq!(paper.title, "GridHarness: Programmable Worlds for Agents");
    assert_eq!(paper.authors, ["Lena Vogel", "Ravi Iyer"]);
    assert_eq!(paper.upvotes, Some(163));
    assert!(paper
        .abstract_text
        .starts_with("GridHarness wraps a static environment"));
}

#[test]
fn an_error_body_is_reported_naming_the_origin_and_the_message() {
    let err = hf::parse(&fixture("hf_error.json"), "saved/hf.json").unwrap_err();
    assert!(matches!(&err, SourceError::Malformed { input, .. } if input == "saved/hf.json"));
    assert!(
        err.to_string().contains("Invalid value for parameter date"),
        "{err}"
    );
}

#[test]
fn truncated_json_is_malformed_naming_the_origin() {
    let err = hf::parse(&fixture("hf_daily_truncated.json"), "saved/truncated.json").unwrap_err();
    let SourceError::Malformed { input, message } = &err else {
        panic!("expected Malformed, got {err:?}");
    };
    assert_eq!(input, "saved/truncated.json");
    assert!(message.contains("EOF"), "{message}");
}

#[test]
fn an_item_without_id_or_with_a_bad_id_is_skipped_and_the_rest_kept() {
    let mut no_id = item("2409.10003", 1);
    no_id["paper"].as_object_mut().unwrap().remove("id");
    let body = json!([
        item("2409.10001", 5),
        no_id,
        item("not-an-id", 2),
        item("2409.10002", 3)
    ]);
    let papers = hf::parse(&body.to_string(), "fixture").unwrap();
    assert_eq!(ids(&papers), ["2409.10001", "2409.10002"]);
}

#[test]
fn a_list_with_no_usable_item_is_an_error_naming_the_item() {
    let body = json!([item("not-an-id", 2), {"paper": {"title": "x"}}]);
    let err = hf::parse(&body.to_string(), "fixture").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("none of the 2 items"), "{message}");
    assert!(message.contains("item 0 (not-an-id)"), "{message}");
}

#[test]
fn an_empty_list_is_no_papers_and_not_an_error() {
    assert_eq!(hf::parse("[]", "fixture").unwrap(), vec![]);
}

#[test]
fn other_json_is_malformed() {
    let err = hf::parse(r#"{"papers": []}"#, "fixture").unwrap_err();
    assert!(
        err.to_string()
            .contains("found an object with keys [\"papers\"]"),
        "{err}"
    );
    let err = hf::parse("42", "fixture").unwrap_err();
    assert!(err.to_string().contains("found a number"), "{err}");
}

async fn client(server: &MockServer, page_size: usize) -> HfClient {
    HfClient::new(&server.uri(), test_http(), page_size, 5).unwrap()
}

fn page(server_page: &str, body: Value) -> Mock {
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .and(query_param("date", "2024-09-23"))
        .and(query_param("p", server_page))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
}

#[tokio::test]
async fn daily_follows_paging_while_pages_are_full_and_deduplicates() {
    let server = MockServer::start().await;
    page("0", json!([item("2409.10001", 9), item("2409.10002", 8)]))
        .expect(1)
        .mount(&server)
        .await;
    // Lists shift while paging: page 1 repeats a paper, which is kept once.
    page("1", json!([item("2409.10002", 8), item("2409.10003", 1)]))
        .expect(1)
        .mount(&server)
        .await;
    page("2", json!([])).expect(1).mount(&server).await;
    let papers = client(&server, 2).await.daily(date()).await.unwrap().papers;
    assert_eq!(ids(&papers), ["2409.10001", "2409.10002", "2409.10003"]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.url.query().unwrap().contains("limit=2")));
}

/// Serves `total` papers at most `cap` per page, whatever `limit` asks, and nothing after the end.
struct CappedPages {
    total: usize,
    cap: usize,
}

impl wiremock::Respond for CappedPages {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let param = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let limit = param("limit").unwrap_or(self.cap).min(self.cap);
        let start = param("p").unwrap_or(0) * limit;
        let items: Vec<Value> = (start..self.total.min(start + limit))
            .map(|i| item(&format!("2409.{:05}", 10001 + i), 1))
            .collect();
        ResponseTemplate::new(200).set_body_json(items)
    }
}

/// The endpoint's default page is 50 and its maximum undocumented: a server that serves fewer than
/// asked used to end the day at its first page.
#[tokio::test]
async fn a_server_that_serves_fewer_than_asked_still_gives_the_whole_day() {
    let server = MockServer::start().await;
    Mock::given(path("/api/daily_papers"))
        .respond_with(CappedPages {
            total: 120,
            cap: 50,
        })
        .mount(&server)
        .await;
    let list = client(&server, 100).await.daily(date()).await.unwrap();
    assert_eq!(list.papers.len(), 120);
    assert!(list.complete, "{list:?}");
    let unique: std::collections::HashSet<_> = list.papers.iter().map(|p| &p.id).collect();
    assert_eq!(unique.len(), 120);
}

#[tokio::test]
async fn a_link_header_says_whether_there_is_a_next_page() {
    let server = MockServer::start().await;
    let next = "<https://huggingface.co/api/daily_papers?date=2024-09-23&p=1>; rel=\"next\"";
    Mock::given(path("/api/daily_papers"))
        .and(query_param("p", "0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([item("2409.10001", 9)]))
                .insert_header("link", next),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/daily_papers"))
        .and(query_param("p", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([item("2409.10002", 8)]))
                .insert_header(
                    "link",
                    "<https://huggingface.co/api/daily_papers?date=2024-09-23&p=0>; rel=\"prev\"",
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server, 1).await.daily(date()).await.unwrap();
    assert_eq!(ids(&list.papers), ["2409.10001", "2409.10002"]);
    assert!(list.complete);
}

#[tokio::test]
async fn a_day_beyond_the_page_limit_is_incomplete_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(path("/api/daily_papers"))
        .respond_with(CappedPages { total: 40, cap: 5 })
        .mount(&server)
        .await;
    let list = client(&server, 5).await.daily(date()).await.unwrap();
    assert_eq!(list.papers.len(), 25, "five pages of five");
    assert!(!list.complete);
    assert!(
        list.note
            .as_deref()
            .is_some_and(|n| n.contains("page limit")),
        "{list:?}"
    );
}

/// A server that ignores `p` answers the first page again: the list stops there, each paper once,
/// and the note says why (it reaches the run's report).
#[tokio::test]
async fn a_server_that_ignores_the_page_stops_with_a_note_and_no_duplicates() {
    let server = MockServer::start().await;
    let first_page: Vec<Value> = (0..50)
        .map(|i| item(&format!("2409.{:05}", 10001 + i), 1))
        .collect();
    Mock::given(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first_page))
        .expect(2)
        .mount(&server)
        .await;
    let list = client(&server, 100).await.daily(date()).await.unwrap();
    assert_eq!(list.papers.len(), 50);
    let unique: std::collections::HashSet<_> = list.papers.iter().map(|p| &p.id).collect();
    assert_eq!(unique.len(), 50);
    assert!(
        list.note
            .as_deref()
            .is_some_and(|n| n.contains("ignore `p`")),
        "{list:?}"
    );
}

#[tokio::test]
async fn daily_with_no_announcement_is_an_empty_list() {
    let server = MockServer::start().await;
    page("0", json!([])).expect(1).mount(&server).await;
    let list = client(&server, 100).await.daily(date()).await.unwrap();
    assert!(list.papers.is_empty() && list.complete);
}

#[tokio::test]
async fn an_hf_error_body_with_404_is_an_api_error_for_the_date() {
    let server = MockServer::start().await;
    Mock::given(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(404).set_body_string(fixture("hf_error.json")))
        .mount(&server)
        .await;
    let err = client(&server, 100).await.daily(date()).await.unwrap_err();
    assert_eq!(
        err,
        SourceError::HfApi {
            date: date(),
            message: "Invalid value for parameter date: 2024-13-01".to_string()
        }
    );
    assert!(!err.is_unreachable());
}

#[tokio::test]
async fn a_non_json_error_page_is_an_http_error_with_url_and_status() {
    let server = MockServer::start().await;
    Mock::given(path("/api/daily_papers"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html>\n<h1>Service Unavailable</h1></html>"),
        )
        .mount(&server)
        .await;
    let err = client(&server, 100).await.daily(date()).await.unwrap_err();
    let SourceError::Http {
        url,
        status,
        message,
    } = &err
    else {
        panic!("expected Http, got {err:?}");
    };
    assert_eq!(*status, 503);
    assert!(
        url.starts_with(&server.uri()) && url.contains("date=2024-09-23"),
        "{url}"
    );
    assert_eq!(message, "<html> <h1>Service Unavailable</h1></html>");
}

#[tokio::test]
async fn truncated_json_from_the_server_is_malformed_naming_the_url() {
    let server = MockServer::start().await;
    Mock::given(path("/api/daily_papers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("hf_daily_truncated.json")),
        )
        .mount(&server)
        .await;
    let err = client(&server, 100).await.daily(date()).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::Malformed { input, .. } if input.contains("/api/daily_papers?date=2024-09-23")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    // Bind then drop a listener: the port is free and nothing answers on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = HfClient::new(&base, test_http(), 100, 5).unwrap();
    let err = client.daily(date()).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot reach {base}/api/daily_papers?date=2024-09-23"
        )),
        "{err}"
    );
}

#[test]
fn a_base_url_that_cannot_carry_a_path_is_rejected() {
    let err = HfClient::new("mailto:someone@example.org", test_http(), 100, 5).unwrap_err();
    assert!(matches!(err, SourceError::BadBaseUrl { .. }), "{err:?}");
    let err = HfClient::new("not a url", test_http(), 100, 5).unwrap_err();
    assert!(matches!(err, SourceError::BadBaseUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it() {
    let server = MockServer::start().await;
    // Every page repeats the first: the second request shows the end.
    Mock::given(path("/mirror/api/daily_papers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([item("2409.10001", 1)])))
        .expect(2)
        .mount(&server)
        .await;
    let client = HfClient::new(&format!("{}/mirror/", server.uri()), test_http(), 100, 5).unwrap();
    assert_eq!(
        ids(&client.daily(date()).await.unwrap().papers),
        ["2409.10001"]
    );
}

fn test_http() -> paper_digest::source::SourceHttp {
    paper_digest::source::SourceHttp::new(std::time::Duration::from_secs(10), 1 << 20).unwrap()
}

#[tokio::test]
async fn a_response_larger_than_the_limit_is_refused_naming_the_url_and_the_limit() {
    let server = MockServer::start().await;
    let items: Vec<Value> = (0..200)
        .map(|i| item(&format!("2409.{:05}", 10001 + i), 1))
        .collect();
    Mock::given(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items))
        .mount(&server)
        .await;
    let http =
        paper_digest::source::SourceHttp::new(std::time::Duration::from_secs(10), 4096).unwrap();
    let err = HfClient::new(&server.uri(), http, 100, 5)
        .unwrap()
        .daily(date())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, SourceError::TooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    assert!(
        text.contains(&server.uri()) && text.contains("4096"),
        "{text}"
    );
}
