//! `run`: the scheduled job.

use super::{error::run_status, publisher, stages, CommandError, Context, ExitStatus};
use crate::cli::RunArgs;
use crate::model::tokens;
use crate::pipeline::fetch::{DaySource, Fetcher};
use crate::pipeline::select::{self, KeyMaker};
use crate::pipeline::{RunRequest, RunSummary};
use crate::prompt::PromptSet;
use crate::publish::{Attention, Publisher};
use crate::settings::Settings;
use crate::source::SourceKind;
use crate::store::{SkipKind, Store};

pub(super) async fn run(
    settings: Settings,
    args: RunArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let dry_run = args.dry_run;
    let request = request(&settings, args)?;
    let fetcher = Fetcher::new(&settings.source, ctx.shutdown.clone())?;
    if dry_run {
        return plan(&settings, &fetcher, &request).await;
    }
    let publisher = publisher(&settings, &ctx.shutdown)?;
    // From here on a failure also reaches the alert target (`run_day` alerts its own failures).
    let store = match Store::open(&settings.database) {
        Ok(store) => store,
        Err(error) => return Err(alerted(publisher.as_deref(), None, &request, error.into()).await),
    };
    let stages = match stages(&settings, store.clone(), publisher.clone(), &ctx) {
        Ok(stages) => stages,
        Err(error) => {
            return Err(alerted(publisher.as_deref(), Some(&store), &request, error).await)
        }
    };
    let summary = stages.run_day(&fetcher, &request).await?;
    log_summary(&summary);
    Ok(run_status(&summary))
}

/// Tells the alert target (when one is configured) that the run failed before it started.
async fn alerted(
    publisher: Option<&Publisher>,
    store: Option<&Store>,
    request: &RunRequest,
    error: CommandError,
) -> CommandError {
    if let Some(publisher) = publisher {
        let attention = Attention {
            date: request.date,
            error: Some(error.to_string()),
            ..Attention::default()
        };
        publisher.alert(store, &attention, None).await;
    }
    error
}

/// Validates the run flags against each other and the config, once.
fn request(settings: &Settings, args: RunArgs) -> Result<RunRequest, CommandError> {
    let kind = args.source.unwrap_or(settings.source.kind);
    let source = match (kind, args.input) {
        (SourceKind::File, None) => {
            return Err(CommandError::Usage(
                "--source file needs --input FILE (a saved HF JSON or arXiv Atom response)".into(),
            ))
        }
        (SourceKind::File, Some(input)) => DaySource::File(input),
        (SourceKind::HfDaily | SourceKind::Arxiv, Some(input)) => {
            return Err(CommandError::Usage(format!(
                "--input {} is only read with --source file",
                input.display()
            )))
        }
        (SourceKind::HfDaily, None) => DaySource::HfDaily,
        (SourceKind::Arxiv, None) => {
            let categories = if args.categories.is_empty() {
                settings.source.categories.clone()
            } else {
                args.categories
            };
            if categories.is_empty() {
                return Err(CommandError::Usage(
                    "--source arxiv needs a category (--category cs.CL or source.categories)"
                        .into(),
                ));
            }
            DaySource::Arxiv {
                categories,
                limit: args.limit,
            }
        }
    };
    Ok(RunRequest {
        date: args.date,
        source,
        limit: args.limit,
        force: args.force,
        out_dir: args.out.unwrap_or_else(|| settings.out_dir.clone()),
        include_flagged: args.include_flagged || settings.include_flagged,
    })
}

/// `--dry-run`: fetch and say what would be summarized; no key, no model, nothing written.
async fn plan(
    settings: &Settings,
    fetcher: &Fetcher,
    request: &RunRequest,
) -> Result<ExitStatus, CommandError> {
    let mut day = fetcher.day(&request.source, request.date).await?;
    if let Some(limit) = request.limit {
        day.papers.truncate(limit);
    }
    // A dry run reads an existing store but never creates one.
    let store = match settings.database.exists() {
        true => Store::open(&settings.database)?,
        false => Store::open_in_memory()?,
    };
    let keys = KeyMaker {
        prompt_version: PromptSet::load(settings.prompts_dir.as_deref())?
            .version()
            .to_string(),
        model: settings.model.model.clone(),
    };
    let selection = select::select(&store, &day.papers, &keys, request.force)?;
    for paper in &selection.todo {
        let abstract_tokens = tokens::count(&paper.abstract_text);
        tracing::info!(date = %day.date, id = %paper.id, title = %paper.title, abstract_tokens, "would summarize");
    }
    Ok(ExitStatus::Success)
}

/// The last log line of a run, with plain values (dates as dates, paths as paths, absent left out).
fn log_summary(summary: &RunSummary) {
    let tally = &summary.tally;
    if let Some(stop) = &summary.stop {
        tracing::warn!(end = %stop.end, reason = %stop.reason, "run stopped early");
    }
    if let Some(error) = &tally.stop {
        tracing::error!(%error, "run stopped by an error");
    }
    if let Some(note) = &summary.incomplete {
        tracing::warn!(%note, "the day's list is incomplete: the digest holds only what was listed");
    }
    tracing::info!(
        run = summary.run.0,
        date = summary.date.map(display),
        listed = summary.listed,
        ok = tally.ok,
        flagged = tally.flagged,
        failed = tally.failed,
        already_done = summary.done,
        not_attempted = summary
            .skips
            .iter()
            .filter(|s| s.kind == SkipKind::NotAttempted)
            .count(),
        in_progress_elsewhere = summary
            .skips
            .iter()
            .filter(|s| s.kind == SkipKind::Elsewhere)
            .count(),
        no_announcement = summary.no_announcement.as_deref(),
        published = summary.published.len(),
        publish_failed = summary.publish_failures().count(),
        digest = summary.digests.first().map(|path| display(path.display())),
        report = %summary.report.display(),
        "run finished"
    );
}
