//! Slack, Discord and generic JSON webhooks: a day's digest as messages that fit each service's
//! limits, posted in order; each message is recorded once delivered, under (day, target, content
//! hash), so a rerun posts nothing again, an interrupted posting resumes with the next message, and a
//! changed day is posted once more as an update.
//!
//! Text is one line per value ([`one_line`]: no control or invisible characters, no script URL
//! scheme), then escaped for the service: Slack's `mrkdwn` needs `&`, `<` and `>` as entities (which
//! also stops `<!channel>`-style mentions and `<url|text>` links); Discord's Markdown characters are
//! backslash-escaped and every mention is switched off (`allowed_mentions`); JSON is JSON. A flagged
//! summary (published only with `include_flagged`) has its web addresses written so that no client
//! links them.

use serde_json::{json, Value};

use super::day::DayContent;
use super::post::Poster;
use super::{blocking_store, record, WebhookKind, WebhookTarget};
use crate::paper::{Sections, Status};
use crate::render::digest::{nothing_published_note, DigestEntry};
use crate::render::text::{one_line, unlinked};
use crate::store::{NewPublication, PublishOutcome, PublishRecord, Store};

// Limits relied on, as the services document them (Slack: "Block Kit: section block", "header
// block", "Sending messages using incoming webhooks" — up to 50 blocks a message, 3,000 characters
// of text a section, 150 a header, and 40,000 characters for a message's text, which we apply to the
// sum of its text; Discord: "Execute Webhook" and "Embed Limits" — content up to 2,000 characters,
// up to 10 embeds, an embed title up to 256 and a description up to 4,096 characters, and 6,000
// characters across a message's embeds). Lengths are counted in UTF-16 code units, which is never
// less than the characters either service counts.
pub const SLACK_MAX_BLOCKS: usize = 50;
pub const SLACK_MAX_SECTION_TEXT: usize = 3_000;
pub const SLACK_MAX_HEADER_TEXT: usize = 150;
pub const SLACK_MAX_MESSAGE_TEXT: usize = 40_000;
pub const DISCORD_MAX_CONTENT: usize = 2_000;
pub const DISCORD_MAX_EMBEDS: usize = 10;
pub const DISCORD_MAX_EMBED_TITLE: usize = 256;
pub const DISCORD_MAX_EMBED_DESCRIPTION: usize = 4_096;
pub const DISCORD_MAX_EMBEDS_TOTAL: usize = 6_000;

/// A title is a link's text (never split): messages cut it to this many characters.
const MAX_TITLE_CHARS: usize = 300;
/// Author lists can run to hundreds of names: messages cut the line to this many characters.
const MAX_AUTHORS_CHARS: usize = 500;
/// Room kept in every message for its numbering ("(2/7)") and fallback text.
const MESSAGE_RESERVE: usize = 200;
/// Starts a continued Discord description, so that escaped text never begins a line.
const CONTINUED: &str = "… ";

/// Length as the services count it (at most this).
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// A day's messages for a service, in posting order (never empty).
pub fn messages(kind: WebhookKind, day: &DayContent, update: bool) -> Vec<Value> {
    match kind {
        WebhookKind::Slack => slack(day, update),
        WebhookKind::Discord => discord(day, update),
        WebhookKind::Json => vec![json_day(day, update)],
    }
}

