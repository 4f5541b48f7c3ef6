//! The API key never leaves the process except in the `Authorization` header: not in logs (human or
//! JSON, at trace level), not in the database, not in the run report or the digest, even when the
//! model server's error answers echo the request headers back (some proxies and gateways do).

use std::path::Path;

use crate::common::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "sk-test-SECRET-4d2f9a";
/// Parts of the key that identify it; none may appear anywhere, not even a cut-off prefix.
const KEY_PARTS: [&str; 2] = ["SECRET", "4d2f9a"];

/// How the echoing server answers every chat request.
#[derive(Clone, Copy, Debug)]
enum Echo {
    /// OpenAI's JSON error shape, 401; the message is long enough that the client cuts it
    /// (at 1,000 characters) right inside the echoed key.
    Unauthorized,
    /// A plain-text 500 (a proxy's error page), cut by the client at 300 characters inside the key.
    ServerError,
    /// A 200 whose body is not JSON at all, also quoted (300 characters) in the error.
    Garbage,
}

/// Every request header, as a debugging proxy would print them.
fn dump_headers(request: &Request) -> String {
    request
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `len` characters of filler, so that what follows starts at a chosen offset.
fn pad(len: usize) -> String {
    "x".repeat(len)
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let key = authorization.trim_start_matches("Bearer ");
        let headers = dump_headers(request);
        // The key starts so that the client's cut (1,000 or 300 characters) falls after "SECRET".
        let cut_key_at = |limit: usize| pad(limit - "sk-test-SECRET".len());
        match self {
            Echo::Unauthorized => ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": {
                    "message": format!("{}{key} is not a valid key. You sent {authorization} with {headers}", cut_key_at(1000)),
                    "type": "invalid_request_error",
                    "param": null,
                    "code": "invalid_api_key"
                }
            })),
            Echo::ServerError => ResponseTemplate::new(500).set_body_string(format!(
                "{}{key} upstream failed; request headers: {headers}",
                cut_key_at(300)
            )),
            Echo::Garbage => ResponseTemplate::new(200).set_body_string(format!(
                "{}{key} <html>proxy debug: {headers}</html>",
                cut_key_at(300)
            )),
        }
    }
}

async fn echo_server(echo: Echo) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(echo)
        .mount(&server)
        .await;
    server
}

/// Every text and blob value of every table, one line per row.
fn database_text(db: &Path) -> String {
    let connection = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!tables.is_empty(), "no tables in {}", db.display());
    let mut text = String::new();
    for table in tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            text.push_str(&table);
            for column in 0..columns {
                let value = match row.get_ref(column).unwrap() {
                    rusqlite::types::ValueRef::Text(bytes)
                    | rusqlite::types::ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes),
                    _ => continue,
                };
                text.push('\t');
                text.push_str(&value);
            }
            text.push('\n');
        }
    }
    text
}

/// Every file under `dir` (database, its WAL, digest, reports), raw bytes as lossy text.
fn all_files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(all_files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((path.display().to_string(), text(&bytes)));
        }
    }
    found
}

fn assert_no_key(place: &str, text: &str) {
    for part in KEY_PARTS {
        assert!(
            !text.contains(part),
            "{place} contains {part:?} of the API key:\n{text}"
        );
    }
}

async fn run_against(echo: Echo, log_format: &str) {
    let server = echo_server(echo).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_for(&server.uri(), dir.path());
    env.push(("OPENAI_API_KEY".into(), KEY.into()));
    let input = fixture("hf_2024-09-23.json");

    let output = run_binary(
        &env,
        &[
            "--log-format",
            log_format,
            "-vv",
            "run",
            "--source",
            "file",
            "--input",
            input.to_str().unwrap(),
        ],
    );
    let what = format!("{echo:?} answer, {log_format} logs");

    // The key did reach the server, and the server's echo did reach the program.
    let requests = server.received_requests().await.unwrap();
    assert!(
        !requests.is_empty(),
        "{what}: no request reached the server"
    );
    assert!(
        requests.iter().all(|r| dump_headers(r).contains(KEY)),
        "{what}: a request was sent without the key"
    );
    let logs = format!("{}{}", text(&output.stdout), text(&output.stderr));
    // The echo (its filler) is quoted in the logs and stored: the leak path is exercised.
    assert!(
        logs.contains(&pad(100)),
        "{what}: the echoed error is not in the logs (exit {:?}):\n{logs}",
        output.status.code()
    );

    assert_no_key(&format!("{what}: logs"), &logs);
    let db = dir.path().join("digest.db");
    let stored = database_text(&db);
    assert!(
        stored.contains(&pad(100)),
        "{what}: the echoed error was not stored:\n{stored}"
    );
    assert_no_key(&format!("{what}: database"), &stored);
    let files = all_files(dir.path());
    for expected in ["run-1.md", "run-1.json", "daily_papers_ko_2024-09-23.md"] {
        assert!(
            files.iter().any(|(name, _)| name.ends_with(expected)),
            "{what}: {expected} was not written"
        );
    }
    for (name, content) in &files {
        assert_no_key(&format!("{what}: {name}"), content);
    }
}

async fn run_in_both_log_formats(echo: Echo) {
    for log_format in ["human", "json"] {
        run_against(echo, log_format).await;
    }
}

/// The client cut long error messages before removing the key, leaving `sk-test-SECRET…`.
#[tokio::test(flavor = "multi_thread")]
async fn regression_key_prefix_leaked_when_a_401_message_was_clipped_inside_the_key() {
    run_in_both_log_formats(Echo::Unauthorized).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_key_prefix_leaked_when_a_500_body_was_clipped_inside_the_key() {
    run_in_both_log_formats(Echo::ServerError).await;
}

/// async-openai logged the whole unparseable 200 body, key included, at error level.
#[tokio::test(flavor = "multi_thread")]
async fn regression_async_openai_logged_a_non_json_200_body_with_the_key() {
    run_in_both_log_formats(Echo::Garbage).await;
}
