//! `mock-llm`: the fault-injecting OpenAI-compatible chat server as a standalone process, for
//! benchmarks against the release binary. Prints its base URL, serves until Ctrl-C, then prints
//! the counts as JSON (also available any time at `GET /stats`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use paper_digest_mock_llm::{Faults, Latency, MockLlm};

#[derive(Debug, Parser)]
#[command(
    name = "mock-llm",
    version,
    about = "Fault-injecting OpenAI-compatible chat server"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089")]
    addr: SocketAddr,
    /// Latency before each answer, in milliseconds (the lower bound with --latency-max-ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random latency up to this many milliseconds (uniform from --latency-ms).
    #[arg(long)]
    latency_max_ms: Option<u64>,
    /// Server-side requests per minute (429 beyond it).
    #[arg(long)]
    rpm: Option<u32>,
    /// Server-side tokens per minute (429 beyond it).
    #[arg(long)]
    tpm: Option<u32>,
    /// Seed of the fault and latency RNG.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of requests answered 429 (injected).
    #[arg(long, default_value_t = 0.0)]
    rate_limited: f64,
    /// Share answered 500/502/503.
    #[arg(long, default_value_t = 0.0)]
    server_error: f64,
    /// Share whose connection is dropped.
    #[arg(long, default_value_t = 0.0)]
    reset: f64,
    /// Share held without an answer (see --hold-ms).
    #[arg(long, default_value_t = 0.0)]
    timeout: f64,
    /// Share answered with cut-off JSON.
    #[arg(long, default_value_t = 0.0)]
    malformed: f64,
    /// Share answered with half a summary and finish_reason "length".
    #[arg(long, default_value_t = 0.0)]
    truncated: f64,
    /// Share answered with empty content.
    #[arg(long, default_value_t = 0.0)]
    empty: f64,
    /// Share of papers always answered with a summary of another paper.
    #[arg(long, default_value_t = 0.0)]
    wrong_paper: f64,
    /// Share of papers always answered with a tracker link in the summary.
    #[arg(long, default_value_t = 0.0)]
    linked: f64,
    /// How long a held ("timeout") request is kept before the connection is dropped.
    #[arg(long, default_value_t = 30_000)]
    hold_ms: u64,
    /// Retry-After of injected 429s, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    retry_after_ms: u64,
}

impl Args {
    fn builder(&self) -> paper_digest_mock_llm::Builder {
        let min = Duration::from_millis(self.latency_ms);
        let latency = match self.latency_max_ms {
            Some(max) => Latency::Uniform {
                min,
                max: Duration::from_millis(max),
            },
            None => Latency::Fixed(min),
        };
        let mut builder = MockLlm::builder()
            .addr(self.addr)
            .latency(latency)
            .seed(self.seed)
            .hold(Duration::from_millis(self.hold_ms))
            .retry_after(Duration::from_millis(self.retry_after_ms))
            .faults(Faults {
                rate_limited: self.rate_limited,
                server_error: self.server_error,
                reset: self.reset,
                timeout: self.timeout,
                malformed: self.malformed,
                truncated: self.truncated,
                empty: self.empty,
                wrong_paper: self.wrong_paper,
                linked: self.linked,
            });
        if let Some(rpm) = self.rpm {
            builder = builder.requests_per_minute(rpm);
        }
        if let Some(tpm) = self.tpm {
            builder = builder.tokens_per_minute(tpm);
        }
        builder
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mock = match args.builder().start().await {
        Ok(mock) => mock,
        Err(error) => {
            eprintln!("mock-llm: {error}");
            return ExitCode::from(2);
        }
    };
    println!("{}/v1", mock.uri());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("mock-llm: cannot wait for Ctrl-C: {error}");
    }
    match serde_json::to_string_pretty(&mock.stats()) {
        Ok(stats) => println!("{stats}"),
        Err(error) => eprintln!("mock-llm: cannot print the counts: {error}"),
    }
    mock.shutdown().await;
    ExitCode::SUCCESS
}
