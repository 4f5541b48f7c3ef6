//! `review list|show|approve|reject|edit|resummarize`: a person's decisions on summaries, from the
//! terminal. The decisions themselves (checks, trail, re-rendered digests, publishing the days) are
//! `review::Reviewer`'s, shared with the web page.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::{publish_status, run_status};
use super::{publish, publisher, stages, CommandError, Context, ExitStatus};
use crate::checks::answer;
use crate::cli::{
    LintFormat, ReviewArgs, ReviewCommand, ReviewDecideArgs, ReviewEditArgs, ReviewListArgs,
    ReviewShowArgs, ReviewStatus,
};
use crate::paper::ArxivId;
use crate::publish::Publisher;
use crate::render::text::one_line;
use crate::review::{actor_name, Decided, DigestTarget, PaperReview, ReviewChecks, Reviewer};
use crate::settings::Settings;
use crate::store::{Decision, QueueFilter, ReviewState, Store};

pub(super) async fn review(
    settings: Settings,
    args: ReviewArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    match args.command {
        ReviewCommand::List(args) => list(&settings, args, ctx.out),
        ReviewCommand::Show(args) => show(&settings, args, ctx.out),
        ReviewCommand::Approve(args) => {
            let (reviewer, id, actor) = prepare(&settings, &args, &ctx)?;
            let decided = reviewer.approve(&id, &actor, args.note.as_deref(), None)?;
            report(ctx.out, &decided)?;
            published(ctx.out, &reviewer, &id).await
        }
        ReviewCommand::Reject(args) => {
            let (reviewer, id, actor) = prepare(&settings, &args, &ctx)?;
            let decided = reviewer.reject(&id, &actor, args.note.as_deref(), None)?;
            report(ctx.out, &decided)?;
            published(ctx.out, &reviewer, &id).await
        }
        ReviewCommand::Edit(args) => edit(&settings, args, ctx).await,
        ReviewCommand::Resummarize(args) => resummarize(&settings, args, ctx).await,
    }
}

/// The reviewer of the configured store, writing digests to `out` (or `run.out_dir`) and publishing
/// the days of its decisions with `publisher`.
pub(super) fn reviewer(
    settings: &Settings,
    store: Store,
    out: Option<PathBuf>,
    publisher: Option<Arc<Publisher>>,
) -> Reviewer {
    Reviewer {
        store,
        checks: ReviewChecks {
            shape: settings.summarize.shape,
            identity: settings.summarize.identity.clone(),
        },
        digests: DigestTarget {
            out_dir: out.unwrap_or_else(|| settings.out_dir.clone()),
            include_flagged: settings.include_flagged,
        },
        publisher,
    }
}

/// Publishes the decided paper's days and prints what went where: 1 when a target failed.
async fn published(
    out: &mut (dyn Write + Send),
    reviewer: &Reviewer,
    id: &ArxivId,
) -> Result<ExitStatus, CommandError> {
    let records = reviewer.publish(id).await?;
    for record in &records {
        writeln!(out, "{}", publish::line(record))?;
    }
    Ok(publish_status(&records))
}

fn prepare(
    settings: &Settings,
    args: &ReviewDecideArgs,
    ctx: &Context<'_>,
) -> Result<(Reviewer, ArxivId, String), CommandError> {
    let env = &ctx.env;
    let id = ArxivId::parse(&args.id)?.id;
    let actor = match &args.actor {
        Some(name) => actor_name(name)?,
        None => actor_name(
            env.get("USER")
                .or_else(|| env.get("LOGNAME"))
                .unwrap_or("cli"),
        )?,
    };
    let store = Store::open(&settings.database)?;
    let publisher = publisher(settings, &ctx.shutdown)?;
    Ok((
        reviewer(settings, store, args.out.clone(), publisher),
        id,
        actor,
    ))
}

