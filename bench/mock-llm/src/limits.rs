//! Server-side requests/min and tokens/min limits, as OpenAI applies them: a continuously refilled
//! bucket per limit, a 429 when a request does not fit, and `x-ratelimit-*` headers on every answer.

use std::time::{Duration, Instant};

/// One per-minute limit.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    available: f64,
    updated: Instant,
}

impl Bucket {
    fn new(per_minute: u32, now: Instant) -> Bucket {
        let capacity = f64::from(per_minute.max(1));
        Bucket {
            capacity,
            available: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * self.capacity / 60.0).min(self.capacity);
        self.updated = now;
    }

    /// How long until `cost` fits (zero when it does now). A cost above the capacity waits for a full bucket.
    fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost.min(self.capacity) - self.available;
        seconds(missing.max(0.0) * 60.0 / self.capacity)
    }

    /// Time until the bucket is full again (OpenAI's `x-ratelimit-reset-*`).
    fn reset(&self) -> Duration {
        seconds((self.capacity - self.available).max(0.0) * 60.0 / self.capacity)
    }

    fn header_values(&self) -> (String, String, String) {
        (
            format!("{}", self.capacity as u64),
            format!("{}", self.available.max(0.0).floor() as u64),
            go_duration(self.reset()),
        )
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::from_secs(60))
}

/// The limits and what is left of them.
#[derive(Debug)]
pub(crate) struct Limits {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

/// The decision on one request, with the headers to send either way.
#[derive(Debug)]
pub(crate) struct Admission {
    /// `Some(wait)`: over the limit, answer 429 with `Retry-After: wait`.
    pub refused_for: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

impl Limits {
    pub(crate) fn new(requests_per_minute: Option<u32>, tokens_per_minute: Option<u32>) -> Self {
        let now = Instant::now();
        Limits {
            requests: requests_per_minute.map(|n| Bucket::new(n, now)),
            tokens: tokens_per_minute.map(|n| Bucket::new(n, now)),
        }
    }

    /// Takes one request of `tokens` tokens from the buckets if both have room; otherwise takes
    /// nothing and says how long to wait.
    pub(crate) fn admit(&mut self, tokens: u64) -> Admission {
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for (bucket, cost) in self.buckets_mut(tokens) {
            bucket.refill(now);
            wait = wait.max(bucket.wait_for(cost));
        }
        let refused_for = (!wait.is_zero()).then_some(wait);
        if refused_for.is_none() {
            for (bucket, cost) in self.buckets_mut(tokens) {
                bucket.available -= cost.min(bucket.capacity);
            }
        }
        Admission {
            refused_for,
            headers: self.headers(),
        }
    }

    /// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limits that are set.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        for (kind, bucket) in [("requests", &self.requests), ("tokens", &self.tokens)] {
            if let Some(bucket) = bucket {
                let (limit, remaining, reset) = bucket.header_values();
                headers.push((format!("x-ratelimit-limit-{kind}"), limit));
                headers.push((format!("x-ratelimit-remaining-{kind}"), remaining));
                headers.push((format!("x-ratelimit-reset-{kind}"), reset));
            }
        }
        headers
    }

    fn buckets_mut(&mut self, tokens: u64) -> impl Iterator<Item = (&mut Bucket, f64)> {
        let requests = self.requests.as_mut().map(|b| (b, 1.0));
        let tokens = self.tokens.as_mut().map(|b| (b, tokens as f64));
        requests.into_iter().chain(tokens)
    }
}

/// Go-style durations as OpenAI writes them: `20ms`, `1.5s`, `6m0s`.
pub(crate) fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let minutes = millis / 60_000;
    let rest_ms = millis % 60_000;
    let secs = format!("{}.{:03}", rest_ms / 1000, rest_ms % 1000);
    let secs = secs.trim_end_matches('0').trim_end_matches('.');
    if minutes == 0 {
        format!("{secs}s")
    } else {
        format!("{minutes}m{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(admission: &'a Admission, name: &str) -> Option<&'a str> {
        admission
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn requests_over_the_minute_allowance_are_refused_with_a_wait() {
        let mut limits = Limits::new(Some(2), None);
        let first = limits.admit(10);
        assert_eq!(first.refused_for, None);
        assert_eq!(header(&first, "x-ratelimit-limit-requests"), Some("2"));
        assert_eq!(header(&first, "x-ratelimit-remaining-requests"), Some("1"));
        assert_eq!(header(&first, "x-ratelimit-limit-tokens"), None);
        assert_eq!(limits.admit(10).refused_for, None);
        let third = limits.admit(10);
        let wait = third.refused_for.unwrap_or_default();
        // One request per 30 s refills; almost nothing has refilled yet.
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(header(&third, "x-ratelimit-remaining-requests"), Some("0"));
    }

    #[test]
    fn tokens_are_limited_too() {
        let mut limits = Limits::new(None, Some(1000));
        assert_eq!(limits.admit(600).refused_for, None);
        assert!(limits.admit(600).refused_for.is_some());
        assert_eq!(limits.admit(300).refused_for, None);
    }

    #[test]
    fn durations_in_go_style() {
        assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_millis(179_560)), "2m59.56s");
    }
}
