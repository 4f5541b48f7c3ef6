//! Review: what a person decides about a paper's summary, shared by `paper-digest review` and the
//! web page (`serve`). Every decision is checked here, recorded with its trail in the store, and
//! re-renders the digests of the days the paper appears in; [`Reviewer::publish`] then updates what
//! the `[publish]` targets have of those days.
//!
//! - **approve**: the current summary is published as it is (status `ok`, decided by a person); the
//!   links check still applies: a summary that carries a link, image or HTML the paper did not give
//!   is never published, whoever approves it (edit it instead).
//! - **reject**: kept out of every digest (even with `include_flagged`) until a new summary is made.
//! - **edit**: a person's text becomes the current summary. The shape and links checks must pass
//!   (otherwise nothing is stored and the reasons are given); the identity checks run too, and when
//!   they fail the edit is stored `flagged` with their reasons, for a person to approve.
//! - **resummarize**: the model is asked again through the summarize stage (`force`, after claiming
//!   the paper, so a running job never pays twice).
//!
//! A summary a person approved, rejected or wrote is never replaced by a later run unless it runs
//! with `--force` (the store counts it as done).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::checks::identity::{self, IdentitySettings, TermMarks};
use crate::checks::links;
use crate::checks::shape::{self, ShapeLimits};
use crate::paper::{ArxivId, Paper, Sections, Status};
use crate::pipeline::publish::{self, PublishError};
use crate::pipeline::select;
use crate::pipeline::{PipelineError, RunSummary, Stages};
use crate::publish::Publisher;
use crate::render::text;
use crate::store::{
    AttemptInfo, CurrentSummary, DecideError, Decision, DecisionRequest, HumanSummary,
    PublishRecord, ReviewAction, ReviewState, RunId, Store, StoreError,
};

/// Longest actor name kept in the trail (characters).
const MAX_ACTOR_CHARS: usize = 80;
/// Longest note kept in the trail (characters).
const MAX_NOTE_CHARS: usize = 2000;

/// What a decision checks a person's text with (`[checks]`).
#[derive(Debug, Clone)]
pub struct ReviewChecks {
    pub shape: ShapeLimits,
    pub identity: IdentitySettings,
}

/// Where decisions re-render the digests (`run.out_dir`, `render.include_flagged`).
#[derive(Debug, Clone)]
pub struct DigestTarget {
    pub out_dir: PathBuf,
    pub include_flagged: bool,
}

/// Takes decisions on one store.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub store: Store,
    pub checks: ReviewChecks,
    pub digests: DigestTarget,
    /// Where a decision's days are published (`[publish]`), when anywhere.
    pub publisher: Option<Arc<Publisher>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("unknown paper {0}: it is not in the store")]
    UnknownPaper(ArxivId),
    #[error("{paper} has no summary yet: use `review resummarize {paper}` first")]
    NoSummary { paper: ArxivId },
    #[error("cannot {action} {paper}: {why}")]
    NotApplicable {
        paper: ArxivId,
        action: ReviewAction,
        why: String,
    },
    #[error("cannot {action} {paper}: {}", .reasons.join("; "))]
    Refused {
        paper: ArxivId,
        action: ReviewAction,
        reasons: Vec<String>,
    },
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot re-summarize: {0}")]
    ModelUnavailable(String),
}

impl ReviewError {
    fn not_applicable(paper: &ArxivId, action: ReviewAction, why: &str) -> ReviewError {
        ReviewError::NotApplicable {
            paper: paper.clone(),
            action,
            why: why.to_string(),
        }
    }
}

/// Everything a reviewer reads about one paper.
#[derive(Debug, Clone, Serialize)]
pub struct PaperReview {
    pub paper: Paper,
    /// The days it was listed on, oldest first.
    pub dates: Vec<NaiveDate>,
    pub current: Option<CurrentSummary>,
    pub state: Option<ReviewState>,
    /// The summary's terms the title and abstract hold and those they do not.
    pub marks: Option<TermMarks>,
    pub history: Vec<AttemptInfo>,
    pub decisions: Vec<Decision>,
    /// A run summarizing the paper right now.
    pub claimed_by: Option<RunId>,
}

/// A recorded decision and the digests it re-rendered.
#[derive(Debug)]
pub struct Decided {
    pub decision: Decision,
    pub digests: Vec<PathBuf>,
}

/// A re-summarization: the run that asked the model, and the decision recorded after it.
#[derive(Debug)]
pub struct Resummarized {
    pub decision: Decision,
    pub run: RunSummary,
}

