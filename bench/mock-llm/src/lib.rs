//! A fault-injecting OpenAI-compatible chat server on loopback, for paper-digest's benchmarks and
//! soak tests (not part of the product).
//!
//! `POST /v1/chat/completions` answers in OpenAI's wire format with a valid Korean three-part summary
//! built from the request's own `<paper_title>` and `<abstract>` (see [`summary_for`]), after an
//! optional latency, within optional requests/min and tokens/min limits (429 + `Retry-After`, and
//! `x-ratelimit-*` headers on every answer), unless a seeded dice roll injects a fault ([`Faults`]).
//! `GET /stats` returns the [`Stats`] as JSON; [`MockLlm::stats`] returns them in-process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), paper_digest_mock_llm::StartError> {
//! use paper_digest_mock_llm::{Faults, MockLlm};
//! let mock = MockLlm::builder()
//!     .faults(Faults { rate_limited: 0.2, server_error: 0.1, ..Faults::default() })
//!     .seed(42)
//!     .start()
//!     .await?;
//! let base_url = format!("{}/v1", mock.uri());
//! // ... point the client at base_url ...
//! let stats = mock.stats();
//! assert!(stats.paid_twice().is_empty());
//! mock.shutdown().await;
//! # Ok(()) }
//! ```

mod answer;
mod faults;
mod limits;
mod server;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use answer::summary_for;
pub use faults::Faults;
pub use stats::{Outcomes, PaperStats, Stats};

/// How long the mock waits before answering a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    Fixed(Duration),
    /// Uniformly random within `min..=max` (millisecond steps), from the seeded RNG.
    Uniform {
        min: Duration,
        max: Duration,
    },
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid mock settings: {0}")]
    Invalid(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Settings of a [`MockLlm`]; every one has a default (no latency, no limits, no faults).
#[derive(Debug, Clone)]
pub struct Builder {
    settings: server::Settings,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            settings: server::Settings {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                latency: Latency::Fixed(Duration::ZERO),
                requests_per_minute: None,
                tokens_per_minute: None,
                faults: Faults::default(),
                seed: 0,
                hold: Duration::from_secs(30),
                retry_after: Duration::from_secs(1),
                model: "mock-llm".to_string(),
            },
        }
    }
}

impl Builder {
    /// Where to listen; default `127.0.0.1:0` (a free port, see [`MockLlm::uri`]).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.settings.addr = addr;
        self
    }

    pub fn latency(mut self, latency: Latency) -> Self {
        self.settings.latency = latency;
        self
    }

    /// Server-side requests per minute; more are answered 429.
    pub fn requests_per_minute(mut self, limit: u32) -> Self {
        self.settings.requests_per_minute = Some(limit);
        self
    }

    /// Server-side tokens per minute (prompt estimate + the request's `max_tokens`); more are answered 429.
    pub fn tokens_per_minute(mut self, limit: u32) -> Self {
        self.settings.tokens_per_minute = Some(limit);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.settings.faults = faults;
        self
    }

    /// Seed of the RNG behind faults and random latency (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// How long a `timeout` fault holds the request before dropping the connection (default 30 s):
    /// set it longer than the client's timeout.
    pub fn hold(mut self, hold: Duration) -> Self {
        self.settings.hold = hold;
        self
    }

    /// `Retry-After` of injected 429s (default 1 s); sent as `retry-after-ms` and, rounded up to
    /// whole seconds, as `Retry-After`.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.settings.retry_after = wait;
        self
    }

    /// Model name in answers when the request names none (default `mock-llm`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.settings.model = model.into();
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<MockLlm, StartError> {
        self.settings.validate().map_err(StartError::Invalid)?;
        let listener = tokio::net::TcpListener::bind(self.settings.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.settings.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.settings.addr,
            source,
        })?;
        let state = Arc::new(server::State::new(self.settings));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), stopped));
        Ok(MockLlm {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }
}

/// A running mock server; stops on [`MockLlm::shutdown`] or when dropped.
pub struct MockLlm {
    addr: SocketAddr,
    state: Arc<server::State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockLlm {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT` (the OpenAI base URL is this plus `/v1`).
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counts so far.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Stops accepting, drops open connections (held requests included) and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
