//! Client-side pacing shared by every request of one client: requests per minute, tokens per
//! minute, and pauses the server asks for (a 429, or `x-ratelimit-remaining-*: 0`). Limits come from
//! the config or from the server: `x-ratelimit-limit-*` creates a limit the config left open and
//! lowers one set higher than the server's, and `x-ratelimit-remaining-*` caps what we think is left.
//!
//! With a configured limit, the first request goes alone ("probe"): the server's headers on its
//! answer correct the buckets before a burst of requests could overshoot a lower server limit.
//! Every wait ends at once when the run is cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Share of a tokens/min limit kept below the server's `remaining` count: our estimate of a request
/// can be a few percent under the server's count, and a burst of requests adds those errors up.
/// Requests are counted exactly, so their limit keeps none.
const TOKENS_HEADROOM: f64 = 0.03;

fn headroom(kind: &str) -> f64 {
    if kind == "tokens" {
        TOKENS_HEADROOM
    } else {
        0.0
    }
}

/// The wait was cut short because the run is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cancelled;

pub(crate) struct Limiter {
    requests: Mutex<Option<Bucket>>,
    tokens: Mutex<Option<Bucket>>,
    paused_until: Mutex<Option<Instant>>,
    /// The longest pause a server header may impose (`model.max_retry_after_secs`).
    max_pause: Duration,
    /// Set once the first request is on its way; `learned` once its answer (or failure) is in.
    probe_sent: AtomicBool,
    learned: watch::Sender<bool>,
}

impl Limiter {
    /// Limits of zero are not representable (`NonZeroU32` in the settings).
    pub(crate) fn new(
        requests_per_minute: Option<u32>,
        tokens_per_minute: Option<u32>,
        max_pause: Duration,
    ) -> Self {
        let now = Instant::now();
        let configured = requests_per_minute.is_some() || tokens_per_minute.is_some();
        Limiter {
            requests: Mutex::new(requests_per_minute.map(|n| Bucket::per_minute(n, now))),
            tokens: Mutex::new(tokens_per_minute.map(|n| Bucket::per_minute(n, now))),
            paused_until: Mutex::new(None),
            max_pause,
            probe_sent: AtomicBool::new(false),
            // Without a configured limit there is nothing to check against the server first.
            learned: watch::Sender::new(!configured),
        }
    }

    /// Waits until one request estimated at `tokens` tokens may be sent, or the run is cancelled.
    pub(crate) async fn wait_turn(
        &self,
        tokens: u64,
        cancel: &CancellationToken,
    ) -> Result<(), Cancelled> {
        self.wait_for_probe(cancel).await?;
        let now = Instant::now();
        let for_requests = lock(&self.requests).as_mut().map(|b| b.reserve(1.0, now));
        let for_tokens = lock(&self.tokens)
            .as_mut()
            .map(|b| b.reserve(tokens as f64, now));
        let wait = for_requests.max(for_tokens).unwrap_or_default();
        if !wait.is_zero() {
            sleep(wait, cancel).await?;
        }
        // Checked last, and again after each sleep, because another request may extend the pause.
        loop {
            let until = *lock(&self.paused_until);
            match until {
                Some(until) if until > Instant::now() => {
                    sleep(until.saturating_duration_since(Instant::now()), cancel).await?
                }
                _ => return Ok(()),
            }
        }
    }

    /// Whether a tokens/min limit (configured or announced by the server) needs requests counted.
    pub(crate) fn counts_tokens(&self) -> bool {
        lock(&self.tokens).is_some()
    }

    /// The first caller goes; the others wait until [`Limiter::learned`] (or cancellation).
    async fn wait_for_probe(&self, cancel: &CancellationToken) -> Result<(), Cancelled> {
        if *self.learned.borrow() || !self.probe_sent.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let mut learned = self.learned.subscribe();
        tokio::select! {
            _ = cancel.cancelled() => Err(Cancelled),
            // An error means the limiter is gone, which cannot happen while `self` is borrowed.
            _ = learned.wait_for(|done| *done) => Ok(()),
        }
    }

    /// The probe's answer (or failure) is in: let every other request go.
    pub(crate) fn learned(&self) {
        self.learned.send_replace(true);
    }

