//! Every route of the review server, in-process (`tower::ServiceExt::oneshot` on the router):
//! status codes, escaping of hostile titles, abstracts and answers, 401/403 without or with a wrong
//! token, CSRF failures, security headers, and decisions recorded with their trail.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use paper_digest::store::{ReviewAction, ReviewState, Store};
use tower::ServiceExt;

use crate::common::*;
use crate::web_support::*;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).unwrap()
}

/// A form post, its fields url-encoded.
fn post_form(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body = reqwest::Url::parse_with_params("http://form.test/", fields)
        .unwrap()
        .query()
        .unwrap_or_default()
        .to_string();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body)).unwrap()
}

fn post_json(path: &str, bearer: Option<&str>, body: serde_json::Value) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn bearer_get(path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// `name=value` of a `Set-Cookie` header setting `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Logs in as `name`; returns the session cookie (`pd_session=…`) and its CSRF token.
async fn login(app: &Router, name: &str) -> (String, String) {
    let form = send(app, get("/login?next=/queue", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    let login_cookie = cookie_pair(&set_cookie(&form.headers, "pd_login").unwrap());
    let csrf = csrf_of(&form.body);
    let done = send(
        app,
        post_form(
            "/login",
            Some(&login_cookie),
            &[
                ("csrf", &csrf),
                ("token", TOKEN),
                ("name", name),
                ("next", "/queue"),
            ],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers[header::LOCATION], "/queue");
    let session = set_cookie(&done.headers, "pd_session").unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    let session = cookie_pair(&session);
    let page = send(app, get(&format!("/papers/{GOOD}"), Some(&session))).await;
    assert!(page.body.contains(name), "logged in as {name}");
    (session, csrf_of(&page.body))
}

fn assert_escaped(page: &Answer) {
    for raw in HOSTILE_RAW {
        assert!(
            !page.body.contains(raw),
            "{raw} unescaped in:\n{}",
            page.body
        );
    }
}

fn assert_security_headers(headers: &HeaderMap) {
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
}

fn trail(dir: &std::path::Path, id: &str) -> Vec<paper_digest::store::Decision> {
    Store::open(&dir.join("digest.db"))
        .unwrap()
        .decisions(&id.parse().unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_api_read_open_on_loopback_and_escape_hostile_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(dir.path(), None, Some(TOKEN), true));

    let index = send(&app, get("/", None)).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.body.contains(DAY), "{}", index.body);
    assert!(index.body.contains("lang=\"ko\""));
    assert_security_headers(&index.headers);

    let day = send(&app, get(&format!("/days/{DAY}"), None)).await;
    assert_eq!(day.status, StatusCode::OK);
    assert!(day.body.contains(PUBLISHED_TITLE), "{}", day.body);
    assert!(!day.body.contains(GOOD_TITLE), "flagged papers are held");
    assert!(
        day.body
            .contains("held for review or not summarized yet: 2 papers"),
        "{}",
        day.body
    );
    assert_escaped(&day);

    let queue = send(&app, get(&format!("/queue?date={DAY}"), None)).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.body.contains(GOOD_TITLE));
    assert!(
        queue.body.contains("&lt;script&gt;alert("),
        "{}",
        queue.body
    );
    assert!(
        !queue.body.contains(PUBLISHED_TITLE),
        "the queue holds what waits"
    );
    assert_escaped(&queue);
    let all = send(&app, get("/queue?status=all&date=", None)).await;
    assert!(all.body.contains(PUBLISHED_TITLE));

    let hostile = send(&app, get(&format!("/papers/{HOSTILE}"), None)).await;
    assert_eq!(hostile.status, StatusCode::OK, "{}", hostile.body);
    assert_escaped(&hostile);
    assert!(hostile.body.contains("&lt;b&gt;굵은"), "{}", hostile.body);
    assert!(
        hostile.body.contains("javascript[:]alert(4)"),
        "{}",
        hostile.body
    );
    assert_security_headers(&hostile.headers);

    let good = send(&app, get(&format!("/papers/arXiv:{GOOD}v1"), None)).await;
    assert_eq!(good.status, StatusCode::OK);
    for expected in [
        "<mark class=\"found\">GoodNet</mark>",
        "<mark class=\"found\">KorQuAD</mark>",
        "only 12% of the summary",
        "gpt-4o-mini",
        "로그인",
        "name=\"whats_new\"",
    ] {
        assert!(
            good.body.contains(expected),
            "{expected} in:\n{}",
            good.body
        );
    }

    // The JSON API mirrors the pages.
    let days = send(&app, get("/api/days", None)).await;
    assert_eq!(days.status, StatusCode::OK);
    assert_eq!(days.headers[header::CONTENT_TYPE], "application/json");
    let days: serde_json::Value = serde_json::from_str(&days.body).unwrap();
    assert_eq!(days["days"][0]["date"], DAY);
    assert_eq!(days["days"][0]["flagged"], 2);
    assert_eq!(days["days"][0]["ok"], 1);
    let one_day = send(&app, get(&format!("/api/days/{DAY}"), None)).await;
    let one_day: serde_json::Value = serde_json::from_str(&one_day.body).unwrap();
    assert_eq!(one_day["papers"].as_array().map(Vec::len), Some(3));
    let queue = send(&app, get("/api/queue?status=flagged", None)).await;
    let queue: serde_json::Value = serde_json::from_str(&queue.body).unwrap();
    assert_eq!(queue["papers"].as_array().map(Vec::len), Some(2));
    let paper = send(&app, get(&format!("/api/papers/{GOOD}"), None)).await;
    assert_eq!(paper.status, StatusCode::OK);
    let paper: serde_json::Value = serde_json::from_str(&paper.body).unwrap();
    assert_eq!(paper["state"], "flagged");
    assert_eq!(paper["current"]["key"]["model"], "gpt-4o-mini");
    assert!(paper["marks"]["found"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "GoodNet"));

    // What does not exist, and what is malformed.
    for (path, status) in [
        ("/papers/2409.99999", StatusCode::NOT_FOUND),
        ("/api/papers/2409.99999", StatusCode::NOT_FOUND),
        ("/days/2020-01-01", StatusCode::NOT_FOUND),
        ("/api/days/2020-01-01", StatusCode::NOT_FOUND),
        ("/no/such/page", StatusCode::NOT_FOUND),
        ("/days/2024-13-40", StatusCode::BAD_REQUEST),
        ("/papers/not-an-id", StatusCode::BAD_REQUEST),
        ("/api/papers/%3Cscript%3E", StatusCode::BAD_REQUEST),
        ("/queue?status=%3Cscript%3Ebogus", StatusCode::BAD_REQUEST),
        ("/api/queue?date=yesterday", StatusCode::BAD_REQUEST),
    ] {
        let answer = send(&app, get(path, None)).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        if path.starts_with("/api/") {
            // JSON, never sniffed as HTML (nosniff): the ID the caller sent is quoted as given.
            assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
        } else {
            assert!(!answer.body.contains("<script>"), "{path}: {}", answer.body);
        }
        assert_security_headers(&answer.headers);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_need_the_token_and_the_forms_csrf_token_and_are_recorded_with_their_trail() {
    let dir = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(dir.path(), None, Some(TOKEN), true));
    let approve = format!("/papers/{GOOD}/approve");

    // No session: 401, nothing recorded.
    let anonymous = send(
        &app,
        post_form(&approve, None, &[("csrf", "x"), ("note", "n")]),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.body.contains("/login"), "{}", anonymous.body);
    // A session cookie nobody opened: 401.
    let forged = send(
        &app,
        post_form(&approve, Some("pd_session=0000"), &[("csrf", "x")]),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    // The login form: a wrong token, a missing form token.
    let form = send(&app, get("/login", None)).await;
    let login_cookie = cookie_pair(&set_cookie(&form.headers, "pd_login").unwrap());
    let csrf = csrf_of(&form.body);
    let wrong = send(
        &app,
        post_form(
            "/login",
            Some(&login_cookie),
            &[("csrf", &csrf), ("token", "guess")],
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("wrong token"));
    assert!(set_cookie(&wrong.headers, "pd_session").is_none());
    let no_cookie = send(
        &app,
        post_form("/login", None, &[("csrf", &csrf), ("token", TOKEN)]),
    )
    .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN, "login CSRF");
    let offsite = send(
        &app,
        post_form(
            "/login",
            Some(&login_cookie),
            &[("csrf", &csrf), ("token", TOKEN), ("next", "//evil.test/")],
        ),
    )
    .await;
    assert_eq!(offsite.headers[header::LOCATION], "/", "no open redirect");

    let (session, csrf) = login(&app, "kim").await;
    let bad_csrf = send(
        &app,
        post_form(&approve, Some(&session), &[("csrf", "not-the-token")]),
    )
    .await;
    assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
    assert!(trail(dir.path(), GOOD).is_empty(), "nothing recorded");

    // Approve: recorded with its trail, published in the day's digest (page and file).
    let approved = send(
        &app,
        post_form(
            &approve,
            Some(&session),
            &[("csrf", &csrf), ("note", "checked <b>by hand</b>")],
        ),
    )
    .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    assert_eq!(
        approved.headers[header::LOCATION],
        format!("/papers/{GOOD}?done=approve")
    );
    let decisions = trail(dir.path(), GOOD);
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].action, ReviewAction::Approve);
    assert_eq!(decisions[0].actor, "kim");
    assert_eq!(decisions[0].status_before, Some(ReviewState::Flagged));
    assert_eq!(decisions[0].status_after, Some(ReviewState::Ok));
    let page = send(
        &app,
        get(&format!("/papers/{GOOD}?done=approve"), Some(&session)),
    )
    .await;
    assert!(page.body.contains("승인했습니다"), "{}", page.body);
    assert!(
        page.body.contains("checked &lt;b&gt;by hand"),
        "the note, escaped"
    );
    let day = send(&app, get(&format!("/days/{DAY}"), None)).await;
    assert!(day.body.contains(GOOD_TITLE), "{}", day.body);
    let file =
        std::fs::read_to_string(dir.path().join(format!("out/daily_papers_ko_{DAY}.md"))).unwrap();
    assert!(file.contains(GOOD_TITLE), "{file}");
    // Approving again: nothing to do (409), and a stale form (the attempt it showed) is refused.
    let again = send(
        &app,
        post_form(&approve, Some(&session), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // The hostile answer carries markup and a javascript: URL: no one can publish it as it is.
    let hostile = send(
        &app,
        post_form(
            &format!("/papers/{HOSTILE}/approve"),
            Some(&session),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(hostile.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(hostile.body.contains("HTML tag"), "{}", hostile.body);
    assert_escaped(&hostile);
    // An edit with a link the abstract does not give is refused too, and the draft is kept.
    let mut sections = good_sections();
    sections.whats_new = format!(
        "{} 자세한 내용은 https://evil.test/x 참고.",
        sections.whats_new
    );
    let edit = format!("/papers/{HOSTILE}/edit");
    let refused = send(
        &app,
        post_form(
            &edit,
            Some(&session),
            &[
                ("csrf", &csrf),
                ("whats_new", &sections.whats_new),
                ("technical_details", &sections.technical_details),
                ("performance_highlights", &sections.performance_highlights),
            ],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("https:&#x2f;&#x2f;evil.test&#x2f;x 참고."),
        "the draft is kept: {}",
        refused.body
    );
    // A clean edit about another paper: stored, flagged by the identity checks.
    let stored = send(
        &app,
        post_form(
            &edit,
            Some(&session),
            &[
                ("csrf", &csrf),
                ("note", "rewritten"),
                ("whats_new", &good_sections().whats_new),
                ("technical_details", &good_sections().technical_details),
                (
                    "performance_highlights",
                    &good_sections().performance_highlights,
                ),
            ],
        ),
    )
    .await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER, "{}", stored.body);
    let decisions = trail(dir.path(), HOSTILE);
    assert_eq!(decisions[0].action, ReviewAction::Edit);
    assert_eq!(decisions[0].status_after, Some(ReviewState::Flagged));
    assert!(decisions[0]
        .text_before
        .as_ref()
        .unwrap()
        .whats_new
        .contains("<b>굵은</b>"));
    assert_eq!(decisions[0].text_after.as_ref(), Some(&good_sections()));
    // Reject it.
    let rejected = send(
        &app,
        post_form(
            &format!("/papers/{HOSTILE}/reject"),
            Some(&session),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER);
    assert_eq!(
        trail(dir.path(), HOSTILE)[1].status_after,
        Some(ReviewState::Rejected)
    );
    // Without a model, re-summarizing is unavailable (and says so).
    let unavailable = send(
        &app,
        post_form(
            &format!("/papers/{HOSTILE}/resummarize"),
            Some(&session),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.body.contains("API key"), "{}", unavailable.body);

    // The JSON API: bearer token only.
    let api_reject = format!("/api/papers/{GOOD}/reject");
    let none = send(&app, post_json(&api_reject, None, serde_json::json!({}))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
    let cookie_only = Request::builder()
        .method(Method::POST)
        .uri(&api_reject)
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, cookie_only).await.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong = send(
        &app,
        post_json(&api_reject, Some("guess"), serde_json::json!({})),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let ok = send(
        &app,
        post_json(
            &api_reject,
            Some(TOKEN),
            serde_json::json!({"actor": "script", "note": "bulk"}),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let ok: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(ok["decision"]["action"], "reject");
    assert_eq!(ok["decision"]["actor"], "script");
    assert_eq!(ok["decision"]["status_after"], "rejected");
    let no_text = send(
        &app,
        post_json(
            &format!("/api/papers/{GOOD}/edit"),
            Some(TOKEN),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(no_text.status, StatusCode::BAD_REQUEST);
    let approve_api = send(
        &app,
        post_json(
            &format!("/api/papers/{GOOD}/approve"),
            Some(TOKEN),
            serde_json::json!({"attempt": 1}),
        ),
    )
    .await;
    assert_eq!(
        approve_api.status,
        StatusCode::CONFLICT,
        "a stale attempt: {}",
        approve_api.body
    );

    // Logging out ends the session.
    let out = send(
        &app,
        post_form("/logout", Some(&session), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = send(
        &app,
        post_form(&approve, Some(&session), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn resummarize_from_the_page_and_the_api_asks_the_model_once_each() {
    let mock = MockChat::new(Behaviour::FromAbstract);
    let server = mock.start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(dir.path(), Some(&server.uri()), Some(TOKEN), true));
    let (session, csrf) = login(&app, "lee").await;
    let done = send(
        &app,
        post_form(
            &format!("/papers/{GOOD}/resummarize"),
            Some(&session),
            &[("csrf", &csrf), ("note", "ask again")],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        mock.counts().get(GOOD_TITLE),
        Some(&1),
        "{:?}",
        mock.counts()
    );
    let decisions = trail(dir.path(), GOOD);
    assert_eq!(decisions[0].action, ReviewAction::Resummarize);
    assert_eq!(decisions[0].actor, "lee");
    assert_ne!(decisions[0].attempt_before, decisions[0].attempt_after);

    let api = send(
        &app,
        post_json(
            &format!("/api/papers/{PUBLISHED}/resummarize"),
            Some(TOKEN),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(mock.counts().get(PUBLISHED_TITLE), Some(&1));
    let api: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(api["decision"]["action"], "resummarize");
    let unauthorized = send(
        &app,
        post_json(
            &format!("/api/papers/{GOOD}/resummarize"),
            None,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        mock.counts().get(GOOD_TITLE),
        Some(&1),
        "a refused call asks nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn off_loopback_reads_need_a_login_and_without_a_token_the_server_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(dir.path(), None, Some(TOKEN), false));
    for path in [
        "/",
        "/queue",
        &format!("/papers/{GOOD}"),
        &format!("/days/{DAY}"),
    ] {
        let answer = send(&app, get(path, None)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(answer.body.contains("/login"), "{path}");
    }
    assert_eq!(
        send(&app, get("/api/days", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, bearer_get("/api/days", "guess")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, bearer_get("/api/days", TOKEN)).await.status,
        StatusCode::OK
    );
    let (session, _) = login(&app, "kim").await;
    assert_eq!(
        send(&app, get("/", Some(&session))).await.status,
        StatusCode::OK
    );

    let read_only = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(read_only.path(), None, None, true));
    let page = send(&app, get(&format!("/papers/{GOOD}"), None)).await;
    assert!(page.body.contains("read-only"), "{}", page.body);
    assert!(
        !page.body.contains("action=\"/papers/"),
        "no decision forms"
    );
    let login = send(&app, post_form("/login", None, &[("token", TOKEN)])).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    let api = send(
        &app,
        post_json(
            &format!("/api/papers/{GOOD}/approve"),
            Some(TOKEN),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let env = web_env(dir.path(), None);
    let output = run_cli(&env, &["serve", "--bind", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("PAPER_DIGEST_SERVE_TOKEN"),
        "{}",
        text(&output.stderr)
    );
    let mut bad = env.clone();
    bad.push(("PAPER_DIGEST_SERVE__BIND".into(), "localhost".into()));
    let output = run_cli(&bad, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("serve.bind"),
        "{}",
        text(&output.stderr)
    );
    let mut leaked = env;
    leaked.push(("PAPER_DIGEST_SERVE__TOKEN".into(), "s3cret".into()));
    let output = run_cli(&leaked, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!text(&output.stderr).contains("s3cret"));
}

/// The real binary: serves, logs each request, and stops cleanly (exit 0) on SIGTERM.
#[test]
fn serve_logs_requests_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let mut env = web_env(dir.path(), None);
    seed(&dir.path().join("digest.db"));
    env.push(("PAPER_DIGEST_SERVE_TOKEN".into(), TOKEN.into()));
    env.push(("PAPER_DIGEST_LOG_FORMAT".into(), "json".into()));
    let mut child = binary(&env)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(address.starts_with("http://127.0.0.1:"), "{line}");
    let body = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let answer = reqwest::get(format!("{address}api/days")).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        })
    })
    .join()
    .unwrap();
    assert_eq!(body.0, 200, "{}", body.1);
    assert!(body.1.contains(DAY));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("\"path\":\"/api/days\""), "{logs}");
    assert!(logs.contains("\"status\":200"), "{logs}");
    assert!(logs.contains("review server stopped"), "{logs}");
    assert!(!logs.contains(TOKEN), "the token is never logged");
}

/// An old-style ID (`hep-th/9901001`) has its own page: the slash travels as `%2F`.
#[tokio::test(flavor = "multi_thread")]
async fn an_old_style_id_has_a_page_and_takes_decisions() {
    use paper_digest::paper::Paper;
    let dir = tempfile::tempdir().unwrap();
    let app = paper_digest::web::router(state(dir.path(), None, Some(TOKEN), true));
    let store = Store::open(&dir.path().join("digest.db")).unwrap();
    let old = Paper {
        id: "hep-th/9901001".parse().unwrap(),
        version: None,
        title: "Strings on a Lattice".to_string(),
        authors: Vec::new(),
        abstract_text: "We study strings on a lattice.".to_string(),
        upvotes: None,
        thumbnail: None,
        published: None,
        updated: None,
        primary_category: None,
        categories: Vec::new(),
    };
    store
        .upsert_papers(&[old], Some(DAY.parse().unwrap()), "arxiv")
        .unwrap();
    let page = send(&app, get("/papers/hep-th%2F9901001", None)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Strings on a Lattice"));
    let queue = send(&app, get("/queue?status=all", None)).await;
    assert!(
        queue.body.contains("papers&#x2f;hep-th%2F9901001"),
        "{}",
        queue.body
    );
    let api = send(
        &app,
        post_json(
            "/api/papers/hep-th%2F9901001/approve",
            Some(TOKEN),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(
        api.status,
        StatusCode::CONFLICT,
        "no summary yet: {}",
        api.body
    );
    assert!(api.body.contains("resummarize"), "{}", api.body);
}