/// Posts the day's messages that the target does not have yet.
pub(crate) async fn publish_day(
    poster: &Poster,
    target: &WebhookTarget,
    store: &Store,
    day: &DayContent,
) -> PublishRecord {
    let name = target.kind.target();
    let date = Some(day.date);
    let failed = |detail: String| record(date, name, PublishOutcome::Failed, detail);
    let (latest, update) = match store
        .latest_publication(day.date, name)
        .and_then(|latest| Ok((latest, store.published_before(day.date, name, &day.hash)?)))
    {
        Ok(found) => found,
        Err(error) => return failed(error.to_string()),
    };
    if let Some(p) = latest
        .as_ref()
        .filter(|p| p.content_hash == day.hash && p.done)
    {
        return record(
            date,
            name,
            PublishOutcome::Unchanged,
            format!("already posted ({} messages)", p.parts),
        );
    }
    let messages = messages(target.kind, day, update);
    let total = messages.len() as u64;
    let resume_from = match &latest {
        Some(p) if p.content_hash == day.hash && p.parts == total => p.parts_done,
        _ => {
            let begun = {
                let store = store.clone();
                let (date, hash) = (day.date, day.hash.clone());
                let (papers, held) = (day.papers() as u64, day.held() as u64);
                blocking_store(move || {
                    store.begin_publication(
                        &NewPublication {
                            date,
                            target: name,
                            content_hash: &hash,
                            parts: total,
                            papers,
                            held,
                            location: name,
                            content: None,
                        },
                        false,
                    )
                })
                .await
            };
            if let Err(error) = begun {
                return failed(error);
            }
            0
        }
    };
    for (index, message) in messages.iter().enumerate().skip(resume_from as usize) {
        if poster.is_stopped() {
            return record(
                date,
                name,
                PublishOutcome::Withheld,
                format!(
                    "stopped after {index} of {total} messages; the next run or `paper-digest publish` posts the rest"
                ),
            );
        }
        let pause = match poster.post(&target.url, message).await {
            Ok(pause) => pause,
            Err(error) => {
                return failed(format!(
                    "{index} of {total} messages posted; message {} failed: {error}",
                    index + 1
                ))
            }
        };
        let done = index as u64 + 1;
        let recorded = {
            let store = store.clone();
            let (date, hash) = (day.date, day.hash.clone());
            blocking_store(move || store.publication_progress(date, name, &hash, done)).await
        };
        if let Err(error) = recorded {
            return failed(format!(
                "message {done} of {total} was posted but cannot be recorded (a rerun may post it again): {error}"
            ));
        }
        if let Some(wait) = pause.filter(|_| done < total) {
            poster.pause(wait).await;
        }
    }
    let mut detail = format!("{total} messages");
    if update {
        detail.push_str(", an update of the day");
    }
    if resume_from > 0 {
        detail.push_str(&format!(", resumed after message {resume_from}"));
    }
    record(date, name, PublishOutcome::Published, detail)
}

/// One published paper, as the messages show it: raw text, one line per value, cut where needed.
struct PaperText<'a> {
    url: String,
    title: String,
    votes: Option<String>,
    authors: Option<String>,
    /// For a flagged summary shown with `include_flagged`: the warning and its reasons.
    warning: Option<String>,
    sections: Vec<(&'static str, String)>,
    entry: &'a DigestEntry,
}

