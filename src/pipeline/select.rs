//! The select stage: which of the listed papers need a summary. A paper whose current summary was
//! made from the same abstract, prompt version and model, and passed or was flagged, is done; a
//! failed one is tried again; `force` asks again for everything.

use crate::paper::{ArxivId, Paper, SummaryKey};
use crate::store::{Store, StoreError};

/// What a summary is keyed by in this run: the prompt version and the model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaker {
    pub prompt_version: String,
    pub model: String,
}

impl KeyMaker {
    pub fn key(&self, paper: &Paper) -> SummaryKey {
        SummaryKey::new(paper, &self.prompt_version, &self.model)
    }
}

/// The papers to summarize, and those already done.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub todo: Vec<Paper>,
    pub done: Vec<ArxivId>,
}

pub fn select(
    store: &Store,
    papers: &[Paper],
    keys: &KeyMaker,
    force: bool,
) -> Result<Selection, StoreError> {
    let mut selection = Selection::default();
    let done = match force {
        true => Default::default(),
        false => store.done(papers, &keys.prompt_version, &keys.model)?,
    };
    for paper in papers {
        if done.contains(&paper.id) {
            selection.done.push(paper.id.clone());
        } else {
            selection.todo.push(paper.clone());
        }
    }
    tracing::info!(
        listed = papers.len(),
        to_summarize = selection.todo.len(),
        already_done = selection.done.len(),
        "papers picked"
    );
    Ok(selection)
}
