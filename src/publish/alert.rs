//! The alert: one message to a person at the end of a run that needs one (flagged, failed or
//! not-attempted papers, a source failure, a budget or quota stop, an incomplete list, a target that
//! failed to publish, and optionally a day with no announcement), with the counts and where the report
//! is, so that "no papers today" is never mistaken for "the job failed", nor the other way round.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

use super::webhook::{
    cut, discord_escape, slack_escape, units, DISCORD_MAX_CONTENT, SLACK_MAX_MESSAGE_TEXT,
};
use super::WebhookKind;
use crate::render::text::one_line;

/// The alert's name in reports.
pub const TARGET: &str = "alert";

/// What a run did that a person may need to hear about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attention {
    /// The run's number (`None` when it failed before it was recorded).
    pub run: Option<i64>,
    pub date: Option<NaiveDate>,
    pub listed: usize,
    pub ok: usize,
    pub flagged: usize,
    pub failed: usize,
    pub not_attempted: usize,
    /// Why the run stopped early: a budget, an exhausted quota, an unreachable model, a signal.
    pub stopped: Option<String>,
    /// The error the run ended with (a source that cannot be reached, a store that cannot be written).
    pub error: Option<String>,
    /// Why the source's list of the day was incomplete (the day is not published).
    pub incomplete_list: Option<String>,
    /// Why the day had no announcement.
    pub no_announcement: Option<String>,
    /// Targets that failed to publish, with why.
    pub publish_failures: Vec<String>,
    /// Where the run's report is.
    pub report: Option<String>,
}

impl Attention {
    /// Whether a person needs to hear about the run.
    pub fn needs_person(&self, on_no_announcement: bool) -> bool {
        self.error.is_some()
            || self.stopped.is_some()
            || self.flagged + self.failed + self.not_attempted > 0
            || self.incomplete_list.is_some()
            || !self.publish_failures.is_empty()
            || (on_no_announcement && self.no_announcement.is_some())
    }

    /// One line: what happened.
    pub fn headline(&self) -> String {
        if self.error.is_some() {
            return match self.date {
                Some(date) => format!("the run for {date} failed"),
                None => "the run failed".to_string(),
            };
        }
        let day = self
            .date
            .map_or_else(|| "the day".to_string(), |d| d.to_string());
        let mut problems = Vec::new();
        for (count, what) in [
            (self.flagged, "flagged"),
            (self.failed, "failed"),
            (self.not_attempted, "not attempted"),
        ] {
            if count > 0 {
                problems.push(format!("{count} {what}"));
            }
        }
        if self.stopped.is_some() {
            problems.push("stopped early".to_string());
        }
        if self.incomplete_list.is_some() {
            problems.push("incomplete list, not published".to_string());
        }
        if !self.publish_failures.is_empty() {
            problems.push(format!("{} publish failures", self.publish_failures.len()));
        }
        match (problems.is_empty(), &self.no_announcement) {
            (true, Some(_)) => format!("no announcement for {day} (no papers today)"),
            (true, None) => format!("{day}: nothing needs attention"),
            (false, _) => format!("{day} needs attention: {}", problems.join(", ")),
        }
    }

    /// The whole message as plain lines (every value on one line, as the output rule says).
    pub fn text(&self) -> String {
        let mut lines = vec![format!("paper-digest: {}", self.headline())];
        if let Some(run) = self.run {
            lines.push(format!("Run: {run}"));
        }
        if self.error.is_none() || self.listed > 0 {
            lines.push(format!(
                "Papers: {} listed, {} ok, {} flagged, {} failed, {} not attempted",
                self.listed, self.ok, self.flagged, self.failed, self.not_attempted
            ));
        }
        if let Some(error) = &self.error {
            lines.push(format!("Error: {}", one_line(error)));
        }
        if let Some(stopped) = &self.stopped {
            lines.push(format!("Stopped: {}", one_line(stopped)));
        }
        if let Some(note) = &self.incomplete_list {
            lines.push(format!(
                "Incomplete list (the day is not published): {}",
                one_line(note)
            ));
        }
        if let Some(reason) = &self.no_announcement {
            lines.push(format!(
                "No announcement: {} (no papers today; this is not a failure)",
                one_line(reason)
            ));
        }
        for failure in &self.publish_failures {
            lines.push(format!("Publishing failed: {}", one_line(failure)));
        }
        lines.push(match (&self.report, self.run) {
            (Some(report), Some(run)) => format!(
                "Report: {} (paper-digest report --run {run})",
                one_line(report)
            ),
            (Some(report), None) => format!("Report: {}", one_line(report)),
            (None, _) => "Report: none (the run ended before it could write one)".to_string(),
        });
        lines.join("\n")
    }
}

