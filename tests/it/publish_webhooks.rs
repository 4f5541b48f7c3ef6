//! Slack, Discord and JSON webhooks against local servers answering as the services do: the exact
//! payload shapes, a 100-paper day split within every limit, reruns that post nothing, a changed day
//! posted once more, 429 + Retry-After waited out, failures reported without losing the day, and a
//! posting cut short resumed without repeating a message.

use std::collections::BTreeMap;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const DAY: &str = "2024-09-23";
const SLACK_PATH: &str = "/services/T0001/B0001/slacksecret0123456789";
const DISCORD_PATH: &str = "/api/webhooks/1234/discordsecret0123456789";
const JSON_PATH: &str = "/hooks/jsonsecret0123456789";

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Every webhook enabled, pointing at `server`.
fn webhook_env(
    dir: &std::path::Path,
    server: &MockServer,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let uri = server.uri();
    let mut pairs = vec![
        ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true".to_string()),
        ("PAPER_DIGEST_PUBLISH__DISCORD__ENABLED", "true".to_string()),
        ("PAPER_DIGEST_PUBLISH__WEBHOOK__ENABLED", "true".to_string()),
        (
            "PAPER_DIGEST_SLACK_WEBHOOK_URL",
            format!("{uri}{SLACK_PATH}"),
        ),
        (
            "PAPER_DIGEST_DISCORD_WEBHOOK_URL",
            format!("{uri}{DISCORD_PATH}"),
        ),
        ("PAPER_DIGEST_WEBHOOK_URL", format!("{uri}{JSON_PATH}")),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    publish_env(dir, &pairs)
}

async fn mount_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISCORD_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(JSON_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(server)
        .await;
}

/// The JSON bodies each path received, in order.
async fn bodies(server: &MockServer) -> BTreeMap<String, Vec<Value>> {
    let mut by_path: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for request in server.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        by_path
            .entry(request.url.path().to_string())
            .or_default()
            .push(body);
    }
    by_path
}

fn count(bodies: &BTreeMap<String, Vec<Value>>, at: &str) -> usize {
    bodies.get(at).map_or(0, Vec::len)
}

fn publish(env: &[(String, String)]) -> std::process::Output {
    run_cli(env, &["publish", "--date", DAY])
}

/// Every Slack message within Slack's limits; the paper IDs in the order they were posted.
fn check_slack(messages: &[Value]) -> Vec<String> {
    let mut ids = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let text = message["text"]
            .as_str()
            .unwrap_or_else(|| panic!("text: {message}"));
        assert!(
            text.contains(&format!("({}/{})", index + 1, messages.len())),
            "{text}"
        );
        let blocks = message["blocks"]
            .as_array()
            .unwrap_or_else(|| panic!("blocks: {message}"));
        assert!(
            blocks.len() <= 50,
            "message {index}: {} blocks",
            blocks.len()
        );
        let mut total = units(text);
        for (at, block) in blocks.iter().enumerate() {
            match block["type"].as_str() {
                Some("header") => {
                    assert_eq!(
                        (index, at),
                        (0, 0),
                        "only the first message opens with the header"
                    );
                    assert_eq!(block["text"]["type"], "plain_text");
                    let header = block["text"]["text"].as_str().unwrap_or_default();
                    assert!(units(header) <= 150);
                    total += units(header);
                }
                Some("context") => {
                    assert!(
                        index > 0 && at == 0,
                        "continued messages open with their part"
                    );
                    total += units(block["elements"][0]["text"].as_str().unwrap_or_default());
                }
                Some("section") => {
                    assert_eq!(block["text"]["type"], "mrkdwn");
                    let section = block["text"]["text"].as_str().unwrap_or_default();
                    assert!(units(section) <= 3_000, "{} units", units(section));
                    total += units(section);
                    for line in section.lines() {
                        if let Some(rest) = line.strip_prefix("*<https://arxiv.org/abs/") {
                            ids.extend(rest.split('|').next().map(str::to_string));
                        }
                    }
                }
                other => panic!("unexpected block type {other:?}"),
            }
        }
        assert!(total <= 40_000, "message {index}: {total} units of text");
    }
    ids
}