    /// Holds every request of this client back for `delay` from now (never shortens a pause).
    pub(crate) fn pause_for(&self, delay: Duration) {
        let Some(until) = Instant::now().checked_add(delay.min(self.max_pause)) else {
            return;
        };
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Brings the buckets in line with the server's view (see [`Bucket::align`]) and pauses until
    /// the reset the server announces when it says nothing is left.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        for (kind, bucket) in [("requests", &self.requests), ("tokens", &self.tokens)] {
            let number = |name: &str| {
                header(headers, &format!("x-ratelimit-{name}-{kind}"))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|n| n.is_finite() && *n >= 0.0)
            };
            let remaining = number("remaining");
            let limit = number("limit").filter(|l| *l >= 1.0);
            let now = Instant::now();
            let mut bucket = lock(bucket);
            match (bucket.as_mut(), limit) {
                (Some(bucket), _) => {
                    if let Some(lowered) = bucket.align(limit, remaining, headroom(kind), now) {
                        tracing::warn!(
                            kind,
                            per_minute = lowered,
                            "the server's rate limit is lower than configured; using the server's"
                        );
                    }
                }
                (None, Some(limit)) => {
                    tracing::info!(
                        kind,
                        per_minute = limit,
                        "following the server's rate limit"
                    );
                    let mut new = Bucket::per_minute_f64(limit, now);
                    new.align(None, remaining, headroom(kind), now);
                    *bucket = Some(new);
                }
                (None, None) => {}
            }
            drop(bucket);
            let reset = header(headers, &format!("x-ratelimit-reset-{kind}")).and_then(parse_reset);
            if let (true, Some(reset)) = (remaining == Some(0.0), reset) {
                tracing::info!(
                    kind,
                    reset_secs = reset.as_secs_f64(),
                    "server rate limit reached; pausing requests"
                );
                self.pause_for(reset);
            }
        }
    }
}

/// Sleeps for `wait` unless the run is cancelled first.
pub(crate) async fn sleep(wait: Duration, cancel: &CancellationToken) -> Result<(), Cancelled> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Cancelled),
        _ = tokio::time::sleep(wait) => Ok(()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked mid-update: just numbers.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A token bucket refilled continuously; reservations may overdraw it and wait for the refill,
/// which queues concurrent callers in arrival order.
struct Bucket {
    capacity: f64,
    available: f64,
    per_second: f64,
    updated: Instant,
}

impl Bucket {
    fn per_minute(limit: u32, now: Instant) -> Bucket {
        Bucket::per_minute_f64(f64::from(limit.max(1)), now)
    }

    fn per_minute_f64(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            capacity,
            available: capacity,
            per_second: capacity / 60.0,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// Never more generous than the server: a limit below ours becomes ours (returned, to log it),
    /// and what the server says is left caps what we think is left. Our own estimate of a request
    /// may be lower than the server's, and the server may count other clients of the same account;
    /// without this the client keeps sending at its configured pace into a stream of 429s.
    fn align(
        &mut self,
        limit: Option<f64>,
        remaining: Option<f64>,
        headroom: f64,
        now: Instant,
    ) -> Option<f64> {
        self.refill(now);
        let lowered = limit.filter(|l| *l >= 1.0 && *l < self.capacity);
        if let Some(limit) = lowered {
            self.capacity = limit;
            self.per_second = limit / 60.0;
            self.available = self.available.min(limit);
        }
        if let Some(remaining) = remaining {
            self.available = self.available.min(remaining - self.capacity * headroom);
        }
        lowered
    }

    fn reserve(&mut self, cost: f64, now: Instant) -> Duration {
        self.refill(now);
        // A single request larger than a minute's allowance still goes, after a full minute.
        self.available -= cost.min(self.capacity);
        if self.available >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-self.available / self.per_second)
                .unwrap_or(Duration::from_secs(60))
        }
    }
}

