//! Errors that end a command, each mapped to a documented, stable exit code.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::model::ModelError;
use crate::paper::IdError;
use crate::prompt::PromptError;
use crate::source::SourceError;
use crate::store::StoreError;

use super::summarize::Fatal;

/// The process exit codes (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every paper of the day is published.
    Success,
    /// 1: some papers are flagged or failed (see the run report).
    NotAllPublished,
    /// 2: bad usage, config, input file or prompt templates.
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

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A source on the network failed: unreachable, an error answer, or a malformed response.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A local input file is unreadable or not a feed.
    #[error(transparent)]
    Input(SourceError),
    #[error("model: {0}")]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lint(#[from] crate::lint::LintError),
    #[error("cannot write {path}: {message}")]
    Output { path: PathBuf, message: String },
}

impl RunError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            RunError::Usage(_)
            | RunError::Config(_)
            | RunError::Id(_)
            | RunError::Prompt(_)
            | RunError::Input(_)
            | RunError::Lint(_)
            | RunError::Store(_)
            | RunError::Output { .. } => ExitStatus::Usage,
            RunError::Source(SourceError::BadBaseUrl { .. }) => ExitStatus::Usage,
            RunError::Source(_) => ExitStatus::Unreachable,
            RunError::Model(error) => match error {
                ModelError::Unreachable { .. } | ModelError::QuotaExhausted { .. } => {
                    ExitStatus::Unreachable
                }
                // A bad key, a model name the server does not know, an unusable setting.
                ModelError::Rejected { .. } | ModelError::InvalidSettings { .. } => {
                    ExitStatus::Usage
                }
                ModelError::GaveUp { .. }
                | ModelError::Malformed { .. }
                | ModelError::BudgetExhausted { .. } => ExitStatus::NotAllPublished,
            },
        }
    }
}

impl From<Fatal> for RunError {
    fn from(fatal: Fatal) -> Self {
        match fatal {
            Fatal::Model(error) => RunError::Model(error),
            Fatal::Prompt(error) => RunError::Prompt(error),
        }
    }
}
