//! The publish stage: the day's digest and the run's report, rendered from the store and written
//! atomically under the output folder (a reader never sees half a file); then the day at every
//! `[publish]` target ([`publish_day`], with [`crate::publish`]).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::shutdown::Stop;
use crate::publish::Publisher;
use crate::render::{self, WriteError};
use crate::store::{PublishRecord, RunEnd, RunId, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot encode the report of run {run} as JSON: {message}")]
    Encode { run: RunId, message: String },
}

/// `OUT/daily_papers_ko_YYYY-MM-DD.md`, the published file name.
pub fn digest_path(out_dir: &Path, date: NaiveDate) -> PathBuf {
    out_dir.join(format!("daily_papers_ko_{date}.md"))
}

/// The day's digest from the store: every paper listed that day with its current summary.
pub fn render_digest(
    store: &Store,
    date: NaiveDate,
    include_flagged: bool,
) -> Result<String, StoreError> {
    crate::publish::day::render_digest(store, date, include_flagged).map(|(_, markdown)| markdown)
}

/// Renders and writes the day's digest; returns its path.
pub fn write_digest(
    store: &Store,
    date: NaiveDate,
    out_dir: &Path,
    include_flagged: bool,
) -> Result<PathBuf, PublishError> {
    let text = render_digest(store, date, include_flagged)?;
    let path = digest_path(out_dir, date);
    render::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Re-renders the digests of `dates` (after summaries changed); returns their paths.
pub fn write_digests<'a>(
    store: &Store,
    dates: impl IntoIterator<Item = &'a NaiveDate>,
    out_dir: &Path,
    include_flagged: bool,
) -> Result<Vec<PathBuf>, PublishError> {
    dates
        .into_iter()
        .map(|&date| {
            let path = write_digest(store, date, out_dir, include_flagged)?;
            tracing::info!(%date, digest = %path.display(), "digest re-rendered");
            Ok(path)
        })
        .collect()
}

/// Writes the run's report as Markdown and JSON under `OUT/reports/`; returns the Markdown path.
pub fn write_report(store: &Store, run: RunId, out_dir: &Path) -> Result<PathBuf, PublishError> {
    let report = store.run_report(run)?;
    let reports = out_dir.join("reports");
    let markdown = reports.join(format!("run-{}.md", run.0));
    render::write_atomic(&markdown, render::report::markdown(&report).as_bytes())?;
    let json = render::report::json(&report).map_err(|e| PublishError::Encode {
        run,
        message: e.to_string(),
    })?;
    render::write_atomic(
        &reports.join(format!("run-{}.json", run.0)),
        json.as_bytes(),
    )?;
    Ok(markdown)
}

/// Publishes a run's day to every `[publish]` target, recorded with the run. A run stopped by a
/// signal publishes nothing (the next run finishes the day and publishes it); a budget or an
/// unreachable model publishes what is done, with the rest counted as held.
pub async fn publish_day(
    publisher: &Publisher,
    store: &Store,
    run: RunId,
    date: NaiveDate,
    include_flagged: bool,
    stop: Option<&Stop>,
) -> Vec<PublishRecord> {
    if let Some(stop) = stop.filter(|stop| stop.end == RunEnd::Interrupted) {
        let reason = format!(
            "the run was stopped ({}); the next run publishes the day",
            stop.reason
        );
        return publisher.withhold(store, date, &reason, Some(run)).await;
    }
    publisher
        .publish(store, &[date], include_flagged, Some(run))
        .await
}