/// `x-ratelimit-reset-*` values: Go-style durations (`1s`, `6m0s`, `20ms`, `2m59.56s`) or seconds.
pub(crate) fn parse_reset(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let mut total = 0.0;
    let mut rest = value;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let (number, after) = rest.split_at(number_len);
        let number: f64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = after;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A run that is not being cancelled.
    fn go() -> CancellationToken {
        CancellationToken::new()
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spaces_requests_after_the_burst() {
        let limiter = Limiter::new(Some(2), None, HOUR);
        limiter.learned();
        let start = Instant::now();
        limiter.wait_turn(0, &go()).await.unwrap();
        limiter.wait_turn(0, &go()).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.wait_turn(0, &go()).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_waits_for_the_refill() {
        let limiter = Limiter::new(None, Some(1000), HOUR);
        limiter.learned();
        let start = Instant::now();
        limiter.wait_turn(600, &go()).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.wait_turn(600, &go()).await.unwrap();
        // 200 tokens short at 1000/60 per second.
        assert!(
            start.elapsed() >= Duration::from_secs(12),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_larger_than_the_minute_allowance_still_goes() {
        let limiter = Limiter::new(None, Some(100), HOUR);
        limiter.learned();
        limiter.wait_turn(5_000, &go()).await.unwrap();
        let start = Instant::now();
        limiter.wait_turn(5_000, &go()).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_pause_holds_every_request() {
        let limiter = Limiter::new(None, None, HOUR);
        limiter.learned();
        limiter.pause_for(Duration::from_secs(5));
        limiter.pause_for(Duration::from_secs(1));
        let start = Instant::now();
        limiter.wait_turn(10, &go()).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_ratelimit_headers_pause_until_reset() {
        let limiter = Limiter::new(None, None, HOUR);
        limiter.learned();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("0"),
        );
        headers.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("1.5s"));
        headers.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("12"),
        );
        headers.insert("x-ratelimit-reset-requests", HeaderValue::from_static("9s"));
        limiter.observe(&headers);
        let start = Instant::now();
        limiter.wait_turn(1, &go()).await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(1500), "{waited:?}");
        assert!(
            waited < Duration::from_secs(9),
            "paused for requests too: {waited:?}"
        );
    }

    fn ratelimit_headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    /// bench/ratelimit.sh, server limit half the configured one: the client kept pacing at its
    /// configured rate and about every other request was answered 429.
    #[tokio::test(start_paused = true)]
    async fn client_kept_its_configured_rate_when_the_server_announced_a_lower_limit() {
        let limiter = Limiter::new(None, Some(1000), HOUR);
        limiter.learned();
        limiter.observe(&ratelimit_headers(&[
            ("x-ratelimit-limit-tokens", "500"),
            ("x-ratelimit-remaining-tokens", "500"),
        ]));
        let start = Instant::now();
        // What is left, less the headroom (3% of 500).
        limiter.wait_turn(485, &go()).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.wait_turn(500, &go()).await.unwrap();
        // 500 tokens at the server's 500/min, not 30 s at the configured 1000/min (or no wait at all).
        assert!(
            start.elapsed() >= Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
    }

    /// bench/ratelimit.sh, matched limits: the server counts a request as more tokens than our
    /// estimate, so the client drifted ahead of the server's bucket into occasional 429s.
    #[tokio::test(start_paused = true)]
    async fn client_ignored_the_servers_remaining_count_and_drifted_ahead() {
        let limiter = Limiter::new(Some(100), Some(1000), HOUR);
        limiter.learned();
        limiter.observe(&ratelimit_headers(&[
            ("x-ratelimit-limit-tokens", "1000"),
            ("x-ratelimit-remaining-tokens", "100"),
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-remaining-requests", "50"),
        ]));
        let start = Instant::now();
        limiter.wait_turn(400, &go()).await.unwrap();
        // 100 left less 30 of headroom: 330 tokens short at 1000/60 per second.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(19_800), "{waited:?}");
        assert!(waited < Duration::from_millis(20_500), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_limit_above_the_configured_one_does_not_raise_ours() {
        let limiter = Limiter::new(Some(2), None, HOUR);
        limiter.learned();
        limiter.observe(&ratelimit_headers(&[
            ("x-ratelimit-limit-requests", "10000"),
            ("x-ratelimit-remaining-requests", "9999"),
        ]));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.wait_turn(0, &go()).await.unwrap();
        }
        assert!(
            start.elapsed() >= Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn reset_values_in_the_formats_servers_send() {
        assert_eq!(parse_reset("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_reset("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_reset("2m59.5s"), Some(Duration::from_millis(179_500)));
        assert_eq!(parse_reset("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_reset("soon"), None);
        assert_eq!(parse_reset("5 parsecs"), None);
        assert_eq!(parse_reset("-3"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn with_a_configured_limit_the_first_request_goes_alone_until_its_answer() {
        let limiter = std::sync::Arc::new(Limiter::new(Some(1000), None, HOUR));
        limiter.wait_turn(1, &go()).await.unwrap();
        let second = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.wait_turn(1, &go()).await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !second.is_finished(),
            "the second request did not wait for the probe"
        );
        limiter.learned();
        assert_eq!(second.await.ok(), Some(Ok(())));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_configured_limit_nothing_waits_for_a_probe() {
        let limiter = Limiter::new(None, None, HOUR);
        for _ in 0..3 {
            limiter.wait_turn(1, &go()).await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_limit_announced_by_the_server_is_followed_when_none_is_configured() {
        let limiter = Limiter::new(None, None, HOUR);
        limiter.observe(&ratelimit_headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "1"),
        ]));
        let start = Instant::now();
        limiter.wait_turn(0, &go()).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.wait_turn(0, &go()).await.unwrap();
        // One request a second once the one remaining is used.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(1), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_a_rate_limit_wait_and_a_server_pause_at_once() {
        let limiter = Limiter::new(None, None, HOUR);
        limiter.pause_for(Duration::from_secs(3000));
        let cancel = CancellationToken::new();
        let waiting = {
            let cancel = cancel.clone();
            async move { limiter.wait_turn(1, &cancel).await }
        };
        let start = Instant::now();
        let (result, ()) = tokio::join!(waiting, async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            cancel.cancel();
        });
        assert_eq!(result, Err(Cancelled));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
}
