//! Logs: human-readable lines (with a progress bar) on a terminal, JSON lines in a container.

use std::io::{self, IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines on a terminal (with a progress bar).
    Human,
    /// JSON lines, for containers.
    Json,
}

/// Environment variable holding a tracing filter (`info`, `paper_digest=debug`, ...).
pub const FILTER_ENV: &str = "PAPER_DIGEST_LOG";

/// Where progress is drawn; hidden unless logs are human and stderr is a terminal.
#[derive(Clone)]
pub struct Progress {
    bars: MultiProgress,
}

impl Progress {
    pub fn hidden() -> Self {
        Progress {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        }
    }

    /// A bar over `len` papers; invisible when progress is hidden.
    pub fn papers(&self, len: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(len));
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} papers {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    }
}

/// Log lines pause the progress bar while they print, so the two never interleave.
#[derive(Clone)]
struct SuspendingStderr {
    bars: MultiProgress,
}

struct SuspendingWriter {
    bars: MultiProgress,
}

impl Write for SuspendingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bars.suspend(|| io::stderr().write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for SuspendingStderr {
    type Writer = SuspendingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        SuspendingWriter {
            bars: self.bars.clone(),
        }
    }
}

/// Installs the global subscriber. Returns where progress bars go.
pub fn init(format: LogFormat, verbose: u8) -> Progress {
    let default_level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env(FILTER_ENV)
        .unwrap_or_else(|_| EnvFilter::new(default_level))
        // async-openai logs a 2xx body it cannot parse, whole and unredacted, at error level: a
        // gateway echoing the request would put the API key in our logs. Our own (redacted) error
        // says the same, so its logs are off whatever the filter asks for.
        .add_directive("async_openai=off".parse().expect("constant directive"));
    match format {
        LogFormat::Json => {
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(filter)
                .with_current_span(false)
                .with_writer(io::stderr)
                .init();
            Progress::hidden()
        }
        LogFormat::Human => {
            let progress = if io::stderr().is_terminal() {
                Progress {
                    bars: MultiProgress::new(),
                }
            } else {
                Progress::hidden()
            };
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_target(false)
                .with_writer(SuspendingStderr {
                    bars: progress.bars.clone(),
                })
                .init();
            progress
        }
    }
}
