//! The run's review report: what was published, what needs a human and why, what it cost.

use std::fmt::Write as _;

use super::text::{inline, inline_unvouched, link_text};
use crate::store::{PaperResult, PublishOutcome, RunReport, SkipKind};

/// The report as Markdown, for people.
pub fn markdown(report: &RunReport) -> String {
    let mut out = String::new();
    write_header(&mut out, report);
    write_counts(&mut out, report);
    write_problems(&mut out, report);
    write_published(&mut out, report);
    out
}

/// The report as pretty JSON, for tools (the serialized [`RunReport`]).
pub fn json(report: &RunReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report).map(|mut text| {
        text.push('\n');
        text
    })
}

// `write!` into a String cannot fail, hence the ignored results below.
fn write_header(out: &mut String, report: &RunReport) {
    let run = &report.run;
    let _ = writeln!(out, "# Run {} report\n", run.id);
    let dry = if run.dry_run { " (dry run)" } else { "" };
    let _ = writeln!(out, "- Kind: {}{dry}", run.kind);
    let _ = match run.date {
        Some(date) => writeln!(out, "- Date: {date} · Source: {}", inline(&run.source)),
        None => writeln!(out, "- Source: {}", inline(&run.source)),
    };
    let _ = writeln!(
        out,
        "- Model: {} · Prompt version: {}",
        inline(&run.model),
        inline(&run.prompt_version)
    );
    let _ = match (&run.finished_at, run.end) {
        (Some(finished), Some(end)) => writeln!(
            out,
            "- Started: {} · Ended: {finished} ({end})",
            run.started_at
        ),
        _ => writeln!(
            out,
            "- Started: {} · Not ended (still running, or killed before it could record its end)",
            run.started_at
        ),
    };
    if let Some(listing) = &run.listing {
        let _ = match (listing.complete, &listing.note) {
            (true, None) => writeln!(out, "- Listed: {} papers", listing.listed),
            (true, Some(note)) => writeln!(
                out,
                "- Listed: {} papers ({})",
                listing.listed,
                inline_unvouched(note)
            ),
            (false, note) => writeln!(
                out,
                "- Listed: {} papers, **incomplete** ({}): the digest holds only these; the next run lists the day again",
                listing.listed,
                inline_unvouched(note.as_deref().unwrap_or("the source's list was cut short"))
            ),
        };
    }
    if let Some(note) = &run.note {
        let _ = writeln!(out, "- Note: {}", inline_unvouched(note));
    }
    out.push('\n');
}

fn write_counts(out: &mut String, report: &RunReport) {
    let counts = &report.counts;
    out.push_str("| Status | Papers |\n|---|---:|\n");
    for (label, count) in [
        ("ok (published)", counts.ok),
        ("flagged (needs review)", counts.flagged),
        ("failed", counts.failed),
        ("skipped (already done)", counts.skipped),
        ("not attempted", counts.not_attempted),
        ("in progress in another run", counts.elsewhere),
    ] {
        let _ = writeln!(out, "| {label} | {count} |");
    }
    let totals = &report.totals;
    let _ = writeln!(
        out,
        "\n**Totals**: {} attempts, {} model calls, {} prompt + {} completion tokens, {}, {}\n",
        totals.attempts,
        totals.calls,
        totals.prompt_tokens,
        totals.completion_tokens,
        dollars(totals.cost_usd),
        seconds(totals.duration_ms)
    );
}

fn write_problems(out: &mut String, report: &RunReport) {
    write_skips(out, report);
    let problems: Vec<&PaperResult> = report.problems().collect();
    if problems.is_empty() {
        out.push_str("Nothing needs review.\n");
        return;
    }
    let _ = writeln!(out, "## Needs review ({})", problems.len());
    for paper in problems {
        let _ = writeln!(
            out,
            "\n### {}: [{}]({})\n",
            paper.status,
            link_text(&paper.title),
            paper.paper.abs_url()
        );
        if !paper.reasons.is_empty() {
            out.push_str("- Reasons:\n");
            for reason in &paper.reasons {
                let _ = writeln!(out, "  - {}", inline_unvouched(reason));
            }
        }
        if let Some(error) = &paper.error {
            let _ = writeln!(out, "- Error: {}", inline_unvouched(error));
        }
        let trimmed = if paper.trimmed {
            " (abstract trimmed)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "- Usage: {} attempts, {} model calls, {} prompt + {} completion tokens, {}, {}{trimmed}",
            paper.attempts,
            paper.calls,
            paper.prompt_tokens,
            paper.completion_tokens,
            dollars(paper.cost_usd),
            seconds(paper.duration_ms)
        );
    }
}

/// Papers the run did not attempt: not started, or in progress in another run.
fn write_skips(out: &mut String, report: &RunReport) {
    for (kind, heading) in [
        (SkipKind::NotAttempted, "Not attempted"),
        (SkipKind::Elsewhere, "In progress in another run"),
    ] {
        let skips: Vec<_> = report.skips.iter().filter(|s| s.kind == kind).collect();
        if skips.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {heading} ({})\n", skips.len());
        for skip in skips {
            let _ = writeln!(
                out,
                "- [{}]({}): {}",
                skip.paper,
                skip.paper.abs_url(),
                inline_unvouched(&skip.detail)
            );
        }
        out.push('\n');
    }
}

/// What the run published where, and what failed to publish (the day's data is kept either way).
fn write_published(out: &mut String, report: &RunReport) {
    if report.published.is_empty() {
        return;
    }
    let failed = report
        .published
        .iter()
        .filter(|p| p.outcome == PublishOutcome::Failed)
        .count();
    let _ = match failed {
        0 => writeln!(out, "\n## Published\n"),
        n => writeln!(out, "\n## Published ({n} failed)\n"),
    };
    out.push_str("| Day | Target | Outcome | Details |\n|---|---|---|---|\n");
    for record in &report.published {
        let day = record
            .date
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        let outcome = match record.outcome {
            PublishOutcome::Failed => "**failed**".to_string(),
            other => other.to_string(),
        };
        let _ = writeln!(
            out,
            "| {day} | {} | {outcome} | {} |",
            table_cell(&record.target),
            table_cell(&record.detail)
        );
    }
}

/// Text inside a table cell: no raw HTML, link or image, no `|` that would end the cell.
fn table_cell(text: &str) -> String {
    inline_unvouched(text).replace('|', "\\|")
}

fn dollars(amount: f64) -> String {
    format!("${amount:.4}")
}

fn seconds(ms: u64) -> String {
    format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
}
