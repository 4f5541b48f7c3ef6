//! The Atom feed (RFC 4287, written with `atom_syndication`): one entry per published day, newest
//! first, at most `publish.feed.max_entries`. An entry's id is the day page's address
//! (`{base_url}/days/YYYY-MM-DD.html`, stable as long as the site's address is), its `updated` the time
//! the day's current content was first published (it changes only when the content changes, since
//! each content hash is recorded), and its content the day's HTML as published, kept in the store so
//! the feed is rebuilt from records and never from re-parsed Markdown.

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text};
use chrono::DateTime;

use super::day::DayContent;
use super::{record, store_failed, write_if_changed, FeedSettings};
use crate::store::{NewPublication, Publication, PublishOutcome, PublishRecord, Store};

/// The feed's name in reports and the store.
pub const TARGET: &str = "feed";
/// The feed's file name in its folder.
pub const FILE_NAME: &str = "feed.xml";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("{date}: the stored publication time {value:?} is not an RFC 3339 date")]
    Time { date: String, value: String },
    #[error("cannot write the Atom feed: {0}")]
    Write(String),
}

/// Records each day's entry (when its content is new), then rewrites the feed.
pub fn publish(
    settings: &FeedSettings,
    title: &str,
    store: &Store,
    days: &[DayContent],
) -> Vec<PublishRecord> {
    let mut records: Vec<PublishRecord> = days.iter().map(|day| entry_of(store, day)).collect();
    let path = settings.dir.join(FILE_NAME);
    let written = store
        .published_days(TARGET, settings.max_entries)
        .map_err(|e| e.to_string())
        .and_then(|rows| build(title, settings.base_url.as_str(), &rows).map_err(|e| e.to_string()))
        .and_then(|xml| write_if_changed(&path, xml.as_bytes()).map_err(|e| e.to_string()));
    if let Err(detail) = written {
        records.push(record(
            None,
            TARGET,
            PublishOutcome::Failed,
            format!("{}: {detail}", path.display()),
        ));
    }
    records
}

fn entry_of(store: &Store, day: &DayContent) -> PublishRecord {
    let date = Some(day.date);
    let latest = match store.latest_publication(day.date, TARGET) {
        Ok(latest) => latest,
        Err(error) => return store_failed(date, TARGET, &error),
    };
    if latest
        .as_ref()
        .is_some_and(|p| p.content_hash == day.hash && p.done)
    {
        return record(
            date,
            TARGET,
            PublishOutcome::Unchanged,
            "entry already up to date",
        );
    }
    let html = match day.html() {
        Ok(html) => html,
        Err(error) => return record(date, TARGET, PublishOutcome::Failed, error.to_string()),
    };
    let stored = store.begin_publication(
        &NewPublication {
            date: day.date,
            target: TARGET,
            content_hash: &day.hash,
            parts: 1,
            papers: day.papers() as u64,
            held: day.held() as u64,
            location: FILE_NAME,
            content: Some(&xml_chars(&html)),
        },
        true,
    );
    if let Err(error) = stored {
        return store_failed(date, TARGET, &error);
    }
    let detail = match latest {
        Some(_) => "entry updated",
        None => "entry added",
    };
    record(date, TARGET, PublishOutcome::Published, detail)
}

/// The day page's address, which is also the entry's id.
pub fn day_url(base_url: &str, date: chrono::NaiveDate) -> String {
    format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        super::site::day_href(date)
    )
}

