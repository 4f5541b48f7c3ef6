//! One request at a time, and a minimum interval between request starts.

use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// Serialises requests and spaces their starts at least `min_interval` apart.
///
/// Uses tokio's clock, so tests can run it with `tokio::time::pause()`.
#[derive(Debug)]
pub struct Pacer {
    min_interval: Duration,
    last_start: Mutex<Option<Instant>>,
}

/// The right to make one request; the next caller waits until this is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    _last_start: MutexGuard<'a, Option<Instant>>,
}

impl Pacer {
    pub fn new(min_interval: Duration) -> Self {
        Pacer {
            min_interval,
            last_start: Mutex::new(None),
        }
    }

    /// Waits for the previous turn to end and for `min_interval` since its start.
    pub async fn turn(&self) -> Turn<'_> {
        let mut last_start = self.last_start.lock().await;
        if let Some(previous) = *last_start {
            tokio::time::sleep_until(previous + self.min_interval).await;
        }
        *last_start = Some(Instant::now());
        Turn {
            _last_start: last_start,
        }
    }
}
