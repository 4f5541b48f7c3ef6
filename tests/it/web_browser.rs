//! The review page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs when missing) driven over WebDriver. A reviewer opens
//! the queue of a day with a flagged paper, tries to approve it without logging in and is refused,
//! logs in with the token, approves it, and sees it in the day's digest page. Each step is checked
//! on the page's text and saved as a screenshot under `target/tmp/review-browser/`.
//!
//! Without Chromium the test fails, naming what to install; `PAPER_DIGEST_SKIP_BROWSER=1` skips it
//! (with a printed reason) on a machine that has none.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use paper_digest::pipeline::Shutdown;
use paper_digest::store::{ReviewAction, Store};

use crate::web_support::*;

const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn first_existing(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// chromedriver, ended when the test ends (even by a failed assertion).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

async fn wait_for_driver(url: &str) {
    for _ in 0..200 {
        if let Ok(answer) = reqwest::get(format!("{url}/status")).await {
            if answer.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not answer at {url}");
}

async fn shoot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

/// The page's text once it shows `needle` (a click's navigation may still be under way when the
/// click returns); fails with the page's source when it never does.
async fn page_with(client: &Client, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(body) = client.find(Locator::Css("body")).await {
            if let Ok(text) = body.text().await {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the page at {:?} never showed {needle:?}:\n{last}",
        client.current_url().await.map(|u| u.to_string())
    );
}

async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

async fn type_into(client: &Client, id: &str, text: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Fills in the login form (labelled, keyboard-reachable fields) and sends it.
async fn log_in(client: &Client, name: &str, token: &str) {
    page_with(client, "(token)").await;
    type_into(client, "login-name", name).await;
    type_into(client, "login-token", token).await;
    click(client, Locator::Css("form[action='/login'] button")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_logs_in_approves_a_flagged_paper_and_sees_it_in_the_days_digest() {
    if std::env::var("PAPER_DIGEST_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!(
            "skipped: PAPER_DIGEST_SKIP_BROWSER=1 (the real-browser test of the review page)"
        );
        return;
    }
    let (Some(chromium), Some(chromedriver)) =
        (first_existing(&CHROMIUM), first_existing(&CHROMEDRIVER))
    else {
        panic!(
            "the review page's browser test needs Chromium and its WebDriver: \
             `apt-get install chromium chromium-driver` (.ci/run does), \
             or set PAPER_DIGEST_SKIP_BROWSER=1 to skip it"
        );
    };
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-browser");
    std::fs::create_dir_all(&shots).unwrap();

    // The app on a real local port, over a store with a flagged paper.
    let dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let app = state(dir.path(), None, Some(TOKEN), true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(paper_digest::web::serve(listener, app, shutdown.clone()));

    let port = free_port();
    let _driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display())),
    );
    let driver_url = format!("http://127.0.0.1:{port}");
    wait_for_driver(&driver_url).await;
    let profile = tempfile::tempdir().unwrap();
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1400", "--lang=ko-KR",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e}"));

    // 1. The queue of the day: the flagged paper waits there with its reason.
    client
        .goto(&format!("{base}/queue?date={DAY}"))
        .await
        .unwrap();
    let queue = page_with(&client, GOOD_TITLE).await;
    assert!(queue.contains("flagged"), "{queue}");
    assert!(queue.contains("only 12% of the summary"), "{queue}");
    shoot(&client, &shots, "1-queue.png").await;

    // 2. Its page; approving without logging in is refused, and nothing is recorded.
    click(&client, Locator::LinkText(GOOD_TITLE)).await;
    let page = page_with(&client, "Log in to decide").await;
    let url = client.current_url().await.unwrap();
    assert!(url.path().ends_with(&format!("/papers/{GOOD}")), "{url}");
    assert!(
        page.contains("요약 (summary)") && page.contains("초록 (abstract)"),
        "{page}"
    );
    click(&client, Locator::Css("form[action$='/approve'] button")).await;
    let refused = page_with(&client, "401 Unauthorized").await;
    assert!(refused.contains("log in with the serve token"), "{refused}");
    shoot(&client, &shots, "2-refused-without-token.png").await;
    let store = Store::open(&dir.path().join("digest.db")).unwrap();
    assert!(store.decisions(&GOOD.parse().unwrap()).unwrap().is_empty());

    // 3. Log in: a wrong token is refused, the right one brings the reviewer back to the paper.
    click(&client, Locator::LinkText("로그인 (log in)")).await;
    log_in(&client, "kim", "wrong").await;
    page_with(&client, "wrong token").await;
    client.goto(&format!("{base}/papers/{GOOD}")).await.unwrap();
    click(&client, Locator::Css("a[href^='/login?next=']")).await;
    log_in(&client, "kim", TOKEN).await;
    page_with(&client, "검토자 (reviewer): kim").await;
    let url = client.current_url().await.unwrap();
    assert!(
        url.path().ends_with(&format!("/papers/{GOOD}")),
        "back on the paper: {url}"
    );
    shoot(&client, &shots, "3-logged-in-paper.png").await;

    // 4. Approve, with a note.
    type_into(&client, "approve-note", "초록과 대조해 확인함").await;
    click(&client, Locator::Css("form[action$='/approve'] button")).await;
    let approved = page_with(&client, "Approved: the summary is published.").await;
    assert!(approved.contains("decided by a person"), "{approved}");
    assert!(
        approved.contains("초록과 대조해 확인함"),
        "the note is in the trail"
    );
    shoot(&client, &shots, "4-approved.png").await;
    let decisions = store.decisions(&GOOD.parse().unwrap()).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].action, ReviewAction::Approve);
    assert_eq!(decisions[0].actor, "kim");

    // 5. The day's digest page now carries it.
    click(&client, Locator::LinkText(DAY)).await;
    let digest = page_with(&client, &format!("Daily Papers ({DAY})")).await;
    assert!(digest.contains(GOOD_TITLE), "{digest}");
    assert!(digest.contains("What's New"), "{digest}");
    assert!(
        digest.contains("held for review or not summarized yet: 1 paper."),
        "{digest}"
    );
    shoot(&client, &shots, "5-digest-with-approved-paper.png").await;

    client.close().await.unwrap();
    shutdown.stop(paper_digest::store::RunEnd::Interrupted, "test over");
    server.await.unwrap().unwrap();
    eprintln!("screenshots: {}", shots.display());
}
