//! Publishing at the end of `run` and by `publish`: the report and the exit code say what was
//! published where and what failed; the alert tells a person about a day that needs one (also when
//! the run fails before any paper), and "no papers today" reads differently from "the job failed";
//! an incomplete day is never published; webhook secrets never reach the config, the output or logs.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const SLACK_PATH: &str = "/services/T1/B1/daysecret42";
const ALERT_PATH: &str = "/services/T1/B2/alertsecret42";

async fn mount(server: &MockServer, at: &str, status: u16) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_string("ok"))
        .mount(server)
        .await;
}

async fn posted(server: &MockServer, at: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == at)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// The site, a Slack day channel and a Slack alert, all at `server`.
fn targets(env: &mut Vec<(String, String)>, dir: &std::path::Path, server: &MockServer) {
    let uri = server.uri();
    for (key, value) in [
        ("PAPER_DIGEST_PUBLISH__SITE__ENABLED", "true".to_string()),
        (
            "PAPER_DIGEST_PUBLISH__SITE__DIR",
            dir.join("site").display().to_string(),
        ),
        ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true".to_string()),
        (
            "PAPER_DIGEST_SLACK_WEBHOOK_URL",
            format!("{uri}{SLACK_PATH}"),
        ),
        ("PAPER_DIGEST_PUBLISH__ALERT__ENABLED", "true".to_string()),
        (
            "PAPER_DIGEST_ALERT_WEBHOOK_URL",
            format!("{uri}{ALERT_PATH}"),
        ),
        ("PAPER_DIGEST_PUBLISH__RETRIES", "1".to_string()),
        (
            "PAPER_DIGEST_PUBLISH__RETRY_INITIAL_SECS",
            "0.05".to_string(),
        ),
    ] {
        env.push((key.to_string(), value));
    }
}

