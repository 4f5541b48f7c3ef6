//! The identity stage of the checks for one batch: does each summary describe its own paper, and not
//! another of the batch? The batch's abstracts are prepared once.

use crate::checks::identity::{self, Batch, IdentityReport, IdentitySettings};
use crate::paper::{Paper, Sections};

pub struct IdentityGate {
    batch: Batch,
    settings: IdentitySettings,
}

impl IdentityGate {
    /// `batch`: every paper the summaries may be confused with (the run's, the day's).
    pub fn new(batch: &[Paper], settings: &IdentitySettings) -> Self {
        IdentityGate {
            batch: identity::prepare(batch),
            settings: settings.clone(),
        }
    }

    /// Every identity verdict for the summary; `.reasons()` are the failed ones.
    pub fn check(&self, sections: &Sections, paper: &Paper) -> IdentityReport {
        self.batch.check(sections, paper, &self.settings)
    }

    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }
}
