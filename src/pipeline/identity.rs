//! The identity stage of the checks for one batch: does each summary describe its own paper, and not
//! another of the batch? The batch's abstracts are prepared once.

use crate::checks::identity::{self, Batch, IdentitySettings};
use crate::checks::Reason;
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

    /// The failed identity verdicts, as reasons a person can verify.
    pub fn check(&self, sections: &Sections, paper: &Paper) -> Vec<Reason> {
        self.batch.check(sections, paper, &self.settings).reasons()
    }
}