fn alert_text(alerts: &[Value]) -> String {
    alerts
        .first()
        .and_then(|a| a["text"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_run_publishes_its_day_says_where_and_sends_no_alert() {
    let Setup {
        server,
        dir,
        mut env,
        ..
    } = setup(MockChat::new(Behaviour::Correct)).await;
    mount(&server, SLACK_PATH, 200).await;
    mount(&server, ALERT_PATH, 200).await;
    targets(&mut env, dir.path(), &server);

    let output = run_fixture_day(&env, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(dir.path().join("site/days/2024-09-23.html").is_file());
    assert!(dir.path().join("site/index.html").is_file());
    assert_eq!(posted(&server, SLACK_PATH).await.len(), 1);
    assert!(
        posted(&server, ALERT_PATH).await.is_empty(),
        "nothing needs a person"
    );
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(report.contains("## Published\n"), "{report}");
    assert!(
        report.contains("| 2024-09-23 | site | published |"),
        "{report}"
    );
    assert!(
        report.contains("| 2024-09-23 | slack | published | 1 messages |"),
        "{report}"
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/reports/run-1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["published"][1]["target"], "slack");
    assert_eq!(json["published"][1]["outcome"], "published");

    // The same day again: nothing new is posted, the report says so, exit 0.
    let again = run_fixture_day(&env, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(posted(&server, SLACK_PATH).await.len(), 1);
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-2.md")).unwrap();
    assert!(
        report.contains("| 2024-09-23 | slack | unchanged |"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flagged_papers_are_held_counted_and_a_person_hears_once() {
    let Setup {
        server,
        dir,
        mut env,
        ..
    } = setup(MockChat::new(Behaviour::English)).await;
    mount(&server, SLACK_PATH, 200).await;
    mount(&server, ALERT_PATH, 200).await;
    targets(&mut env, dir.path(), &server);

    let output = run_fixture_day(&env, &[]);
    assert_eq!(output.status.code(), Some(1));
    let page = std::fs::read_to_string(dir.path().join("site/days/2024-09-23.html")).unwrap();
    assert!(
        !page.contains("<article"),
        "nothing flagged is published: {page}"
    );
    assert!(page.contains("No summaries to publish"), "{page}");
    let day = posted(&server, SLACK_PATH).await;
    assert!(
        day[0]
            .to_string()
            .contains("held for review or not summarized yet: 3 papers"),
        "{}",
        day[0]
    );
    let alerts = posted(&server, ALERT_PATH).await;
    assert_eq!(alerts.len(), 1, "one message per run");
    let alert = alert_text(&alerts);
    let report_path = dir
        .path()
        .join("out/reports/run-1.md")
        .display()
        .to_string();
    assert!(
        alert.starts_with("paper-digest: 2024-09-23 needs attention: 3 flagged"),
        "{alert}"
    );
    assert!(
        alert.contains("Papers: 3 listed, 0 ok, 3 flagged, 0 failed, 0 not attempted"),
        "{alert}"
    );
    assert!(
        alert.contains(&format!(
            "Report: {report_path} (paper-digest report --run 1)"
        )),
        "{alert}"
    );
    let report = std::fs::read_to_string(&report_path).unwrap();
    assert!(report.contains("| 2024-09-23 | alert | sent |"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_target_exits_1_keeps_the_day_and_publish_delivers_it_later() {
    let Setup {
        server,
        dir,
        mut env,
        ..
    } = setup(MockChat::new(Behaviour::Correct)).await;
    mount(&server, SLACK_PATH, 500).await;
    mount(&server, ALERT_PATH, 200).await;
    targets(&mut env, dir.path(), &server);

    let output = run_fixture_day(&env, &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a target that failed: not all published"
    );
    assert!(
        dir.path().join("site/days/2024-09-23.html").is_file(),
        "other targets still publish"
    );
    assert!(dir
        .path()
        .join("out/daily_papers_ko_2024-09-23.md")
        .is_file());
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(report.contains("## Published (1 failed)"), "{report}");
    assert!(report.contains("| 2024-09-23 | slack | **failed** | 0 of 1 messages posted; message 1 failed: HTTP 500 after 2 tries: ok |"), "{report}");
    let alert = alert_text(&posted(&server, ALERT_PATH).await);
    assert!(
        alert.contains("Publishing failed: slack (2024-09-23): 0 of 1 messages posted"),
        "{alert}"
    );
    assert!(!alert.contains("daysecret"), "{alert}");

    server.reset().await;
    mount(&server, SLACK_PATH, 200).await;
    let output = run_cli(&env, &["publish"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("2024-09-23\tslack\tpublished\t1 messages"),
        "{stdout}"
    );
    assert!(stdout.contains("2024-09-23\tsite\tunchanged"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_source_alerts_before_the_run_exits_3() {
    let hooks = MockServer::start().await;
    mount(&hooks, ALERT_PATH, 200).await;
    let hf = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&hf)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_for("http://127.0.0.1:9", dir.path());
    env.push(("PAPER_DIGEST_SOURCE__HF_BASE_URL".into(), hf.uri()));
    env.push(("PAPER_DIGEST_SOURCE__FETCH_RETRIES".into(), "0".into()));
    env.push(("PAPER_DIGEST_PUBLISH__ALERT__ENABLED".into(), "true".into()));
    env.push(("PAPER_DIGEST_PUBLISH__ALERT__KIND".into(), "json".into()));
    env.push((
        "PAPER_DIGEST_ALERT_WEBHOOK_URL".into(),
        format!("{}{ALERT_PATH}", hooks.uri()),
    ));

    let output = run_cli(&env, &["run", "--date", FIXTURE_DAY]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let alerts = posted(&hooks, ALERT_PATH).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["event"], "run_failed");
    assert_eq!(alerts[0]["run"]["date"], FIXTURE_DAY);
    let message = alerts[0]["text"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("paper-digest: the run for 2024-09-23 failed"),
        "{message}"
    );
    assert!(message.contains("503"), "{message}");
    assert!(message.contains("Report: none"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_announcement_is_said_as_such_when_asked_for() {
    let Setup {
        server,
        dir,
        mut env,
        ..
    } = setup(MockChat::new(Behaviour::Correct)).await;
    mount(&server, ALERT_PATH, 200).await;
    mount(&server, SLACK_PATH, 200).await;
    targets(&mut env, dir.path(), &server);
    let empty = dir.path().join("hf_2024-09-21.json");
    std::fs::write(&empty, "[]").unwrap();
    let input = empty.display().to_string();
    let args = ["run", "--source", "file", "--input", input.as_str()];

    assert_eq!(run_cli(&env, &args).status.code(), Some(0));
    assert!(
        posted(&server, ALERT_PATH).await.is_empty(),
        "off by default"
    );
    assert!(
        posted(&server, SLACK_PATH).await.is_empty(),
        "nothing to publish"
    );

    env.push((
        "PAPER_DIGEST_PUBLISH__ALERT__ON_NO_ANNOUNCEMENT".into(),
        "true".into(),
    ));
    assert_eq!(run_cli(&env, &args).status.code(), Some(0));
    let alert = alert_text(&posted(&server, ALERT_PATH).await);
    assert!(
        alert.starts_with("paper-digest: no announcement for 2024-09-21 (no papers today)"),
        "{alert}"
    );
    assert!(alert.contains("this is not a failure"), "{alert}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incomplete_day_is_never_published() {
    use paper_digest::store::{Listing, RunId, Store};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digest.db");
    store_day(
        &db,
        "2024-09-23",
        &(0..3).map(day_paper).collect::<Vec<_>>(),
    );
    Store::open(&db)
        .and_then(|store| {
            store.record_listing(
                RunId(1),
                &Listing {
                    listed: 3,
                    complete: false,
                    note: Some("page 2 of the list failed (HTTP 502)".into()),
                },
            )
        })
        .unwrap();
    let site = dir.path().join("site").display().to_string();
    let env = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__SITE__ENABLED", "true"),
            ("PAPER_DIGEST_PUBLISH__SITE__DIR", &site),
        ],
    );
    let output = run_cli(&env, &["publish", "--date", "2024-09-23"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("2024-09-23\tsite\twithheld\tthe source's list of the day was incomplete (page 2 of the list failed (HTTP 502)): never published"),
        "{stdout}"
    );
    assert!(!dir.path().join("site/days/2024-09-23.html").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_secrets_come_only_from_the_environment_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    store_day(&dir.path().join("digest.db"), "2024-09-23", &[day_paper(0)]);
    let secret = "https://hooks.slack.test/services/T9/B9/verysecret";

    // Enabled without a URL.
    let env = publish_env(
        dir.path(),
        &[("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true")],
    );
    let output = run_cli(&env, &["publish"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("publish.slack is enabled but the Slack webhook URL is not set: set PAPER_DIGEST_SLACK_WEBHOOK_URL or publish.slack.url_file"),
        "{}",
        text(&output.stderr)
    );

    // In a config file, or as a config variable: refused, and never echoed.
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("[publish.slack]\nenabled = true\nurl = \"{secret}\"\n"),
    )
    .unwrap();
    let config = config.display().to_string();
    let output = run_cli(&env, &["--config", &config, "publish"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("`publish.slack.url`") && stderr.contains("never read from a config file"),
        "{stderr}"
    );
    assert!(!stderr.contains("verysecret"), "{stderr}");
    let as_key = publish_env(dir.path(), &[("PAPER_DIGEST_PUBLISH__SLACK__URL", secret)]);
    let output = run_cli(&as_key, &["publish"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !text(&output.stderr).contains("verysecret"),
        "{}",
        text(&output.stderr)
    );

    // Not a URL: named by where it came from, not quoted.
    let broken = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true"),
            (
                "PAPER_DIGEST_SLACK_WEBHOOK_URL",
                "hooks.slack.test/verysecret",
            ),
        ],
    );
    let output = run_cli(&broken, &["publish"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("the Slack webhook URL in PAPER_DIGEST_SLACK_WEBHOOK_URL is not an http:// or https:// URL"), "{stderr}");
    assert!(!stderr.contains("verysecret"), "{stderr}");

    // From a file (a mounted secret).
    let file = dir.path().join("slack-url");
    std::fs::write(&file, "ftp://nope\n").unwrap();
    let file = file.display().to_string();
    let from_file = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true"),
            ("PAPER_DIGEST_PUBLISH__SLACK__URL_FILE", &file),
        ],
    );
    let output = run_cli(&from_file, &["publish"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains(&format!("the Slack webhook URL in {file} is not")),
        "{}",
        text(&output.stderr)
    );

    // Nothing enabled: `publish` says what to set.
    let output = run_cli(&publish_env(dir.path(), &[]), &["publish"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no publish target is enabled"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn webhook_urls_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    store_day(&dir.path().join("digest.db"), "2024-09-23", &[day_paper(0)]);
    // Nothing listens there: the failure is logged and reported, the URL is not.
    let env = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__DISCORD__ENABLED", "true"),
            (
                "PAPER_DIGEST_DISCORD_WEBHOOK_URL",
                "http://127.0.0.1:9/api/webhooks/1/logsecret99",
            ),
            ("PAPER_DIGEST_PUBLISH__RETRIES", "0"),
            ("PAPER_DIGEST_LOG_FORMAT", "json"),
        ],
    );
    let output = run_binary(&env, &["-v", "publish"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        stdout.contains(
            "discord\tfailed\t0 of 1 messages posted; message 1 failed: unreachable after 1 tries"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("publishing failed"), "{stderr}");
    for shown in [&stdout, &stderr] {
        assert!(!shown.contains("logsecret99"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_list_was_cut_short_publishes_nothing_and_says_why() {
    let Setup {
        server,
        dir,
        mut env,
        ..
    } = setup(MockChat::new(Behaviour::Correct)).await;
    mount(&server, SLACK_PATH, 200).await;
    mount(&server, ALERT_PATH, 200).await;
    targets(&mut env, dir.path(), &server);
    // Pages of one paper, and two pages at most: the page limit is reached before the list ends.
    let day: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("hf_2024-09-23.json")).unwrap())
            .unwrap();
    let hf = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/daily_papers"))
        .respond_with(move |request: &wiremock::Request| {
            let page = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "p")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            ResponseTemplate::new(200)
                .set_body_json(day.iter().skip(page).take(1).collect::<Vec<_>>())
        })
        .mount(&hf)
        .await;
    env.push(("PAPER_DIGEST_SOURCE__HF_BASE_URL".into(), hf.uri()));
    env.push(("PAPER_DIGEST_SOURCE__HF_PAGE_SIZE".into(), "1".into()));
    env.push(("PAPER_DIGEST_SOURCE__HF_MAX_PAGES".into(), "2".into()));

    let output = run_cli(&env, &["run", "--date", FIXTURE_DAY]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        dir.path()
            .join("out/daily_papers_ko_2024-09-23.md")
            .is_file(),
        "the digest is written"
    );
    assert!(
        !dir.path().join("site/days/2024-09-23.html").exists(),
        "but never published"
    );
    assert!(posted(&server, SLACK_PATH).await.is_empty());
    let report = std::fs::read_to_string(dir.path().join("out/reports/run-1.md")).unwrap();
    assert!(
        report.contains(
            "| 2024-09-23 | slack | withheld | the source's list of the day was incomplete"
        ),
        "{report}"
    );
    let alert = alert_text(&posted(&server, ALERT_PATH).await);
    assert!(alert.contains("incomplete list, not published"), "{alert}");
    assert!(
        alert.contains("Incomplete list (the day is not published): the page limit was reached"),
        "{alert}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_cannot_start_still_alerts() {
    let hooks = MockServer::start().await;
    mount(&hooks, ALERT_PATH, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = env_for("http://127.0.0.1:9", dir.path())
        .into_iter()
        .filter(|(key, _)| key != "OPENAI_API_KEY")
        .collect();
    env.push(("PAPER_DIGEST_PUBLISH__ALERT__ENABLED".into(), "true".into()));
    env.push((
        "PAPER_DIGEST_ALERT_WEBHOOK_URL".into(),
        format!("{}{ALERT_PATH}", hooks.uri()),
    ));

    let output = run_fixture_day(&env, &["--date", FIXTURE_DAY]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let alert = alert_text(&posted(&hooks, ALERT_PATH).await);
    assert!(
        alert.starts_with("paper-digest: the run for 2024-09-23 failed"),
        "{alert}"
    );
    assert!(alert.contains("Error: no API key"), "{alert}");
}