/// The alert as the service takes it.
pub fn message(kind: WebhookKind, attention: &Attention) -> Value {
    let text = attention.text();
    match kind {
        WebhookKind::Slack => {
            json!({"text": cut_units(&slack_escape(&text), SLACK_MAX_MESSAGE_TEXT)})
        }
        WebhookKind::Discord => json!({
            "content": cut_units(&discord_escape(&text), DISCORD_MAX_CONTENT),
            "allowed_mentions": {"parse": []},
        }),
        WebhookKind::Json => {
            let event = match (&attention.error, &attention.no_announcement) {
                (Some(_), _) => "run_failed",
                (None, Some(_)) if !attention.needs_person(false) => "no_announcement",
                _ => "run_needs_attention",
            };
            json!({"event": event, "text": text, "run": sanitized(attention)})
        }
    }
}

/// The attention's text values on one line each.
fn sanitized(attention: &Attention) -> Attention {
    let line = |value: &Option<String>| value.as_deref().map(one_line);
    Attention {
        stopped: line(&attention.stopped),
        error: line(&attention.error),
        incomplete_list: line(&attention.incomplete_list),
        no_announcement: line(&attention.no_announcement),
        publish_failures: attention
            .publish_failures
            .iter()
            .map(|f| one_line(f))
            .collect(),
        report: line(&attention.report),
        ..attention.clone()
    }
}

/// Cuts escaped text at a line break (or, failing that, a character) to fit `max` units.
fn cut_units(text: &str, max: usize) -> String {
    if units(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if units(&out) + units(line) + 1 > max {
            break;
        }
        out.push_str(line);
    }
    if out.is_empty() {
        // No whole line fits; `text` is longer than `max`, so `cut` cuts it and adds the `…`.
        return cut(text, max);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Option<NaiveDate> {
        "2024-09-23".parse().ok()
    }

    #[test]
    fn no_announcement_and_failure_read_differently() {
        let quiet = Attention {
            run: Some(3),
            date: day(),
            no_announcement: Some("the source lists no papers for this day".into()),
            report: Some("out/reports/run-3.md".into()),
            ..Attention::default()
        };
        assert!(!quiet.needs_person(false));
        assert!(quiet.needs_person(true));
        assert!(quiet
            .text()
            .contains("no papers today; this is not a failure"));

        let failed = Attention {
            date: day(),
            error: Some("source hf-daily: unreachable\nconnection refused".into()),
            ..Attention::default()
        };
        assert!(failed.needs_person(false));
        let text = failed.text();
        assert!(
            text.starts_with("paper-digest: the run for 2024-09-23 failed"),
            "{text}"
        );
        assert!(
            text.contains("Error: source hf-daily: unreachable connection refused"),
            "{text}"
        );
        assert!(text.contains("Report: none"), "{text}");
        assert_eq!(message(WebhookKind::Json, &failed)["event"], "run_failed");
        assert_eq!(
            message(WebhookKind::Json, &quiet)["event"],
            "no_announcement"
        );
    }

    #[test]
    fn counts_and_report_are_in_every_format_and_text_stays_inert() {
        let attention = Attention {
            run: Some(12),
            date: day(),
            listed: 21,
            ok: 12,
            flagged: 3,
            failed: 1,
            not_attempted: 5,
            stopped: Some("budget reached <!channel> @everyone".into()),
            publish_failures: vec!["slack: HTTP 500".into()],
            report: Some("/data/out/reports/run-12.md".into()),
            ..Attention::default()
        };
        assert_eq!(
            attention.headline(),
            "2024-09-23 needs attention: 3 flagged, 1 failed, 5 not attempted, stopped early, 1 publish failures"
        );
        let slack = message(WebhookKind::Slack, &attention)["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
        assert!(slack.contains("paper-digest report --run 12"), "{slack}");
        let discord = message(WebhookKind::Discord, &attention);
        assert!(discord["content"]
            .as_str()
            .unwrap_or_default()
            .contains("\\@everyone"));
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        let json = message(WebhookKind::Json, &attention);
        assert_eq!(json["run"]["flagged"], 3);
        assert_eq!(json["event"], "run_needs_attention");
    }
}
