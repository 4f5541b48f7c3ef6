//! The `paper-digest` binary: parse flags, set up logs and signals, run the command, exit with its
//! documented code.

use std::process::ExitCode;

use clap::Parser;
use paper_digest::app::{self, Context};
use paper_digest::cli::Cli;
use paper_digest::logging::{self, LogFormat};
use paper_digest::pipeline::Shutdown;
use paper_digest::settings::Env;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_logs = cli.log_format == LogFormat::Json;
    let progress = logging::init(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout();
    let result = runtime.block_on(async {
        let shutdown = Shutdown::new();
        app::signals::listen(shutdown.clone());
        let ctx = Context {
            env: Env::from_process(),
            out: &mut stdout,
            progress,
            shutdown,
        };
        app::execute(cli, ctx).await
    });
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            if json_logs {
                tracing::error!(error = %error, "command failed");
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::from(error.exit_status().code())
        }
    }
}
