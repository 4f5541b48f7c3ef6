//! Stopping a run is a value handed to every stage (tokio's mini-redis `Shutdown` is the model): a
//! signal, a spent budget or an unreachable model stops it; from then on no paper starts, and every
//! wait (backoff, rate limit, a free slot) ends at once. Requests already sent are answered and stored.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::store::RunEnd;

/// Why the run stopped early: how it will be recorded, and what a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub end: RunEnd,
    pub reason: String,
}

/// A cheap handle; clones share the same stop. The first cause wins.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    cause: Arc<Mutex<Option<Stop>>>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Stops the run: `end` is how it will be recorded, `reason` what a person reads.
    pub fn stop(&self, end: RunEnd, reason: impl Into<String>) {
        self.cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| Stop {
                end,
                reason: reason.into(),
            });
        self.token.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the run is stopped.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    pub fn cause(&self) -> Option<Stop> {
        self.cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The token the model client races its waits against.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_cause_wins_and_every_clone_sees_the_stop() {
        let shutdown = Shutdown::new();
        let clone = shutdown.clone();
        assert!(!clone.is_stopped());
        shutdown.stop(RunEnd::BudgetExhausted, "budget");
        shutdown.stop(RunEnd::Interrupted, "signal");
        clone.stopped().await;
        assert!(clone.token().is_cancelled());
        assert_eq!(
            clone.cause(),
            Some(Stop {
                end: RunEnd::BudgetExhausted,
                reason: "budget".to_string()
            })
        );
    }
}