/// A person's name as the trail keeps it: one line, no control characters, at most 80 characters.
pub fn actor_name(raw: &str) -> Result<String, ReviewError> {
    let name: String = text::one_line(raw)
        .trim()
        .chars()
        .take(MAX_ACTOR_CHARS)
        .collect();
    if name.is_empty() {
        return Err(ReviewError::BadInput(
            "a decision needs the name of who takes it".to_string(),
        ));
    }
    Ok(name)
}

/// A note as the trail keeps it: trimmed, at most 2,000 characters; `None` when empty.
pub fn note_text(raw: Option<&str>) -> Option<String> {
    let note: String = raw?.trim().chars().take(MAX_NOTE_CHARS).collect();
    (!note.is_empty()).then_some(note)
}

impl Reviewer {
    /// The paper, its current summary with the marked terms, its history and its trail.
    pub fn paper(&self, id: &ArxivId) -> Result<PaperReview, ReviewError> {
        let paper = self.known_paper(id)?;
        let current = self.store.current(id)?;
        let marks = current
            .as_ref()
            .and_then(|c| c.sections.as_ref())
            .map(|s| identity::term_marks(&s.joined(), &paper.title, &paper.abstract_text));
        Ok(PaperReview {
            dates: self.store.dates_of(id)?,
            state: current.as_ref().map(ReviewState::of_current),
            current,
            marks,
            history: self.store.history(id)?,
            decisions: self.store.decisions(id)?,
            claimed_by: self.store.claimed_by(id)?,
            paper,
        })
    }

    /// Publishes the current summary as it is. `seen`: the attempt the person looked at, if known.
    pub fn approve(
        &self,
        id: &ArxivId,
        actor: &str,
        note: Option<&str>,
        seen: Option<i64>,
    ) -> Result<Decided, ReviewError> {
        let action = ReviewAction::Approve;
        let (paper, current) = self.current(id, seen)?;
        let not = |why| ReviewError::not_applicable(id, action, why);
        match ReviewState::of_current(&current) {
            ReviewState::Ok => return Err(not("it is already published (ok)")),
            ReviewState::Failed => {
                return Err(not("it has no usable summary: edit it or re-summarize it"))
            }
            ReviewState::Flagged | ReviewState::Rejected => {}
        }
        let Some(sections) = current.sections.clone() else {
            return Err(not("it has no sections: edit it or re-summarize it"));
        };
        let carried: Vec<String> = links::check(&sections, &paper.title, &paper.abstract_text)
            .into_iter()
            .map(|r| r.message)
            .collect();
        if !carried.is_empty() {
            return Err(ReviewError::Refused {
                paper: id.clone(),
                action,
                reasons: carried,
            });
        }
        self.decide(
            id,
            action,
            actor,
            note,
            current.attempt,
            HumanSummary {
                status: Status::Ok,
                sections: Some(sections),
                // What the person published it over, for the trail and the paper page.
                reasons: current.reasons.clone(),
            },
        )
    }

    /// Keeps the summary out of every digest until a new one is made.
    pub fn reject(
        &self,
        id: &ArxivId,
        actor: &str,
        note: Option<&str>,
        seen: Option<i64>,
    ) -> Result<Decided, ReviewError> {
        let action = ReviewAction::Reject;
        let (_, current) = self.current(id, seen)?;
        if ReviewState::of_current(&current) == ReviewState::Rejected {
            return Err(ReviewError::not_applicable(
                id,
                action,
                "it is already rejected",
            ));
        }
        let status = match current.sections {
            Some(_) => Status::Flagged,
            None => Status::Failed,
        };
        self.decide(
            id,
            action,
            actor,
            note,
            current.attempt,
            HumanSummary {
                status,
                sections: current.sections.clone(),
                reasons: current.reasons.clone(),
            },
        )
    }

