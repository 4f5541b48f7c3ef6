//! The `paper-digest` binary: parse flags, set up logs, run the command, exit with its documented code.

use std::process::ExitCode;

use clap::Parser;
use paper_digest::cli::{Cli, LogFormat};
use paper_digest::{app, logging};

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
    match runtime.block_on(app::execute(cli, progress)) {
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