/// The feed of the given days (newest first), as XML.
pub fn build(title: &str, base_url: &str, days: &[Publication]) -> Result<String, FeedError> {
    let base = base_url.trim_end_matches('/');
    let mut entries = Vec::with_capacity(days.len());
    for day in days {
        let updated = time(day)?;
        let url = day_url(base, day.date);
        let mut content = Content::default();
        content.set_content_type("html".to_string());
        content.set_value(xml_chars(day.content.as_deref().unwrap_or_default()));
        let mut link = Link::default();
        link.set_href(url.clone());
        link.set_rel("alternate");
        link.set_mime_type("text/html".to_string());
        let mut entry = Entry::default();
        entry.set_id(url);
        entry.set_title(Text::plain(xml_chars(&format!(
            "Daily Papers ({}) · 논문 {}편{}",
            day.date,
            day.papers,
            match day.held {
                0 => String::new(),
                held => format!(" · 검토 대기 {held}편"),
            }
        ))));
        entry.set_updated(updated);
        entry.set_links(vec![link]);
        entry.set_content(content);
        entries.push(entry);
    }
    let updated = entries
        .iter()
        .map(|e| *e.updated())
        .max()
        .unwrap_or_else(|| chrono::Utc::now().fixed_offset());
    let mut alternate = Link::default();
    alternate.set_href(format!("{base}/"));
    alternate.set_rel("alternate");
    alternate.set_mime_type("text/html".to_string());
    let mut own = Link::default();
    own.set_href(format!("{base}/{FILE_NAME}"));
    own.set_rel("self");
    own.set_mime_type("application/atom+xml".to_string());
    let mut author = Person::default();
    author.set_name(xml_chars(title));
    let mut generator = Generator::default();
    generator.set_value("paper-digest");
    generator.set_version(env!("CARGO_PKG_VERSION").to_string());
    let mut feed = Feed::default();
    feed.set_id(format!("{base}/"));
    feed.set_title(Text::plain(xml_chars(title)));
    feed.set_updated(updated);
    feed.set_links(vec![alternate, own]);
    feed.set_authors(vec![author]);
    feed.set_generator(generator);
    feed.set_lang("ko".to_string());
    feed.set_entries(entries);
    let bytes = feed
        .write_to(Vec::new())
        .map_err(|e| FeedError::Write(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| FeedError::Write(e.to_string()))
}

fn time(day: &Publication) -> Result<FixedDateTime, FeedError> {
    DateTime::parse_from_rfc3339(&day.started_at).map_err(|_| FeedError::Time {
        date: day.date.to_string(),
        value: day.started_at.clone(),
    })
}

/// Only characters XML 1.0 allows (`#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`):
/// the shared text rule already removed control characters, this also drops U+FFFE and U+FFFF.
fn xml_chars(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(date: &str, at: &str, content: &str) -> Publication {
        Publication {
            date: date.parse().unwrap(),
            target: TARGET.to_string(),
            content_hash: "h".to_string(),
            started_at: at.to_string(),
            done: true,
            parts: 1,
            parts_done: 1,
            papers: 2,
            held: 1,
            location: FILE_NAME.to_string(),
            content: Some(content.to_string()),
        }
    }

    #[test]
    fn the_feed_parses_back_with_escaped_content() {
        let days = [
            publication(
                "2024-09-24",
                "2024-09-24T06:30:00.000Z",
                "<p>a &amp; <b>b</b> \u{FFFE}</p>",
            ),
            publication("2024-09-23", "2024-09-23T06:30:00.000Z", "<p>x</p>"),
        ];
        let xml = build("Papers & <more>", "https://papers.test/ko/", &days).unwrap();
        assert!(!xml.contains("<b>"), "content is escaped: {xml}");
        let feed = Feed::read_from(xml.as_bytes()).unwrap();
        assert_eq!(feed.title().as_str(), "Papers & <more>");
        assert_eq!(feed.id(), "https://papers.test/ko/");
        assert_eq!(feed.updated().to_rfc3339(), "2024-09-24T06:30:00+00:00");
        let ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
        assert_eq!(
            ids,
            [
                "https://papers.test/ko/days/2024-09-24.html",
                "https://papers.test/ko/days/2024-09-23.html"
            ]
        );
        let content = feed.entries()[0]
            .content()
            .and_then(|c| c.value())
            .unwrap_or_default();
        assert_eq!(content, "<p>a &amp; <b>b</b> </p>");
        assert!(feed.entries()[0].title().as_str().contains("검토 대기 1편"));
    }

    #[test]
    fn a_bad_stored_time_is_an_error_naming_the_day() {
        let days = [publication("2024-09-24", "yesterday", "<p></p>")];
        let error = build("t", "https://papers.test", &days).unwrap_err();
        assert!(error.to_string().contains("2024-09-24"), "{error}");
    }
}