    /// Makes a person's text the current summary, after the shape and links checks (which must
    /// pass) and the identity checks (whose reasons flag it for approval).
    pub fn edit(
        &self,
        id: &ArxivId,
        sections: Sections,
        actor: &str,
        note: Option<&str>,
        seen: Option<i64>,
    ) -> Result<Decided, ReviewError> {
        let action = ReviewAction::Edit;
        let (paper, current) = self.current(id, seen)?;
        let sections = Sections {
            whats_new: sections.whats_new.trim().to_string(),
            technical_details: sections.technical_details.trim().to_string(),
            performance_highlights: sections.performance_highlights.trim().to_string(),
        };
        if current.sections.as_ref() == Some(&sections) {
            return Err(ReviewError::not_applicable(
                id,
                action,
                "the text is the same as the current summary",
            ));
        }
        let mut refused: Vec<String> = shape::check_sections(&sections, &self.checks.shape)
            .into_iter()
            .map(|r| r.message)
            .collect();
        refused.extend(
            links::check(&sections, &paper.title, &paper.abstract_text)
                .into_iter()
                .map(|r| r.message),
        );
        if !refused.is_empty() {
            return Err(ReviewError::Refused {
                paper: id.clone(),
                action,
                reasons: refused,
            });
        }
        let batch = identity::prepare(&select::identity_batch(
            &self.store,
            std::slice::from_ref(&paper),
        )?);
        let reasons: Vec<String> = batch
            .check(&sections, &paper, &self.checks.identity)
            .reasons()
            .into_iter()
            .map(|r| r.message)
            .collect();
        let status = if reasons.is_empty() {
            Status::Ok
        } else {
            Status::Flagged
        };
        self.decide(
            id,
            action,
            actor,
            note,
            current.attempt,
            HumanSummary {
                status,
                sections: Some(sections),
                reasons,
            },
        )
    }

    /// Asks the model again for the paper through the summarize stage (forced, after claiming it),
    /// which re-renders the paper's digests; then records the decision.
    pub async fn resummarize(
        &self,
        stages: &Stages,
        id: &ArxivId,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Resummarized, ReviewError> {
        let paper = self.known_paper(id)?;
        if let Some(run) = self.store.claimed_by(id)? {
            return Err(DecideError::InProgress {
                paper: id.clone(),
                run,
            }
            .into());
        }
        let before = self.store.current(id)?.map(|c| c.attempt);
        let run = stages
            .summarize_papers(
                std::slice::from_ref(&paper),
                true,
                &self.digests.out_dir,
                self.digests.include_flagged,
            )
            .await?;
        let note = note_text(note);
        let decision = self
            .store
            .record_resummarize(id, before, actor, note.as_deref())?;
        tracing::info!(paper = %id, actor, after = ?decision.status_after, "re-summarized in review");
        Ok(Resummarized { decision, run })
    }

    /// The stored paper, or why there is none.
    fn known_paper(&self, id: &ArxivId) -> Result<Paper, ReviewError> {
        self.store
            .paper(id)?
            .ok_or_else(|| ReviewError::UnknownPaper(id.clone()))
    }

    /// The paper and its current summary; `seen` must still be current when given.
    fn current(
        &self,
        id: &ArxivId,
        seen: Option<i64>,
    ) -> Result<(Paper, CurrentSummary), ReviewError> {
        let paper = self.known_paper(id)?;
        let current = self
            .store
            .current(id)?
            .ok_or_else(|| ReviewError::NoSummary { paper: id.clone() })?;
        if let Some(seen) = seen.filter(|seen| *seen != current.attempt) {
            return Err(DecideError::Changed {
                paper: id.clone(),
                expected: seen,
                found: current.attempt,
            }
            .into());
        }
        Ok((paper, current))
    }

    fn decide(
        &self,
        id: &ArxivId,
        action: ReviewAction,
        actor: &str,
        note: Option<&str>,
        base: i64,
        summary: HumanSummary,
    ) -> Result<Decided, ReviewError> {
        let note = note_text(note);
        let decision = self.store.decide(&DecisionRequest {
            paper: id,
            action,
            actor,
            note: note.as_deref(),
            base,
            summary,
        })?;
        tracing::info!(paper = %id, actor, %action, after = ?decision.status_after, "review decision recorded");
        let digests = self.rerender(id)?;
        Ok(Decided { decision, digests })
    }

    /// After a decision: the days the paper is listed on, to every `[publish]` target (what a target
    /// already has is not sent again; a changed day goes out as an update). Never fails as a whole:
    /// a target that fails is a `failed` record and a later run or `publish` sends it.
    pub async fn publish(&self, id: &ArxivId) -> Result<Vec<PublishRecord>, ReviewError> {
        let Some(publisher) = &self.publisher else {
            return Ok(Vec::new());
        };
        let days = self.store.dates_of(id)?;
        Ok(publisher
            .publish(&self.store, &days, self.digests.include_flagged, None)
            .await)
    }

    /// Re-renders the digest of every day the paper was listed on.
    fn rerender(&self, id: &ArxivId) -> Result<Vec<PathBuf>, ReviewError> {
        Ok(publish::write_digests(
            &self.store,
            &self.store.dates_of(id)?,
            &self.digests.out_dir,
            self.digests.include_flagged,
        )?)
    }
}