impl<'a> PaperText<'a> {
    fn of(entry: &'a DigestEntry, sections: &Sections) -> PaperText<'a> {
        let flagged = entry.status == Some(Status::Flagged);
        // A flagged summary was not vouched for by the checks: its addresses are not linked.
        let text = |value: &str| match flagged {
            true => unlinked(&one_line(value)),
            false => one_line(value),
        };
        let authors = entry
            .authors
            .iter()
            .map(|a| one_line(a))
            .collect::<Vec<_>>()
            .join(", ");
        PaperText {
            url: entry.id.abs_url(),
            title: cut(&one_line(&entry.title), MAX_TITLE_CHARS),
            votes: entry.votes.map(|votes| match votes {
                0 => "-".to_string(),
                n => n.to_string(),
            }),
            authors: (!authors.is_empty()).then(|| cut(&authors, MAX_AUTHORS_CHARS)),
            warning: flagged.then(|| {
                let reasons: Vec<String> = entry
                    .reasons
                    .iter()
                    .map(|r| unlinked(&one_line(r)))
                    .collect();
                match reasons.is_empty() {
                    true => "⚠️ 검토 필요 (flagged for review)".to_string(),
                    false => format!("⚠️ 검토 필요 (flagged for review): {}", reasons.join("; ")),
                }
            }),
            sections: sections
                .iter()
                .into_iter()
                .map(|(title, body)| (title, text(body)))
                .collect(),
            entry,
        }
    }

    /// `Vote: 41 · Authors: …`, when there is either.
    fn meta(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.votes.as_ref().map(|v| format!("Vote: {v}")),
            self.authors.as_ref().map(|a| format!("Authors: {a}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

fn papers(day: &DayContent) -> Vec<PaperText<'_>> {
    day.published()
        .into_iter()
        .filter_map(|entry| {
            entry
                .published(day.include_flagged)
                .map(|sections| PaperText::of(entry, sections))
        })
        .collect()
}

/// The first message's line: the day, its counts, and an update's mark.
fn headline(day: &DayContent, update: bool) -> String {
    let mut text = day.title();
    if update {
        text.push_str(" — 업데이트 (updated)");
    }
    text
}

/// What the first message says under the title: the counts, or that nothing is published.
fn intro(day: &DayContent) -> String {
    if day.papers() == 0 {
        return nothing_published_note(day.held());
    }
    day.counts()
}

// ---------------------------------------------------------------------------------------------
// Slack

/// Slack `mrkdwn` text: `&`, `<`, `>` as entities.
pub(crate) fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What cannot be split in Slack text: an entity, or one character.
fn slack_atoms(text: &str) -> Vec<&str> {
    atoms(text, |rest| {
        rest.starts_with('&')
            .then(|| rest.find(';').map(|end| end + 1))
            .flatten()
            .filter(|end| *end <= 6)
    })
}

/// A paper's section blocks' texts (each within a section block's limit).
fn slack_paper(paper: &PaperText<'_>) -> Vec<String> {
    let mut lines = vec![format!("*<{}|{}>*", paper.url, slack_escape(&paper.title))];
    lines.extend(paper.meta().map(|meta| slack_escape(&meta)));
    lines.extend(paper.warning.as_deref().map(slack_escape));
    for (title, body) in &paper.sections {
        lines.push(format!("• *{title}*: {}", slack_escape(body)));
    }
    pack_lines(&lines, SLACK_MAX_SECTION_TEXT, slack_atoms)
}

fn slack(day: &DayContent, update: bool) -> Vec<Value> {
    let header = cut(&headline(day, update), SLACK_MAX_HEADER_TEXT);
    let intro = slack_escape(&intro(day));
    let groups: Vec<Vec<(String, usize)>> = papers(day)
        .iter()
        .map(|paper| {
            slack_paper(paper)
                .into_iter()
                .map(|text| {
                    let n = units(&text);
                    (text, n)
                })
                .collect()
        })
        .collect();
    let first = Budget {
        items: SLACK_MAX_BLOCKS - 2,
        units: SLACK_MAX_MESSAGE_TEXT - MESSAGE_RESERVE - units(&header) - units(&intro),
    };
    let rest = Budget {
        items: SLACK_MAX_BLOCKS - 1,
        units: SLACK_MAX_MESSAGE_TEXT - MESSAGE_RESERVE,
    };
    let packed = pack(groups, first, rest);
    let total = packed.len();
    packed
        .into_iter()
        .enumerate()
        .map(|(index, texts)| {
            let part = format!("{} ({}/{total})", day.title(), index + 1);
            let mut blocks = Vec::new();
            if index == 0 {
                blocks.push(json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}));
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": intro}}));
            } else {
                blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&part)}]}));
            }
            blocks.extend(
                texts
                    .into_iter()
                    .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})),
            );
            json!({"text": slack_escape(&part), "blocks": blocks})
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Discord

/// Discord Markdown: every character that could format, quote, link, mention or hide text is
/// backslash-escaped (Discord shows the character itself).
pub(crate) fn discord_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '~'
                | '`'
                | '|'
                | '>'
                | '<'
                | '#'
                | '['
                | ']'
                | '('
                | ')'
                | '-'
                | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What cannot be split in Discord text: an escape and its character, or one character.
fn discord_atoms(text: &str) -> Vec<&str> {
    atoms(text, |rest| {
        rest.starts_with('\\')
            .then(|| rest[1..].chars().next().map(|c| 1 + c.len_utf8()))
            .flatten()
    })
}

/// A paper's embeds: the first with its title and link, then continued descriptions.
fn discord_paper(paper: &PaperText<'_>) -> Vec<(Value, usize)> {
    let mut lines = Vec::new();
    lines.extend(paper.meta().map(|meta| discord_escape(&meta)));
    lines.extend(paper.warning.as_deref().map(discord_escape));
    for (title, body) in &paper.sections {
        lines.push(format!("**{title}**: {}", discord_escape(body)));
    }
    let title = cut(&paper.title, DISCORD_MAX_EMBED_TITLE);
    let descriptions = pack_lines(
        &lines,
        DISCORD_MAX_EMBED_DESCRIPTION - units(CONTINUED),
        discord_atoms,
    );
    descriptions
        .into_iter()
        .enumerate()
        .map(|(index, description)| {
            if index == 0 {
                let weight = units(&title) + units(&description);
                let mut embed =
                    json!({"title": title, "url": paper.url, "description": description});
                if paper.entry.status == Some(Status::Flagged) {
                    embed["color"] = json!(0xE0A800);
                }
                (embed, weight)
            } else {
                let description = format!("{CONTINUED}{description}");
                let weight = units(&description);
                (json!({"description": description}), weight)
            }
        })
        .collect()
}

