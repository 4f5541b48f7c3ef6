//! Publishing: a day's digest reaches its readers, and a person hears when a day needs attention.
//!
//! Targets (each off unless configured under `[publish]`):
//! - [`archive`]: a folder laid out like the public daily-papers repositories (`README.md` = the
//!   latest day, `paper_logs/YYYY/MM/DD.md`), optionally committed and pushed with `git`;
//! - [`site`]: static HTML (`index.html` and a page per day) built on [`crate::render::html`];
//! - [`feed`]: an Atom feed, one entry per day;
//! - [`webhook`]: Slack and Discord webhooks and a generic JSON webhook, each day split to fit the
//!   service's message limits;
//! - [`alert`]: one message to a person when a run needs one.
//!
//! Every target renders from the store ([`day`]): a day whose source list was incomplete is never
//! published, papers held for review are left out and counted, and every text goes through the shared
//! output rule ([`crate::render::text::one_line`]) before the format's own escaping. What each day
//! gave at each target is recorded (`publications`, keyed by day, target and content hash), so a rerun
//! publishes nothing twice and a changed day is published once more, as an update.

pub mod alert;
pub mod archive;
pub mod day;
pub mod feed;
mod post;
pub mod site;
pub mod webhook;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::model::{secret_text, ControlCharacters};
use crate::render::{write_atomic, WriteError};
use crate::store::{NewPublication, PublishOutcome, PublishRecord, RunId, Store, StoreError};
pub use alert::Attention;
pub use day::{DayContent, DayState};

/// A webhook URL. It is the credential (whoever has it can post), so it is a secret: `Debug` shows
/// `[REDACTED]`, and it is never printed, logged, stored or put into an error message.
#[derive(Clone)]
pub struct WebhookUrl(SecretString);

/// Why a secret webhook URL is unusable (the message never quotes it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadWebhookUrl {
    #[error("is empty")]
    Empty,
    #[error("contains control characters (a line break inside it?)")]
    Control,
    #[error("is not an http:// or https:// URL")]
    NotHttp,
}

impl WebhookUrl {
    /// The URL in `text`, trimmed; an http(s) URL.
    pub fn parse(text: &str) -> Result<WebhookUrl, BadWebhookUrl> {
        let text = text.trim();
        if text.is_empty() {
            return Err(BadWebhookUrl::Empty);
        }
        if text.chars().any(char::is_control) {
            return Err(BadWebhookUrl::Control);
        }
        match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                Ok(WebhookUrl(SecretString::from(text.to_string())))
            }
            _ => Err(BadWebhookUrl::NotHttp),
        }
    }
}

impl ExposeSecret<str> for WebhookUrl {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([REDACTED])")
    }
}

/// A token for pushing to the archive's git remote over HTTPS (never printed or logged; handed to
/// `git` through its environment, never its command line).
#[derive(Clone)]
pub struct GitToken(SecretString);

impl GitToken {
    /// The token in `text`, trimmed; `None` when nothing is left, `Err` when it has control characters.
    pub fn new(text: &str) -> Result<Option<GitToken>, BadWebhookUrl> {
        secret_text(text)
            .map(|token| token.map(GitToken))
            .map_err(|ControlCharacters| BadWebhookUrl::Control)
    }
}

impl ExposeSecret<str> for GitToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for GitToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GitToken([REDACTED])")
    }
}

/// Which service a webhook speaks to; it decides the payload and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// A Slack incoming webhook (`{"text", "blocks"}`).
    Slack,
    /// A Discord webhook (`{"content", "embeds"}`).
    Discord,
    /// Any endpoint taking one JSON document per day (or per alert).
    Json,
}

impl WebhookKind {
    /// The target's name in reports and the store.
    pub fn target(self) -> &'static str {
        match self {
            WebhookKind::Slack => "slack",
            WebhookKind::Discord => "discord",
            WebhookKind::Json => "webhook",
        }
    }
}

/// A webhook target: its kind and its (secret) URL.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub kind: WebhookKind,
    pub url: WebhookUrl,
}

