//! The static site: `index.html` (the published days, newest first, with their counts) and one page
//! per day (`days/YYYY-MM-DD.html`, an anchor per paper), rendered from the store with
//! [`crate::render::html`]: escaped HTML, no external asset, no script, Korean typography. Every file
//! is replaced atomically (a temporary file in the same folder, renamed over the old one), so a web
//! server never serves half a page; a file whose content did not change is left alone.

use chrono::NaiveDate;

use super::day::DayContent;
use super::{file_day_done, record, store_failed, write_if_changed, SiteSettings};
use crate::render::html::{self, IndexDay};
use crate::store::{PublishOutcome, PublishRecord, Store};

/// The site's name in reports and the store.
pub const TARGET: &str = "site";

/// A day's page, relative to the site's folder (and to its index).
pub fn day_href(date: NaiveDate) -> String {
    format!("days/{date}.html")
}

/// Writes the days' pages, then the index of every day the site has.
pub fn publish(
    settings: &SiteSettings,
    title: &str,
    feed_href: Option<&str>,
    store: &Store,
    days: &[DayContent],
) -> Vec<PublishRecord> {
    let mut records: Vec<PublishRecord> = days
        .iter()
        .map(|day| publish_day(settings, title, feed_href, store, day))
        .collect();
    if let Err(detail) = write_index(settings, title, feed_href, store) {
        records.push(record(None, TARGET, PublishOutcome::Failed, detail));
    }
    records
}

/// A day's whole page.
pub fn day_page(
    day: &DayContent,
    site_title: &str,
    feed_href: Option<&str>,
) -> Result<String, String> {
    let back =
        html::back_link("../index.html", &format!("← {site_title}")).map_err(|e| e.to_string())?;
    let body = day.html().map_err(|e| e.to_string())?;
    let title = format!("{} · {site_title}", day.title());
    let body = format!("{back}{body}");
    let feed_href = feed_href.map(|feed| format!("../{feed}"));
    html::page(&title, &body, feed_href.as_deref()).map_err(|e| e.to_string())
}

fn publish_day(
    settings: &SiteSettings,
    title: &str,
    feed_href: Option<&str>,
    store: &Store,
    day: &DayContent,
) -> PublishRecord {
    let date = Some(day.date);
    let failed = |detail: String| record(date, TARGET, PublishOutcome::Failed, detail);
    let page = match day_page(day, title, feed_href) {
        Ok(page) => page,
        Err(error) => return failed(error),
    };
    let path = settings.dir.join(day_href(day.date));
    let location = path.display().to_string();
    let written = match write_if_changed(&path, page.as_bytes()) {
        Ok(written) => written,
        Err(error) => return failed(error.to_string()),
    };
    let known = match store.latest_publication(day.date, TARGET) {
        Ok(latest) => latest.is_some_and(|p| p.content_hash == day.hash && p.done),
        Err(error) => return store_failed(date, TARGET, &error),
    };
    file_day_done(store, day, TARGET, location, written, known)
}

/// `index.html`: every day the site has, newest first.
fn write_index(
    settings: &SiteSettings,
    title: &str,
    feed_href: Option<&str>,
    store: &Store,
) -> Result<(), String> {
    let days: Vec<IndexDay> = store
        .published_days(TARGET, usize::MAX)
        .map_err(|e| format!("index.html: {e}"))?
        .into_iter()
        .map(|p| IndexDay {
            date: p.date,
            href: day_href(p.date),
            papers: p.papers,
            held: p.held,
        })
        .collect();
    let body = html::index(title, &days, feed_href).map_err(|e| format!("index.html: {e}"))?;
    let page = html::page(title, &body, feed_href).map_err(|e| format!("index.html: {e}"))?;
    write_if_changed(&settings.dir.join("index.html"), page.as_bytes())
        .map(drop)
        .map_err(|e| e.to_string())
}