fn list(
    settings: &Settings,
    args: ReviewListArgs,
    out: &mut (dyn Write + Send),
) -> Result<ExitStatus, CommandError> {
    let store = Store::open(&settings.database)?;
    let filter = match args.status {
        ReviewStatus::Flagged => QueueFilter::Flagged,
        ReviewStatus::Failed => QueueFilter::Failed,
        ReviewStatus::All => QueueFilter::All,
    };
    let entries = store.queue(args.date, filter)?;
    if args.format == LintFormat::Json {
        let json = serde_json::to_string_pretty(&entries)
            .map_err(|e| CommandError::Usage(format!("cannot encode the list as JSON: {e}")))?;
        writeln!(out, "{json}")?;
        return Ok(ExitStatus::Success);
    }
    if entries.is_empty() {
        writeln!(out, "no papers to review")?;
    }
    for entry in &entries {
        let dates: Vec<String> = entry.dates.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            entry.paper,
            entry.state.map(ReviewState::as_str).unwrap_or("none"),
            if dates.is_empty() {
                "-".to_string()
            } else {
                dates.join(",")
            },
            one_line(&entry.title)
        )?;
        if let Some(decided) = &entry.decided {
            writeln!(
                out,
                "    {} by {} at {}",
                decided.action,
                one_line(&decided.actor),
                decided.at
            )?;
        }
        for reason in &entry.reasons {
            writeln!(out, "    - {}", one_line(reason))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn show(
    settings: &Settings,
    args: ReviewShowArgs,
    out: &mut (dyn Write + Send),
) -> Result<ExitStatus, CommandError> {
    let id = ArxivId::parse(&args.id)?.id;
    let review = reviewer(settings, Store::open(&settings.database)?, None, None).paper(&id)?;
    if args.format == LintFormat::Json {
        let json = serde_json::to_string_pretty(&review)
            .map_err(|e| CommandError::Usage(format!("cannot encode {id} as JSON: {e}")))?;
        writeln!(out, "{json}")?;
    } else {
        out.write_all(describe(&review).as_bytes())?;
    }
    Ok(ExitStatus::Success)
}

/// A paper as a reviewer reads it in a terminal; the summary block is in the form `edit --file`
/// takes back.
fn describe(review: &PaperReview) -> String {
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    let paper = &review.paper;
    line(format!("## {} — {}", paper.id, one_line(&paper.title)));
    line(String::new());
    let state = review
        .state
        .map(ReviewState::as_str)
        .unwrap_or("not summarized");
    line(format!("status: {state}"));
    let current = review.current.as_ref();
    if let Some(decided) = current.and_then(|c| c.decided.as_ref()) {
        line(format!(
            "decided: {} by {} at {}",
            decided.action,
            one_line(&decided.actor),
            decided.at
        ));
    }
    let dates: Vec<String> = review.dates.iter().map(ToString::to_string).collect();
    line(format!(
        "listed: {}",
        if dates.is_empty() {
            "-".to_string()
        } else {
            dates.join(", ")
        }
    ));
    if let Some(current) = current {
        line(format!("model: {}", one_line(&current.key.model)));
        line(format!("prompt version: {}", current.key.prompt_version));
        line(format!("written: {}", current.created_at));
        line(format!("attempt: {}", current.attempt));
    }
    if let Some(run) = review.claimed_by {
        line(format!("in progress: run {run} is summarizing it now"));
    }
    line(String::new());
    line("### Summary".to_string());
    line(String::new());
    match current.and_then(|c| c.sections.as_ref()) {
        Some(sections) => {
            for (title, body) in sections.iter() {
                line(format!("- **{title}**: {}", one_line(body)));
            }
        }
        None => line("(no usable summary)".to_string()),
    }
    line(String::new());
    line("### Reasons".to_string());
    line(String::new());
    let reasons = current.map(|c| c.reasons.as_slice()).unwrap_or_default();
    if reasons.is_empty() {
        line("(none)".to_string());
    }
    for reason in reasons {
        line(format!("- {}", one_line(reason)));
    }
    if let Some(marks) = &review.marks {
        line(String::new());
        line("### Terms".to_string());
        line(String::new());
        let join = |terms: &[String]| {
            let shown: Vec<String> = terms.iter().map(|t| one_line(t)).collect();
            if shown.is_empty() {
                "-".to_string()
            } else {
                shown.join(", ")
            }
        };
        line(format!(
            "found in the title and abstract: {}",
            join(&marks.found)
        ));
        line(format!("not found: {}", join(&marks.missing)));
    }
    line(String::new());
    line("### Abstract".to_string());
    line(String::new());
    line(one_line(&paper.abstract_text));
    line(String::new());
    line("### History".to_string());
    line(String::new());
    for attempt in &review.history {
        let by = match &attempt.actor {
            Some(actor) => format!("{} by {}", attempt.kind, one_line(actor)),
            None => format!("{} in run {}", attempt.kind, attempt.run),
        };
        line(format!(
            "#{}{} {} {} {} (model {}, prompt {}, {} calls)",
            attempt.id,
            if attempt.current { "*" } else { "" },
            attempt.created_at,
            by,
            attempt.status,
            one_line(&attempt.model),
            attempt.prompt_version,
            attempt.calls
        ));
    }
    line(String::new());
    line("### Review trail".to_string());
    line(String::new());
    if review.decisions.is_empty() {
        line("(no decision yet)".to_string());
    }
    for decision in &review.decisions {
        line(trail_line(decision));
    }
    text
}

fn trail_line(decision: &Decision) -> String {
    let state = |s: Option<ReviewState>| s.map(ReviewState::as_str).unwrap_or("none");
    let mut text = format!(
        "{} {} {} ({} → {})",
        decision.decided_at,
        one_line(&decision.actor),
        decision.action,
        state(decision.status_before),
        state(decision.status_after)
    );
    if let Some(note) = &decision.note {
        text.push_str(&format!(": {}", one_line(note)));
    }
    text
}

fn report(out: &mut (dyn Write + Send), decided: &Decided) -> Result<(), CommandError> {
    let decision = &decided.decision;
    writeln!(out, "{}: {}", decision.paper, trail_line(decision))?;
    for path in &decided.digests {
        writeln!(out, "digest: {}", path.display())?;
    }
    Ok(())
}

async fn edit(
    settings: &Settings,
    args: ReviewEditArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let (reviewer, id, actor) = prepare(settings, &args.decide, &ctx)?;
    let path = &args.file;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let parsed = answer::parse(&text).map_err(|reason| {
        CommandError::Usage(format!(
            "{} holds no summary in the three sections (`- **What's New**: ...` or JSON): {reason}",
            path.display()
        ))
    })?;
    let decided = reviewer.edit(
        &id,
        parsed.sections,
        &actor,
        args.decide.note.as_deref(),
        None,
    )?;
    report(ctx.out, &decided)?;
    // Either way the paper's days changed (published, or now held back): the targets hear it.
    let publishing = published(ctx.out, &reviewer, &id).await?;
    if decided.decision.status_after == Some(ReviewState::Ok) {
        return Ok(publishing);
    }
    let current = reviewer.store.current(&id)?;
    for reason in current.iter().flat_map(|c| &c.reasons) {
        writeln!(ctx.out, "    - {}", one_line(reason))?;
    }
    writeln!(
        ctx.out,
        "the edit is kept for review: `paper-digest review approve {id}` publishes it"
    )?;
    Ok(ExitStatus::NotAllPublished)
}

async fn resummarize(
    settings: &Settings,
    args: ReviewDecideArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let (reviewer, id, actor) = prepare(settings, &args, &ctx)?;
    let stages = stages(
        settings,
        reviewer.store.clone(),
        reviewer.publisher.clone(),
        &ctx,
    )?;
    let done = reviewer
        .resummarize(&stages, &id, &actor, args.note.as_deref())
        .await?;
    writeln!(ctx.out, "{}: {}", id, trail_line(&done.decision))?;
    for path in &done.run.digests {
        writeln!(ctx.out, "digest: {}", path.display())?;
    }
    for record in &done.run.published {
        writeln!(ctx.out, "{}", publish::line(record))?;
    }
    Ok(run_status(&done.run))
}
