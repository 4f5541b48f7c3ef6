//! SIGINT / SIGTERM: the first stops the run (no new paper or request starts, waits end, requests
//! already sent are answered and stored); a second ends the process at once with 130 / 143. Every
//! stored result is its own SQLite transaction, so the store stays consistent either way.

use crate::pipeline::Shutdown;
use crate::store::RunEnd;

use super::{EXIT_SIGINT, EXIT_SIGTERM};

/// Listens for the signals in the background, for the life of the process.
pub fn listen(shutdown: Shutdown) {
    tokio::spawn(async move {
        let Some(mut signals) = Signals::new() else {
            tracing::warn!(
                "cannot listen for SIGINT/SIGTERM; a stop signal ends the process at once"
            );
            return;
        };
        let first = signals.next().await;
        tracing::warn!(
            signal = first.name(),
            "shutdown requested: finishing the requests in flight, starting nothing new (send it again to stop at once)"
        );
        shutdown.stop(
            RunEnd::Interrupted,
            format!("interrupted by {}", first.name()),
        );
        let second = signals.next().await;
        tracing::warn!(signal = second.name(), "second signal: stopping now");
        std::process::exit(second.exit_code());
    });
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => EXIT_SIGINT,
            Signal::Terminate => EXIT_SIGTERM,
        }
    }
}

/// Both signals, registered once so that none arriving between the first and the second is lost.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Option<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Signals {
            interrupt: signal(SignalKind::interrupt()).ok()?,
            terminate: signal(SignalKind::terminate()).ok()?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> Option<Signals> {
        Some(Signals)
    }

    async fn next(&mut self) -> Signal {
        // Without Ctrl-C support the future never completes: the default handler ends the process.
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}