/// How patiently messages are delivered (`[publish]`).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub request_timeout: Duration,
    /// Tries after the first, on 429, 5xx, timeouts and connection errors.
    pub retries: u32,
    pub retry_initial: Duration,
    /// The longest wait between tries; a `Retry-After` asking for more gives up (reported).
    pub retry_max_wait: Duration,
}

/// `[publish.archive]`: the folder, and the optional git commit/push.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    pub dir: PathBuf,
    pub git: Option<GitSettings>,
}

/// `[publish.archive]` git keys.
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// A URL or path; pushed to when set.
    pub remote: Option<String>,
    pub branch: String,
    pub author_name: String,
    pub author_email: String,
    /// For HTTPS remotes: the user name sent with the token.
    pub token_user: String,
    pub token: Option<GitToken>,
}

/// `[publish.site]`.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub dir: PathBuf,
}

/// `[publish.feed]`.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// The folder `feed.xml` is written to (the site's, so that it is served next to the pages).
    pub dir: PathBuf,
    /// The site's public address: entry links and ids are `{base_url}/days/YYYY-MM-DD.html`.
    pub base_url: Url,
    pub max_entries: usize,
}

/// `[publish.alert]`.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub target: WebhookTarget,
    /// Also tell a person about a day with no announcement.
    pub on_no_announcement: bool,
}

/// Every target, as the settings made them (secrets resolved).
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// The site's and the feed's title.
    pub title: String,
    pub delivery: Delivery,
    pub archive: Option<ArchiveSettings>,
    pub site: Option<SiteSettings>,
    pub feed: Option<FeedSettings>,
    /// Slack, Discord and the JSON webhook, in that order, those enabled.
    pub webhooks: Vec<WebhookTarget>,
    pub alert: Option<AlertSettings>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for publishing: {0}")]
pub struct PublisherError(String);

/// Publishes days to every enabled target and sends alerts; built once per command.
pub struct Publisher {
    settings: PublishSettings,
    poster: post::Poster,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("targets", &self.targets())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// `stop` ends every wait between tries at once (a stopped run does not wait on a webhook).
    pub fn new(
        settings: PublishSettings,
        stop: CancellationToken,
    ) -> Result<Publisher, PublisherError> {
        let poster = post::Poster::new(settings.delivery.clone(), stop)
            .map_err(|e| PublisherError(e.to_string()))?;
        Ok(Publisher { settings, poster })
    }

