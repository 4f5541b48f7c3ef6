//! Errors that end a command, and the one place that maps them (and a run's result) to the
//! documented, stable exit codes (README, "Exit codes").

use crate::model::ModelError;
use crate::paper::IdError;
use crate::pipeline::fetch::FetchError;
use crate::pipeline::publish::PublishError;
use crate::pipeline::summarize::StopError;
use crate::pipeline::{PipelineError, RunSummary};
use crate::prompt::PromptError;
use crate::publish::PublisherError;
use crate::review::ReviewError;
use crate::settings::ConfigError;
use crate::source::SourceError;
use crate::store::{PublishOutcome, PublishRecord, StoreError};

use super::lint::LintError;

/// The process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every paper of the day is published.
    Success,
    /// 1: some papers are flagged, failed or not attempted, or a publish target failed or a day was
    /// withheld (see the run report; the day's data is kept).
    NotAllPublished,
    /// 2: bad usage, config, input file, prompt templates or store.
    Usage,
    /// 3: a source or the model cannot be reached.
    Unreachable,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::NotAllPublished => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Unreachable => 3,
        }
    }
}

/// Exit codes of a second SIGINT / SIGTERM, which ends the process at once (128 + the signal).
pub const EXIT_SIGINT: i32 = 130;
pub const EXIT_SIGTERM: i32 = 143;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("model: {0}")]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Publisher(#[from] PublisherError),
    #[error(transparent)]
    Lint(#[from] LintError),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<PipelineError> for CommandError {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::Fetch(e) => CommandError::Fetch(e),
            PipelineError::Store(e) => CommandError::Store(e),
            PipelineError::Publish(e) => CommandError::Publish(e),
        }
    }
}

impl CommandError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CommandError::Usage(_)
            | CommandError::Config(_)
            | CommandError::Id(_)
            | CommandError::Prompt(_)
            | CommandError::Lint(_)
            | CommandError::Store(_)
            | CommandError::Publish(_)
            | CommandError::Publisher(_)
            | CommandError::Output(_) => ExitStatus::Usage,
            CommandError::Fetch(error) => fetch_status(error),
            CommandError::Model(error) => model_status(error),
            CommandError::Review(error) => review_status(error),
        }
    }
}

/// A decision that cannot be taken (unknown paper, nothing to decide on, a summary the checks
/// refuse, a summary changed or being summarized meanwhile) is 2; a re-summarization's pipeline
/// errors map as a run's.
fn review_status(error: &ReviewError) -> ExitStatus {
    match error {
        ReviewError::Pipeline(PipelineError::Fetch(error)) => fetch_status(error),
        ReviewError::UnknownPaper(_)
        | ReviewError::NoSummary { .. }
        | ReviewError::NotApplicable { .. }
        | ReviewError::Refused { .. }
        | ReviewError::BadInput(_)
        | ReviewError::Decide(_)
        | ReviewError::Store(_)
        | ReviewError::Publish(_)
        | ReviewError::Pipeline(_)
        | ReviewError::ModelUnavailable(_) => ExitStatus::Usage,
    }
}

fn fetch_status(error: &FetchError) -> ExitStatus {
    match error {
        FetchError::Input(_)
        | FetchError::Client(_)
        | FetchError::Source(SourceError::BadBaseUrl { .. }) => ExitStatus::Usage,
        FetchError::Source(_) | FetchError::Interrupted(_) => ExitStatus::Unreachable,
    }
}

fn model_status(error: &ModelError) -> ExitStatus {
    match error {
        ModelError::Unreachable { .. }
        | ModelError::QuotaExhausted { .. }
        | ModelError::WaitTooLong { .. } => ExitStatus::Unreachable,
        // A bad key, a model name the server does not know, an unusable setting.
        ModelError::Rejected { .. } | ModelError::InvalidSettings { .. } => ExitStatus::Usage,
        ModelError::GaveUp { .. } | ModelError::Malformed { .. } | ModelError::Cancelled => {
            ExitStatus::NotAllPublished
        }
    }
}

/// 0 when everything listed is published, 1 when something is not (a paper, or the day at a
/// publish target), 2 or 3 when the run was stopped by a setting, the store, or an unreachable model.
pub fn run_status(summary: &RunSummary) -> ExitStatus {
    let tally = &summary.tally;
    match (&tally.stop, &tally.store_error) {
        (Some(StopError::Model(error)), _) => model_status(error),
        (Some(StopError::Prompt(_)), _) | (None, Some(_)) => ExitStatus::Usage,
        (Some(StopError::Budget(_)), _) => ExitStatus::NotAllPublished,
        (None, None)
            if tally.flagged + tally.failed + summary.skips.len() > 0
                || summary.incomplete.is_some() =>
        {
            ExitStatus::NotAllPublished
        }
        (None, None) if publish_status(&summary.published) != ExitStatus::Success => {
            ExitStatus::NotAllPublished
        }
        (None, None) => ExitStatus::Success,
    }
}

/// `publish`: 0 when every day reached every target (or already had), 1 when a target failed or a
/// day was withheld (an incomplete list).
pub fn publish_status(records: &[PublishRecord]) -> ExitStatus {
    let incomplete = records.iter().any(|record| {
        matches!(
            record.outcome,
            PublishOutcome::Failed | PublishOutcome::Withheld
        )
    });
    match incomplete {
        true => ExitStatus::NotAllPublished,
        false => ExitStatus::Success,
    }
}
