//! The review trail in the store: a person's decision becomes the current summary in one
//! transaction with its trail row; it counts as done for every later run (any key) until
//! `--force`; it is refused while a run holds the paper or when the summary changed; run reports
//! keep counting only the model's attempts.

use std::time::Duration;

use paper_digest::paper::{ArxivId, Status};
use paper_digest::store::{
    Candidate, Claim, DecideError, DecisionRequest, HumanSummary, ReviewAction, ReviewState, RunId,
    Store,
};

use crate::web_support::*;

fn approve(store: &Store, id: &ArxivId, base: i64) -> Result<(), DecideError> {
    let current = store.current(id).unwrap().unwrap();
    store
        .decide(&DecisionRequest {
            paper: id,
            action: ReviewAction::Approve,
            actor: "kim",
            note: Some("looks right"),
            base,
            summary: HumanSummary {
                status: Status::Ok,
                sections: current.sections,
                reasons: current.reasons,
            },
        })
        .map(drop)
}

#[test]
fn a_persons_decision_is_done_for_later_runs_until_forced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("digest.db");
    seed(&db);
    let store = Store::open(&db).unwrap();
    let good: ArxivId = GOOD.parse().unwrap();
    let hostile: ArxivId = HOSTILE.parse().unwrap();
    let base = store.current(&good).unwrap().unwrap().attempt;

    // A stale base and a live claim are refused; nothing changes.
    assert!(matches!(
        approve(&store, &good, base + 100),
        Err(DecideError::Changed { .. })
    ));
    let papers = store.papers_for_date(DAY.parse().unwrap()).unwrap();
    let candidate = |id: &ArxivId| Candidate {
        id: id.clone(),
        key: paper_digest::paper::SummaryKey::new(
            papers.iter().find(|p| &p.id == id).unwrap(),
            "p2",
            "another-model",
        ),
    };
    let run = RunId(1);
    let claimed = store
        .claim_next(run, &[candidate(&good)], 1, Duration::from_secs(60), false)
        .unwrap();
    assert_eq!(claimed, vec![(good.clone(), Claim::Claimed)]);
    assert!(matches!(
        approve(&store, &good, base),
        Err(DecideError::InProgress { run: RunId(1), .. })
    ));
    store.release_claims(run).unwrap();

    approve(&store, &good, base).unwrap();
    let current = store.current(&good).unwrap().unwrap();
    assert_eq!(current.status, Status::Ok);
    assert_eq!(
        current.decided.as_ref().map(|d| d.action),
        Some(ReviewAction::Approve)
    );
    assert_eq!(ReviewState::of_current(&current), ReviewState::Ok);
    let trail = store.decisions(&good).unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].attempt_before, Some(base));
    assert_eq!(trail[0].attempt_after, Some(current.attempt));
    assert_eq!(trail[0].note.as_deref(), Some("looks right"));
    let history = store.history(&good).unwrap();
    assert_eq!(
        history.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["model", "approve"]
    );

    // Another prompt and model: the approved paper is done, the model's flagged one is not.
    let done = store.done(&papers, "p2", "another-model").unwrap();
    assert!(done.contains(&good));
    assert!(!done.contains(&hostile));
    let examined = store
        .claim_next(
            run,
            &[candidate(&good), candidate(&hostile)],
            2,
            Duration::from_secs(60),
            false,
        )
        .unwrap();
    assert_eq!(
        examined,
        vec![
            (good.clone(), Claim::Done),
            (hostile.clone(), Claim::Claimed)
        ]
    );
    let forced = store
        .claim_next(run, &[candidate(&good)], 1, Duration::from_secs(60), true)
        .unwrap();
    assert_eq!(forced, vec![(good.clone(), Claim::Claimed)]);
    store.release_claims(run).unwrap();

    // The run's report still says what the run did: the decision is not the run's work.
    let report = store.run_report(run).unwrap();
    assert_eq!((report.counts.ok, report.counts.flagged), (1, 2));
    let days = store.days().unwrap();
    assert_eq!((days[0].ok, days[0].flagged, days[0].by_people), (2, 1, 1));
}