fn discord(day: &DayContent, update: bool) -> Vec<Value> {
    let groups: Vec<Vec<(Value, usize)>> = papers(day).iter().map(discord_paper).collect();
    let budget = Budget {
        items: DISCORD_MAX_EMBEDS,
        units: DISCORD_MAX_EMBEDS_TOTAL,
    };
    let packed = pack(groups, budget, budget);
    let total = packed.len();
    let intro = discord_escape(&intro(day));
    packed
        .into_iter()
        .enumerate()
        .map(|(index, embeds)| {
            let title = discord_escape(&headline(day, update));
            let content = match index {
                0 => format!("**{title}** ({}/{total})\n{intro}", index + 1),
                _ => format!("**{title}** ({}/{total})", index + 1),
            };
            json!({
                "content": cut(&content, DISCORD_MAX_CONTENT),
                "embeds": embeds,
                "allowed_mentions": {"parse": []},
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The whole day as one JSON document (a JSON body has no length limit of its own).
fn json_day(day: &DayContent, update: bool) -> Value {
    let papers: Vec<Value> = papers(day)
        .iter()
        .map(|paper| {
            let sections: serde_json::Map<String, Value> = paper
                .sections
                .iter()
                .zip(["whats_new", "technical_details", "performance_highlights"])
                .map(|((_, text), key)| (key.to_string(), json!(text)))
                .collect();
            json!({
                "id": paper.entry.id.as_str(),
                "url": paper.url,
                "title": one_line(&paper.entry.title),
                "authors": paper.entry.authors.iter().map(|a| one_line(a)).collect::<Vec<_>>(),
                "votes": paper.entry.votes,
                "status": paper.entry.status.map(Status::as_str),
                "warning": paper.warning,
                "sections": sections,
            })
        })
        .collect();
    json!({
        "event": if update { "day_updated" } else { "day_published" },
        "date": day.date.to_string(),
        "title": day.title(),
        "content_hash": day.hash,
        "listed": day.entries.len(),
        "published": day.papers(),
        "held": day.held(),
        "papers": papers,
        "markdown": day.markdown,
    })
}

// ---------------------------------------------------------------------------------------------
// Splitting

/// How much one message may carry: items (blocks, embeds) and text units.
#[derive(Debug, Clone, Copy)]
struct Budget {
    items: usize,
    units: usize,
}

/// Packs groups of weighted items (a paper's blocks or embeds) into messages: a group stays in one
/// message when it fits in one, items never exceed a budget, and at least one message comes out.
fn pack<T>(groups: Vec<Vec<(T, usize)>>, first: Budget, rest: Budget) -> Vec<Vec<T>> {
    let mut messages: Vec<Vec<T>> = vec![Vec::new()];
    let mut used = (0usize, 0usize);
    let budget = |messages: &Vec<Vec<T>>| if messages.len() == 1 { first } else { rest };
    for group in groups {
        let weight: usize = group.iter().map(|(_, w)| w).sum();
        let fits = |used: (usize, usize), b: Budget| {
            used.0 + group.len() <= b.items && used.1 + weight <= b.units
        };
        if !fits(used, budget(&messages)) && used.0 > 0 && fits((0, 0), rest) {
            messages.push(Vec::new());
            used = (0, 0);
        }
        for (item, w) in group {
            let b = budget(&messages);
            if used.0 > 0 && (used.0 + 1 > b.items || used.1 + w > b.units) {
                messages.push(Vec::new());
                used = (0, 0);
            }
            if let Some(message) = messages.last_mut() {
                message.push(item);
            }
            used = (used.0 + 1, used.1 + w);
        }
    }
    messages
}

/// Joins lines (with line breaks) into texts of at most `max` units; a longer line is split on its
/// own, between words where it can and never inside an escape.
fn pack_lines(lines: &[String], max: usize, atoms: fn(&str) -> Vec<&str>) -> Vec<String> {
    let mut texts = Vec::new();
    let mut current = String::new();
    for line in lines {
        let pieces = match units(line) <= max {
            true => vec![line.clone()],
            false => split_rendered(line, max, atoms),
        };
        for piece in pieces {
            let joined = units(&current) + 1 + units(&piece);
            if current.is_empty() {
                current = piece;
            } else if joined <= max {
                current.push('\n');
                current.push_str(&piece);
            } else {
                texts.push(std::mem::replace(&mut current, piece));
            }
        }
    }
    if !current.is_empty() {
        texts.push(current);
    }
    texts
}

/// Splits one escaped line into pieces of at most `max` units: at spaces where it can, else between
/// `atoms`.
fn split_rendered(text: &str, max: usize, atoms: fn(&str) -> Vec<&str>) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for word in text.split_inclusive(' ') {
        let n = units(word);
        if used + n <= max {
            current.push_str(word);
            used += n;
            continue;
        }
        if !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            used = 0;
        }
        if n <= max {
            current.push_str(word);
            used = n;
            continue;
        }
        for atom in atoms(word) {
            let n = units(atom);
            if used + n > max && !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
                used = 0;
            }
            current.push_str(atom);
            used += n;
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Splits `text` into characters, except where `unit` says a longer piece starts (its byte length).
fn atoms(text: &str, unit: impl Fn(&str) -> Option<usize>) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let len = unit(rest)
            .filter(|len| rest.is_char_boundary(*len))
            .or_else(|| rest.chars().next().map(char::len_utf8))
            .unwrap_or(rest.len());
        out.push(&rest[..len]);
        at += len;
    }
    out
}

/// At most `max` units of `text`, ending with `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if units(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let n = c.len_utf16();
        if used + n + 1 > max {
            break;
        }
        out.push(c);
        used += n;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_stay_whole_when_text_is_split() {
        let text = slack_escape(&"a&b<c ".repeat(700));
        let pieces = split_rendered(&text, 100, slack_atoms);
        assert!(pieces.iter().all(|p| units(p) <= 100));
        assert_eq!(pieces.concat(), text);
        let long_word = slack_escape(&"<&>".repeat(400));
        for piece in split_rendered(&long_word, 50, slack_atoms) {
            assert!(units(&piece) <= 50);
            assert!(!piece.ends_with('&') && !piece.starts_with(';'), "{piece}");
        }
        let discord = discord_escape(&"*_*".repeat(500));
        for piece in split_rendered(&discord, 33, discord_atoms) {
            assert!(units(&piece) <= 33);
            assert!(!piece.ends_with('\\') || piece.ends_with("\\\\"), "{piece}");
        }
    }

    #[test]
    fn discord_escapes_markdown_and_mentions() {
        assert_eq!(
            discord_escape("**[x](https://e.test)** @everyone <@1>"),
            "\\*\\*\\[x\\]\\(https://e.test\\)\\*\\* \\@everyone \\<\\@1\\>"
        );
        assert_eq!(
            slack_escape("<!channel> & <https://e.test|x>"),
            "&lt;!channel&gt; &amp; &lt;https://e.test|x&gt;"
        );
    }

    #[test]
    fn packing_keeps_groups_together_and_respects_budgets() {
        let budget = Budget {
            items: 3,
            units: 10,
        };
        let groups = vec![
            vec![("a", 4), ("b", 4)],
            vec![("c", 4)],
            vec![("d", 1), ("e", 1), ("f", 1), ("g", 1)],
        ];
        let packed = pack(groups, budget, budget);
        assert_eq!(
            packed,
            vec![vec!["a", "b"], vec!["c", "d", "e"], vec!["f", "g"]]
        );
        let empty: Vec<Vec<(&str, usize)>> = Vec::new();
        assert_eq!(pack(empty, budget, budget), vec![Vec::<&str>::new()]);
    }

    #[test]
    fn cut_marks_what_it_cut() {
        assert_eq!(cut("short", 10), "short");
        let long = cut(&"가".repeat(400), 256);
        assert_eq!(units(&long), 256);
        assert!(long.ends_with('…'));
    }
}
