//! The identity stage of the checks for one run: does each summary describe its own paper?
//!
//! Only the shape checks run so far; the identity checks (anchors, contrast within the batch, generic
//! text) are not built yet, so this gate reports nothing.

use crate::checks::Reason;
use crate::paper::{Paper, Sections};

pub struct IdentityGate;

impl IdentityGate {
    pub fn new(_batch: &[Paper]) -> Self {
        IdentityGate
    }

    pub fn check(&self, _sections: &Sections, _paper: &Paper) -> Vec<Reason> {
        Vec::new()
    }
}