    /// The targets a day is published to, in the order they run.
    pub fn targets(&self) -> Vec<&'static str> {
        let s = &self.settings;
        let mut targets = Vec::new();
        if s.archive.is_some() {
            targets.push(archive::TARGET);
        }
        if s.site.is_some() {
            targets.push(site::TARGET);
        }
        if s.feed.is_some() {
            targets.push(feed::TARGET);
        }
        targets.extend(s.webhooks.iter().map(|w| w.kind.target()));
        targets
    }

    /// Publishes `days` (oldest first) to every enabled target and records each result (with
    /// `run`, or as the `publish` command's). Never fails as a whole: a target that fails is a
    /// `failed` record, the day's data stays in the store, and a later run or `publish` tries again.
    pub async fn publish(
        &self,
        store: &Store,
        days: &[NaiveDate],
        include_flagged: bool,
        run: Option<RunId>,
    ) -> Vec<PublishRecord> {
        let targets = self.targets();
        if targets.is_empty() {
            return Vec::new();
        }
        let mut days = days.to_vec();
        days.sort();
        days.dedup();
        let (ready, mut records) = {
            let store = store.clone();
            let (targets_used, days_used) = (targets.clone(), days.clone());
            blocking(move || load_days(&store, &days_used, include_flagged, &targets_used))
                .await
                .unwrap_or_else(|message| {
                    let records = days
                        .iter()
                        .flat_map(|date| {
                            every_target(&targets, *date, PublishOutcome::Failed, &message)
                        })
                        .collect();
                    (Vec::new(), records)
                })
        };
        if !ready.is_empty() {
            let files = {
                let store = store.clone();
                let settings = self.settings.clone();
                let ready = ready.clone();
                blocking(move || publish_files(&settings, &store, &ready))
                    .await
                    .unwrap_or_else(|message| {
                        vec![record(None, "files", PublishOutcome::Failed, message)]
                    })
            };
            records.extend(files);
            for target in &self.settings.webhooks {
                for day in &ready {
                    records.push(webhook::publish_day(&self.poster, target, store, day).await);
                }
            }
        }
        self.record(store, run, &records).await;
        records
    }

    /// Records `reason` as why `date` was not published, for every enabled target.
    pub async fn withhold(
        &self,
        store: &Store,
        date: NaiveDate,
        reason: &str,
        run: Option<RunId>,
    ) -> Vec<PublishRecord> {
        let records = every_target(&self.targets(), date, PublishOutcome::Withheld, reason);
        self.record(store, run, &records).await;
        records
    }

    /// Sends the alert when one is configured and `attention` needs a person; records what happened
    /// (when there is a store to record it in) and returns it.
    pub async fn alert(
        &self,
        store: Option<&Store>,
        attention: &Attention,
        run: Option<RunId>,
    ) -> Option<PublishRecord> {
        let settings = self.settings.alert.as_ref()?;
        if !attention.needs_person(settings.on_no_announcement) {
            return None;
        }
        let message = alert::message(settings.target.kind, attention);
        let record = match self.poster.post(&settings.target.url, &message).await {
            Ok(_) => PublishRecord {
                date: attention.date,
                target: alert::TARGET.to_string(),
                outcome: PublishOutcome::Sent,
                detail: format!(
                    "to {}: {}",
                    settings.target.kind.target(),
                    attention.headline()
                ),
            },
            Err(error) => {
                tracing::error!(target_name = alert::TARGET, %error, "the alert could not be sent");
                PublishRecord {
                    date: attention.date,
                    target: alert::TARGET.to_string(),
                    outcome: PublishOutcome::Failed,
                    detail: format!("to {}: {error}", settings.target.kind.target()),
                }
            }
        };
        match store {
            Some(store) => self.record(store, run, std::slice::from_ref(&record)).await,
            None => log_record(&record),
        }
        Some(record)
    }

    async fn record(&self, store: &Store, run: Option<RunId>, records: &[PublishRecord]) {
        for record in records {
            log_record(record);
        }
        let store = store.clone();
        let records = records.to_vec();
        let stored = blocking_store(move || {
            records
                .iter()
                .try_for_each(|record| store.record_publish_result(run, record))
        })
        .await;
        if let Err(error) = stored {
            tracing::error!(%error, "cannot record what was published");
        }
    }
}

fn log_record(record: &PublishRecord) {
    let date = record.date.map(|d| d.to_string());
    match record.outcome {
        PublishOutcome::Failed => tracing::error!(
            date = date.as_deref(),
            target_name = %record.target,
            detail = %record.detail,
            "publishing failed"
        ),
        PublishOutcome::Withheld => tracing::warn!(
            date = date.as_deref(),
            target_name = %record.target,
            detail = %record.detail,
            "not published"
        ),
        outcome => tracing::info!(
            date = date.as_deref(),
            target_name = %record.target,
            outcome = %outcome,
            detail = %record.detail,
            "published"
        ),
    }
}

/// The days that can be published, and a `withheld` (or `failed`) record per target for the others.
fn load_days(
    store: &Store,
    days: &[NaiveDate],
    include_flagged: bool,
    targets: &[&'static str],
) -> (Vec<DayContent>, Vec<PublishRecord>) {
    let mut ready = Vec::new();
    let mut records = Vec::new();
    let mut not_published = |date: NaiveDate, outcome, detail: String| {
        records.extend(every_target(targets, date, outcome, &detail));
    };
    for &date in days {
        match day::load(store, date, include_flagged) {
            Ok(DayState::Ready(content)) => ready.push(content),
            Ok(DayState::Incomplete(note)) => not_published(
                date,
                PublishOutcome::Withheld,
                format!("the source's list of the day was incomplete ({note}): never published"),
            ),
            Ok(DayState::NotListed) => not_published(
                date,
                PublishOutcome::Withheld,
                "no papers are listed on this day: nothing to publish".to_string(),
            ),
            Err(error) => not_published(date, PublishOutcome::Failed, error.to_string()),
        }
    }
    (ready, records)
}

/// The file targets (archive, site, feed), on a blocking thread: files, `git` and the store.
fn publish_files(
    settings: &PublishSettings,
    store: &Store,
    days: &[DayContent],
) -> Vec<PublishRecord> {
    let mut records = Vec::new();
    if let Some(archive) = &settings.archive {
        records.extend(archive::publish(archive, store, days));
    }
    let feed_href = settings
        .feed
        .as_ref()
        .zip(settings.site.as_ref())
        .filter(|(feed, site)| feed.dir == site.dir)
        .map(|_| feed::FILE_NAME);
    if let Some(site) = &settings.site {
        records.extend(site::publish(site, &settings.title, feed_href, store, days));
    }
    if let Some(feed) = &settings.feed {
        records.extend(feed::publish(feed, &settings.title, store, days));
    }
    records
}

/// Runs blocking work (files, `git`, the store) off the async runtime; a panic (a defect) comes back
/// as a message, so that it is reported as the targets' failure instead of losing the run.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join| format!("publishing stopped by a defect: {join}"))
}