/// Every Discord message within Discord's limits; the paper IDs in the order they were posted.
fn check_discord(messages: &[Value]) -> Vec<String> {
    let mut ids = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let content = message["content"].as_str().unwrap_or_default();
        assert!(units(content) <= 2_000);
        assert!(
            content.contains(&format!("({}/{})", index + 1, messages.len())),
            "{content}"
        );
        assert_eq!(
            message["allowed_mentions"],
            serde_json::json!({"parse": []})
        );
        let embeds = message["embeds"]
            .as_array()
            .unwrap_or_else(|| panic!("embeds: {message}"));
        assert!(embeds.len() <= 10, "{} embeds", embeds.len());
        let mut total = 0;
        for embed in embeds {
            let title = embed["title"].as_str().unwrap_or_default();
            let description = embed["description"].as_str().unwrap_or_default();
            assert!(units(title) <= 256);
            assert!(units(description) <= 4_096, "{} units", units(description));
            total += units(title) + units(description);
            if let Some(url) = embed["url"].as_str() {
                ids.extend(
                    url.strip_prefix("https://arxiv.org/abs/")
                        .map(str::to_string),
                );
            }
        }
        assert!(total <= 6_000, "message {index}: {total} units in embeds");
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_paper_day_is_split_within_every_limit_posted_once_and_updated_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digest.db");
    let papers: Vec<DayPaper> = (0..100).map(day_paper).collect();
    store_day(&db, DAY, &papers);
    let server = MockServer::start().await;
    mount_ok(&server).await;
    let env = webhook_env(dir.path(), &server, &[]);

    let output = publish(&env);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let sent = bodies(&server).await;
    let (slack, discord, json) = (&sent[SLACK_PATH], &sent[DISCORD_PATH], &sent[JSON_PATH]);

    // Publication order: votes, highest first, ties by ID.
    let mut expected: Vec<&DayPaper> = papers.iter().collect();
    expected.sort_by(|a, b| b.votes.cmp(&a.votes).then_with(|| a.id.cmp(&b.id)));
    let expected: Vec<String> = expected.iter().map(|p| p.id.clone()).collect();
    assert_eq!(check_slack(slack), expected);
    assert_eq!(check_discord(discord), expected);
    assert_eq!(json.len(), 1, "one JSON document per day");
    let day = &json[0];
    assert_eq!(day["event"], "day_published");
    assert_eq!(day["date"], DAY);
    assert_eq!(
        (
            day["listed"].as_u64(),
            day["published"].as_u64(),
            day["held"].as_u64()
        ),
        (Some(100), Some(100), Some(0))
    );
    assert_eq!(day["papers"].as_array().map(Vec::len), Some(100));
    let first = &day["papers"][0];
    for key in [
        "id", "url", "title", "authors", "votes", "status", "sections",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(first["sections"]["whats_new"]
        .as_str()
        .is_some_and(|s| s.contains("LLM")));
    assert!(day["markdown"]
        .as_str()
        .is_some_and(|m| m.starts_with("## Daily Papers (2024-09-23)")));
    eprintln!(
        "100-paper day, sections of 300-1,100 characters: {} Slack messages, {} Discord messages, 1 JSON document",
        slack.len(),
        discord.len()
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "{DAY}\tslack\tpublished\t{} messages",
            slack.len()
        )),
        "{stdout}"
    );

    // A rerun posts nothing.
    let (n_slack, n_discord) = (slack.len(), discord.len());
    let again = publish(&env);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("slack\tunchanged"),
        "{}",
        text(&again.stdout)
    );
    let after_rerun = bodies(&server).await;
    assert_eq!(
        (
            count(&after_rerun, SLACK_PATH),
            count(&after_rerun, DISCORD_PATH),
            count(&after_rerun, JSON_PATH)
        ),
        (n_slack, n_discord, 1)
    );

    // A changed summary: the day is posted once more, as an update; then nothing again.
    let mut changed = papers.clone();
    changed[5].sections[0] =
        "개선된 요약입니다. 대형 언어 모델(LLM)의 추론을 더 빠르게 만드는 방법을 설명합니다."
            .to_string();
    store_day(&db, DAY, &changed);
    assert_eq!(publish(&env).status.code(), Some(0));
    assert_eq!(publish(&env).status.code(), Some(0));
    let after_change = bodies(&server).await;
    let slack_update = &after_change[SLACK_PATH][n_slack..];
    let discord_update = &after_change[DISCORD_PATH][n_discord..];
    assert_eq!(
        slack_update.len(),
        n_slack,
        "the changed day is posted once"
    );
    assert_eq!(discord_update.len(), n_discord);
    assert_eq!(count(&after_change, JSON_PATH), 2);
    assert!(slack_update[0]["blocks"][0]["text"]["text"]
        .as_str()
        .is_some_and(|h| h.contains("updated")));
    assert_eq!(after_change[JSON_PATH][1]["event"], "day_updated");
    assert_eq!(check_slack(slack_update), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out_and_a_failing_webhook_keeps_the_day() {
    let dir = tempfile::tempdir().unwrap();
    store_day(
        &dir.path().join("digest.db"),
        DAY,
        &(0..3).map(day_paper).collect::<Vec<_>>(),
    );
    let server = MockServer::start().await;
    // Slack and Discord answer their first request with 429 and Retry-After, as they do.
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("rate_limited"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISCORD_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(serde_json::json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // The JSON endpoint is down.
    Mock::given(method("POST"))
        .and(path(JSON_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISCORD_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let env = webhook_env(
        dir.path(),
        &server,
        &[("PAPER_DIGEST_PUBLISH__RETRIES", "2")],
    );

    let output = publish(&env);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed target exits 1: {stdout}"
    );
    assert!(
        stdout.contains(&format!("{DAY}\tslack\tpublished\t1 messages")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{DAY}\tdiscord\tpublished\t1 messages")),
        "{stdout}"
    );
    assert!(
        stdout.contains("webhook\tfailed\t0 of 1 messages posted; message 1 failed: HTTP 503 after 3 tries: upstream unavailable"),
        "{stdout}"
    );
    let sent = bodies(&server).await;
    assert_eq!(
        (
            count(&sent, SLACK_PATH),
            count(&sent, DISCORD_PATH),
            count(&sent, JSON_PATH)
        ),
        (2, 2, 3),
        "429s waited out and tried again; 503 tried 1 + 2 times"
    );
    assert_eq!(
        sent[SLACK_PATH][0], sent[SLACK_PATH][1],
        "the same message again"
    );
    for secret in ["slacksecret", "discordsecret", "jsonsecret"] {
        assert!(!stdout.contains(secret) && !text(&output.stderr).contains(secret));
        let db = std::fs::read(dir.path().join("digest.db")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&db).contains(secret),
            "{secret} in the store"
        );
    }

    // The endpoint is back: only what it is missing is posted.
    server.reset().await;
    mount_ok(&server).await;
    let output = publish(&env);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let sent = bodies(&server).await;
    assert_eq!(
        (
            count(&sent, SLACK_PATH),
            count(&sent, DISCORD_PATH),
            count(&sent, JSON_PATH)
        ),
        (0, 0, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_too_large_for_a_duration_fails_the_webhook_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    store_day(&dir.path().join("digest.db"), DAY, &[day_paper(0)]);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1e20")
                .set_body_string("rate_limited"),
        )
        .mount(&server)
        .await;
    let url = format!("{}{SLACK_PATH}", server.uri());
    let env = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true"),
            ("PAPER_DIGEST_SLACK_WEBHOOK_URL", &url),
            ("PAPER_DIGEST_PUBLISH__RETRIES", "1"),
        ],
    );
    let output = publish(&env);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Past `Duration::MAX`: taken as no Retry-After at all, so the backoff paces the tries.
    assert!(
        stdout.contains(&format!(
            "{DAY}\tslack\tfailed\t0 of 1 messages posted; message 1 failed: HTTP 429 after 2 tries: rate_limited"
        )),
        "{stdout}"
    );
    assert_eq!(count(&bodies(&server).await, SLACK_PATH), 2);
}

/// The backoff's jitter can add to its cap: a server error used to end as "rate limited (HTTP 429):
/// asked to wait" once our own wait went past `retry_max_wait_secs`, and left tries unused.
#[tokio::test(flavor = "multi_thread")]
async fn our_own_backoff_is_never_a_wait_too_long() {
    let dir = tempfile::tempdir().unwrap();
    store_day(&dir.path().join("digest.db"), DAY, &[day_paper(0)]);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    let url = format!("{}{SLACK_PATH}", server.uri());
    let env = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__SLACK__ENABLED", "true"),
            ("PAPER_DIGEST_SLACK_WEBHOOK_URL", &url),
            ("PAPER_DIGEST_PUBLISH__RETRIES", "4"),
            ("PAPER_DIGEST_PUBLISH__RETRY_INITIAL_SECS", "0.01"),
            ("PAPER_DIGEST_PUBLISH__RETRY_MAX_WAIT_SECS", "0.02"),
        ],
    );
    let output = publish(&env);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{DAY}\tslack\tfailed\t0 of 1 messages posted; message 1 failed: HTTP 503 after 5 tries: upstream unavailable"
        )),
        "{stdout}"
    );
    assert_eq!(count(&bodies(&server).await, SLACK_PATH), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_message_is_not_retried_and_a_posting_cut_short_resumes() {
    let dir = tempfile::tempdir().unwrap();
    store_day(
        &dir.path().join("digest.db"),
        DAY,
        &(0..30).map(day_paper).collect::<Vec<_>>(),
    );
    let server = MockServer::start().await;
    // Discord takes two messages, then refuses the third (a permanent 400).
    Mock::given(method("POST"))
        .and(path(DISCORD_PATH))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISCORD_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"message": "Invalid Form Body", "code": 50035})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let url = format!("{uri}{DISCORD_PATH}");
    let env = publish_env(
        dir.path(),
        &[
            ("PAPER_DIGEST_PUBLISH__DISCORD__ENABLED", "true"),
            ("PAPER_DIGEST_DISCORD_WEBHOOK_URL", &url),
        ],
    );
    let output = publish(&env);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 of "), "{stdout}");
    assert!(
        stdout.contains("message 3 failed: HTTP 400 after 1 tries"),
        "{stdout}"
    );
    let first = bodies(&server).await[DISCORD_PATH].clone();
    assert_eq!(first.len(), 3, "a 400 is not tried again");

    server.reset().await;
    mount_ok(&server).await;
    let output = publish(&env);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(
        text(&output.stdout).contains("resumed after message 2"),
        "{}",
        text(&output.stdout)
    );
    let rest = bodies(&server).await[DISCORD_PATH].clone();
    assert_eq!(
        rest[0], first[2],
        "the refused message is the first one sent again"
    );
    let all: Vec<Value> = first[..2].iter().chain(rest.iter()).cloned().collect();
    assert_eq!(check_discord(&all).len(), 30, "every paper exactly once");
    assert!(rest[0]["content"]
        .as_str()
        .is_some_and(|c| c.contains(&format!("(3/{})", all.len()))));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_stays_text_in_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut hostile = day_paper(1);
    hostile.title =
        "<!channel> **Bold** [click](https://evil.test) @everyone <@123> `code`\n# Heading\u{202E}"
            .to_string();
    hostile.authors = vec![
        "Mallory <script>alert(1)</script>".to_string(),
        "javascript:alert(1)".to_string(),
    ];
    hostile.sections[0] = "요약 || spoiler || > quote & <https://evil.test|link> ~~strike~~ _it_ data:text/html,x 입니다.".to_string();
    let mut flagged = day_paper(2);
    flagged.status = Some(paper_digest::paper::Status::Flagged);
    flagged.reasons = vec!["anchors: see https://tracker.test".to_string()];
    store_day(&dir.path().join("digest.db"), DAY, &[hostile, flagged]);
    let server = MockServer::start().await;
    mount_ok(&server).await;
    let env = webhook_env(dir.path(), &server, &[]);
    assert_eq!(publish(&env).status.code(), Some(0));
    let sent = bodies(&server).await;

    let slack = sent[SLACK_PATH][0].to_string();
    for raw in [
        "<!channel>",
        "<https://evil.test|link>",
        "<script>",
        "<@123>",
        "javascript:",
        "data:text",
        "\u{202E}",
    ] {
        assert!(!slack.contains(raw), "{raw} in {slack}");
    }
    assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
    assert!(
        !slack.contains("2409.10002"),
        "the flagged paper is held: {slack}"
    );
    assert!(slack.contains("1 held for review"), "{slack}");

    let discord = &sent[DISCORD_PATH][0];
    let embed = &discord["embeds"][0];
    let description = embed["description"].as_str().unwrap_or_default();
    for raw in [
        "||",
        "~~",
        "<script>",
        "[click]",
        "javascript:",
        "data:text",
    ] {
        assert!(!description.contains(raw), "{raw} in {description}");
    }
    assert!(description.contains("\\|\\|"), "{description}");
    assert!(embed["title"]
        .as_str()
        .is_some_and(|t| !t.contains('\n') && !t.contains('\u{202E}')));
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));

    let json = &sent[JSON_PATH][0];
    assert_eq!(json["held"], 1);
    let title = json["papers"][0]["title"].as_str().unwrap_or_default();
    assert!(
        !title.contains('\n') && !title.contains('\u{202E}'),
        "{title}"
    );

    // With flagged summaries included, the flagged one comes with its warning and unlinked addresses.
    let with_flagged = run_cli(&env, &["publish", "--date", DAY, "--include-flagged"]);
    assert_eq!(with_flagged.status.code(), Some(0));
    let sent = bodies(&server).await;
    let slack = sent[SLACK_PATH]
        .last()
        .map(Value::to_string)
        .unwrap_or_default();
    assert!(slack.contains("flagged for review"), "{slack}");
    assert!(slack.contains("https[:]//tracker.test"), "{slack}");
}

/// Paper `n` with sections as long as in published Korean digests (180 to 420 characters).
fn real_length_paper(n: usize) -> DayPaper {
    let mut paper = day_paper(n);
    for (k, section) in paper.sections.iter_mut().enumerate() {
        let keep = 180 + (n * 53 + k * 97) % 240;
        *section = section.chars().take(keep).collect();
    }
    paper
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_paper_day_of_real_length_fits_in_few_messages() {
    let dir = tempfile::tempdir().unwrap();
    let papers: Vec<DayPaper> = (0..100).map(real_length_paper).collect();
    store_day(&dir.path().join("digest.db"), DAY, &papers);
    let server = MockServer::start().await;
    mount_ok(&server).await;
    let output = publish(&webhook_env(dir.path(), &server, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let sent = bodies(&server).await;
    let (slack, discord) = (&sent[SLACK_PATH], &sent[DISCORD_PATH]);
    assert_eq!(check_slack(slack).len(), 100);
    assert_eq!(check_discord(discord).len(), 100);
    eprintln!(
        "100-paper day, sections of 180-420 characters: {} Slack messages, {} Discord messages",
        slack.len(),
        discord.len()
    );
}
