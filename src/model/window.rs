//! How many requests may be in flight: up to the configured maximum while the server answers well,
//! halved when it shows signs of overload (429, 5xx, timeouts), grown back by one for every window's
//! worth of good answers. A server that announces no limits (a local llama.cpp, a busy vLLM) is then
//! not drowned in requests that time out, and one that copes gets everything the maximum allows.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::limits::Cancelled;

/// After a shrink, further overload signals within this time are the same episode (the rest of a
/// burst that was already in flight), not a reason to halve again.
const SHRINK_COOLDOWN: Duration = Duration::from_secs(2);

pub(crate) struct Window {
    max: usize,
    permits: Semaphore,
    state: Mutex<State>,
}

struct State {
    size: usize,
    /// Permits to retire as they come back (the window shrank below what is in flight).
    owed: usize,
    /// Good answers since the window last changed.
    good: usize,
    last_shrink: Option<Instant>,
}

/// The right to send one request; its slot goes back to the window (or is retired) on drop.
pub(crate) struct Slot<'a> {
    window: &'a Window,
    permit: Option<SemaphorePermit<'a>>,
}

impl Window {
    pub(crate) fn new(max: usize) -> Window {
        let max = max.max(1);
        Window {
            max,
            permits: Semaphore::new(max),
            state: Mutex::new(State {
                size: max,
                owed: 0,
                good: 0,
                last_shrink: None,
            }),
        }
    }

    pub(crate) async fn slot(&self, cancel: &CancellationToken) -> Result<Slot<'_>, Cancelled> {
        tokio::select! {
            _ = cancel.cancelled() => Err(Cancelled),
            // The semaphore is never closed, so an error cannot come back.
            permit = self.permits.acquire() => Ok(Slot { window: self, permit: permit.ok() }),
        }
    }

    #[cfg(test)]
    fn size(&self) -> usize {
        self.lock().size
    }

    /// A good answer: after a window's worth of them the window grows by one, up to the maximum.
    pub(crate) fn answered(&self) {
        let mut state = self.lock();
        if state.size >= self.max {
            return;
        }
        state.good += 1;
        if state.good >= state.size {
            state.good = 0;
            state.size += 1;
            if state.owed > 0 {
                state.owed -= 1;
            } else {
                self.permits.add_permits(1);
            }
        }
    }

    /// A sign of overload: the window halves (at most once per cooldown).
    pub(crate) fn overloaded(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        if state
            .last_shrink
            .is_some_and(|at| now.saturating_duration_since(at) < SHRINK_COOLDOWN)
        {
            return;
        }
        let smaller = (state.size / 2).max(1);
        if smaller < state.size {
            tracing::info!(
                from = state.size,
                to = smaller,
                "the model server shows signs of overload; fewer requests in flight"
            );
        }
        // Idle permits go at once; those in flight are retired as they come back.
        let shrink = state.size - smaller;
        state.owed += shrink - self.permits.forget_permits(shrink);
        state.size = smaller;
        state.good = 0;
        state.last_shrink = Some(now);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain numbers: consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.window.lock();
        if state.owed > 0 {
            state.owed -= 1;
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn overload_halves_the_window_and_good_answers_grow_it_back() {
        let window = Window::new(8);
        let cancel = CancellationToken::new();
        let held: Vec<_> = futures::future::join_all((0..8).map(|_| window.slot(&cancel)))
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        window.overloaded();
        window.overloaded();
        assert_eq!(window.size(), 4, "a burst of overload signals halves once");
        drop(held);
        assert_eq!(window.permits.available_permits(), 4);
        tokio::time::sleep(SHRINK_COOLDOWN).await;
        window.overloaded();
        assert_eq!(window.size(), 2);
        assert_eq!(window.permits.available_permits(), 2);
        for _ in 0..(2 + 3 + 4 + 5 + 6 + 7) {
            window.answered();
        }
        assert_eq!(window.size(), 8);
        assert_eq!(window.permits.available_permits(), 8);
        window.answered();
        assert_eq!(window.size(), 8, "never above the maximum");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_slot_ends_when_the_run_is_cancelled() {
        let window = Window::new(1);
        let cancel = CancellationToken::new();
        let _only = window.slot(&cancel).await.unwrap();
        cancel.cancel();
        assert!(window.slot(&cancel).await.is_err());
    }
}