/// Store work on a blocking thread ([`blocking`]); a store error comes back as its message too.
async fn blocking_store<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    blocking(work).await?.map_err(|e| e.to_string())
}

/// Writes a file atomically unless it already holds exactly `bytes`; whether it was written.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    write_atomic(path, bytes).map(|()| true)
}

/// A record of one target's result for one day.
pub(crate) fn record(
    date: Option<NaiveDate>,
    target: &str,
    outcome: PublishOutcome,
    detail: impl Into<String>,
) -> PublishRecord {
    PublishRecord {
        date,
        target: target.to_string(),
        outcome,
        detail: detail.into(),
    }
}

/// The same result of `date` at each of `targets`.
fn every_target(
    targets: &[&'static str],
    date: NaiveDate,
    outcome: PublishOutcome,
    detail: &str,
) -> Vec<PublishRecord> {
    targets
        .iter()
        .map(|target| record(Some(date), target, outcome, detail))
        .collect()
}

/// The end of a file target's day (archive, site): the publication is recorded when the files
/// changed or the store does not know this content yet, then what happened.
pub(crate) fn file_day_done(
    store: &Store,
    day: &day::DayContent,
    target: &'static str,
    location: String,
    changed: bool,
    known: bool,
) -> PublishRecord {
    let date = Some(day.date);
    if changed || !known {
        let stored = store.begin_publication(
            &NewPublication {
                date: day.date,
                target,
                content_hash: &day.hash,
                parts: 1,
                papers: day.papers() as u64,
                held: day.held() as u64,
                location: &location,
                content: None,
            },
            true,
        );
        if let Err(error) = stored {
            return store_failed(date, target, &error);
        }
    }
    match changed {
        true => record(date, target, PublishOutcome::Published, location),
        false => record(
            date,
            target,
            PublishOutcome::Unchanged,
            format!("{location}: already up to date"),
        ),
    }
}

/// A store error while publishing is that target's failure.
pub(crate) fn store_failed(
    date: Option<NaiveDate>,
    target: &str,
    error: &StoreError,
) -> PublishRecord {
    record(date, target, PublishOutcome::Failed, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_and_urls_are_checked() {
        let url = WebhookUrl::parse(" https://hooks.slack.test/services/T0/B0/secret \n").unwrap();
        assert_eq!(
            url.expose_secret(),
            "https://hooks.slack.test/services/T0/B0/secret"
        );
        assert!(!format!("{url:?}").contains("secret"));
        assert_eq!(WebhookUrl::parse("").unwrap_err(), BadWebhookUrl::Empty);
        assert_eq!(
            WebhookUrl::parse("ftp://x.test/a").unwrap_err(),
            BadWebhookUrl::NotHttp
        );
        assert_eq!(
            WebhookUrl::parse("https://a.test/x\nhttps://b.test").unwrap_err(),
            BadWebhookUrl::Control
        );
        let token = GitToken::new("ghp_secret\n").unwrap().unwrap();
        assert!(!format!("{token:?}").contains("ghp"));
        assert!(GitToken::new("  ").unwrap().is_none());
    }
}
