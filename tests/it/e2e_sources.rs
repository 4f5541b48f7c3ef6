//! The scheduled job against local Hugging Face and arXiv servers: transient source failures are
//! retried, an empty day is "no announcement", and an unknown ID is named.

use crate::common::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn hf_env(chat: &str, hf: &str, dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = env_for(chat, dir);
    env.push(("PAPER_DIGEST_SOURCE__HF_BASE_URL".into(), hf.into()));
    env.push((
        "PAPER_DIGEST_SOURCE__FETCH_RETRY_INITIAL_SECS".into(),
        "0.01".into(),
    ));
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_outage_is_retried_not_a_lost_day() {
    let chat = MockChat::new(Behaviour::Correct);
    let chat_server = chat.start().await;
    let hf = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        )
        .up_to_n_times(2)
        .mount(&hf)
        .await;
    let day = std::fs::read_to_string(fixture("hf_2024-09-23.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .and(query_param("date", FIXTURE_DAY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(day, "application/json"))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let env = hf_env(&chat_server.uri(), &hf.uri(), dir.path());

    let output = run_cli(&env, &["run", "--date", FIXTURE_DAY]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(dir
        .path()
        .join(format!("out/daily_papers_ko_{FIXTURE_DAY}.md"))
        .is_file());
}

/// Serves a saved day `limit` items per page, honouring `p`, so paging can run out of pages.
struct PagedDay(Vec<serde_json::Value>);

impl wiremock::Respond for PagedDay {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let param = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let limit = param("limit").unwrap_or(50);
        let page: Vec<_> = self
            .0
            .iter()
            .skip(param("p").unwrap_or(0) * limit)
            .take(limit)
            .cloned()
            .collect();
        ResponseTemplate::new(200).set_body_json(page)
    }
}

/// A day longer than the page limit: the digest holds what was listed, the report says the day is
/// incomplete and why, and the run exits 1 so that a person hears of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_day_past_the_page_limit_is_published_as_far_as_listed_and_exits_1() {
    let chat = MockChat::new(Behaviour::Correct);
    let chat_server = chat.start().await;
    let hf = MockServer::start().await;
    let day: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("hf_2024-09-23.json")).unwrap())
            .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(PagedDay(day))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = hf_env(&chat_server.uri(), &hf.uri(), dir.path());
    env.push(("PAPER_DIGEST_SOURCE__HF_PAGE_SIZE".into(), "1".into()));
    env.push(("PAPER_DIGEST_SOURCE__HF_MAX_PAGES".into(), "2".into()));

    let output = run_cli(&env, &["run", "--date", FIXTURE_DAY]);

    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(
        report.contains(
            "- Listed: 2 papers, **incomplete** (the page limit was reached (2 pages of 1)"
        ),
        "{report}"
    );
    let digest = std::fs::read_to_string(
        dir.path()
            .join(format!("out/daily_papers_ko_{FIXTURE_DAY}.md")),
    )
    .unwrap();
    assert_eq!(
        digest.matches("https://arxiv.org/abs/").count(),
        2,
        "{digest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_day_is_no_announcement() {
    let chat = MockChat::new(Behaviour::Correct);
    let chat_server = chat.start().await;
    let hf = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let env = hf_env(&chat_server.uri(), &hf.uri(), dir.path());

    let output = run_cli(&env, &["run", "--date", "2024-09-21"]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(!dir
        .path()
        .join("out/daily_papers_ko_2024-09-21.md")
        .exists());
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(
        report.contains("no announcement for 2024-09-21"),
        "{report}"
    );
    assert!(chat.counts().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn yesterdays_list_again_is_no_announcement() {
    let chat = MockChat::new(Behaviour::Correct);
    let chat_server = chat.start().await;
    let hf = MockServer::start().await;
    let day = std::fs::read_to_string(fixture("hf_2024-09-23.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(day, "application/json"))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let env = hf_env(&chat_server.uri(), &hf.uri(), dir.path());

    assert_eq!(
        run_cli(&env, &["run", "--date", FIXTURE_DAY]).status.code(),
        Some(0)
    );
    let output = run_cli(&env, &["run", "--date", "2024-09-24"]);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(!dir
        .path()
        .join("out/daily_papers_ko_2024-09-24.md")
        .exists());
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-2.md")).unwrap();
    assert!(report.contains("already announced"), "{report}");
    assert!(chat.counts().values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn hf_error_body_exits_3_naming_the_date() {
    let hf = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"error":"Sorry, we can't find the page you are looking for."}"#,
            "application/json",
        ))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let env = hf_env("http://127.0.0.1:9", &hf.uri(), dir.path());

    let output = run_cli(&env, &["run", "--date", FIXTURE_DAY]);

    assert_eq!(
        output.status.code(),
        Some(3),
        "stderr: {}",
        text(&output.stderr)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(FIXTURE_DAY) && stderr.contains("can't find the page"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn summarize_fetches_by_id_and_names_unknown_ids() {
    let chat = MockChat::new(Behaviour::Correct);
    let chat_server = chat.start().await;
    let arxiv = MockServer::start().await;
    let feed = std::fs::read_to_string(fixture("arxiv_glowformer.xml")).unwrap();
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(feed, "application/atom+xml"))
        .mount(&arxiv)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_for(&chat_server.uri(), dir.path());
    env.push(("PAPER_DIGEST_SOURCE__ARXIV_BASE_URL".into(), arxiv.uri()));
    env.push((
        "PAPER_DIGEST_SOURCE__ARXIV_MIN_INTERVAL_SECS".into(),
        "0".into(),
    ));

    let output = run_cli(
        &env,
        &[
            "summarize",
            "https://arxiv.org/abs/2409.10001v2",
            "2409.99999",
        ],
    );

    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(stdout.contains("status: ok"), "{stdout}");
    assert!(stdout.contains("GlowFormer는"), "{stdout}");
    assert!(stdout.contains("2409.99999: unknown arXiv ID"), "{stdout}");
    assert_eq!(chat.counts().get("2409.10001"), Some(&1));

    let output = run_cli(&env, &["summarize", "2409.99999"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("2409.99999"));
}
