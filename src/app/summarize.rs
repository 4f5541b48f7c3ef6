//! `summarize <ID>...`: re-summarize papers by arXiv ID, print the results, re-render their digests
//! and publish those days to the `[publish]` targets.

use super::{error::run_status, publish, publisher, stages, CommandError, Context, ExitStatus};
use crate::cli::SummarizeArgs;
use crate::paper::{ArxivId, Paper};
use crate::pipeline::fetch::{self, Fetcher};
use crate::settings::Settings;
use crate::store::{Store, StoreError};

pub(super) async fn summarize(
    settings: Settings,
    args: SummarizeArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let ids = args
        .ids
        .iter()
        .map(|raw| ArxivId::parse(raw).map(|v| v.id))
        .collect::<Result<Vec<_>, _>>()?;
    let out_dir = args.out.unwrap_or_else(|| settings.out_dir.clone());
    let publisher = publisher(&settings, &ctx.shutdown)?;
    let stages = stages(&settings, Store::open(&settings.database)?, publisher, &ctx)?;
    let (papers, unknown) = papers(&settings, &stages.store, &ids, &ctx).await?;
    if papers.is_empty() {
        let list: Vec<_> = unknown.iter().map(ArxivId::to_string).collect();
        return Err(CommandError::Usage(format!(
            "unknown arXiv ID: {}",
            list.join(", ")
        )));
    }
    let summary = stages
        .summarize_papers(&papers, args.force, &out_dir, settings.include_flagged)
        .await?;
    for paper in &papers {
        ctx.out
            .write_all(describe_current(&stages.store, paper)?.as_bytes())?;
    }
    for id in &unknown {
        writeln!(
            ctx.out,
            "{id}: unknown arXiv ID (arXiv returned no paper)\n"
        )?;
    }
    for record in &summary.published {
        writeln!(ctx.out, "{}", publish::line(record))?;
    }
    Ok(match run_status(&summary) {
        ExitStatus::Success if !unknown.is_empty() => ExitStatus::NotAllPublished,
        status => status,
    })
}

/// Stored papers as stored; the others fetched from arXiv by `id_list` and stored. Returns the
/// papers found and the IDs arXiv does not know.
async fn papers(
    settings: &Settings,
    store: &Store,
    ids: &[ArxivId],
    ctx: &Context<'_>,
) -> Result<(Vec<Paper>, Vec<ArxivId>), CommandError> {
    let mut papers = Vec::new();
    let mut to_fetch = Vec::new();
    for id in ids {
        match store.paper(id)? {
            Some(paper) => papers.push(paper),
            None => to_fetch.push(id.clone()),
        }
    }
    let mut unknown = Vec::new();
    if !to_fetch.is_empty() {
        let lookup = Fetcher::new(&settings.source, ctx.shutdown.clone())?
            .lookup(&to_fetch)
            .await?;
        store.upsert_papers(&lookup.found, None, "arxiv")?;
        for id in &lookup.missing {
            tracing::error!(%id, "unknown arXiv ID: arXiv has no paper with this ID");
        }
        unknown = lookup.missing;
        papers.extend(lookup.found);
    }
    Ok((fetch::dedup(papers), unknown))
}

/// The paper's current summary as a person reads it: status, reasons, the three sections.
fn describe_current(store: &Store, paper: &Paper) -> Result<String, StoreError> {
    let mut text = format!("## {} — {}\n\n", paper.id, paper.title);
    match store.current(&paper.id)? {
        None => text.push_str("status: no summary\n\n"),
        Some(current) => {
            text.push_str(&format!("status: {}\n", current.status));
            for reason in &current.reasons {
                text.push_str(&format!("reason: {reason}\n"));
            }
            text.push('\n');
            if let Some(sections) = &current.sections {
                for (title, body) in sections.iter() {
                    text.push_str(&format!("- **{title}**: {body}\n"));
                }
                text.push('\n');
            }
        }
    }
    Ok(text)
}
