//! The commands: the CLI's request and the settings in, a documented exit status out. One module per
//! command; each uses the stages it needs and nothing else. `main.rs` only parses flags, sets up
//! logging and signals, and exits with the code; tests call [`execute`] in-process with their own
//! environment, output and shutdown.

mod digest;
mod error;
mod eval_checks;
pub mod lint;
mod publish;
mod report;
mod review;
mod run;
mod serve;
pub mod signals;
mod summarize;

use std::io::Write;
use std::sync::Arc;

pub use error::{run_status, CommandError, ExitStatus, EXIT_SIGINT, EXIT_SIGTERM};
pub use serve::web_state;

use crate::cli::{Cli, Command};
use crate::logging::Progress;
use crate::model::{ChatModel, OpenAiCompatible};
use crate::pipeline::{Shutdown, Stages};
use crate::prompt::PromptSet;
use crate::publish::Publisher;
use crate::settings::{Env, Settings};
use crate::store::Store;

/// What a command runs with besides its flags: the environment, where its output goes, progress
/// bars, and the stop it obeys.
pub struct Context<'a> {
    pub env: Env,
    pub out: &'a mut (dyn Write + Send),
    pub progress: Progress,
    pub shutdown: Shutdown,
}

/// Runs one command to completion.
pub async fn execute(cli: Cli, ctx: Context<'_>) -> Result<ExitStatus, CommandError> {
    let mut settings = Settings::load(cli.config.as_deref(), &ctx.env)?;
    if let Some(db) = cli.db {
        settings.database = db;
    }
    match cli.command {
        Command::Run(args) => run::run(settings, args, ctx).await,
        Command::Summarize(args) => summarize::summarize(settings, args, ctx).await,
        Command::Digest(args) => digest::digest(&settings, args, ctx.out),
        Command::Report(args) => report::report(&settings, args, ctx.out),
        Command::Lint(args) => lint::lint(&settings, args, ctx).await,
        Command::EvalChecks(args) => eval_checks::eval_checks(&settings, args, ctx.out),
        Command::Review(args) => review::review(settings, args, ctx).await,
        Command::Serve(args) => serve::serve(settings, args, ctx).await,
        Command::Publish(args) => publish::publish(&settings, args, ctx).await,
    }
}

/// The publishing targets and the alert, with their secrets read; `None` when nothing is configured.
fn publisher(
    settings: &Settings,
    shutdown: &Shutdown,
) -> Result<Option<Arc<Publisher>>, CommandError> {
    if !settings.publish.any() {
        return Ok(None);
    }
    let publisher = Publisher::new(settings.publish.resolve()?, shutdown.token())?;
    Ok(Some(Arc::new(publisher)))
}

/// The stages a command that asks the model needs: the store, the model client, the prompts, and
/// where a day's run publishes.
fn stages(
    settings: &Settings,
    store: Store,
    publisher: Option<Arc<Publisher>>,
    ctx: &Context<'_>,
) -> Result<Stages, CommandError> {
    stages_with(
        settings,
        store,
        publisher,
        ctx.shutdown.clone(),
        ctx.progress.clone(),
    )
}

/// [`stages`] with the stop and progress given directly (the review server builds them once).
fn stages_with(
    settings: &Settings,
    store: Store,
    publisher: Option<Arc<Publisher>>,
    shutdown: Shutdown,
    progress: Progress,
) -> Result<Stages, CommandError> {
    let prompts = PromptSet::load(settings.prompts_dir.as_deref())?;
    let api_key = settings.api_key.resolve()?;
    let model: Arc<dyn ChatModel> = Arc::new(OpenAiCompatible::new(
        settings.model.clone(),
        api_key,
        shutdown.token(),
    )?);
    Ok(Stages {
        store,
        model,
        prompts: Arc::new(prompts),
        settings: settings.summarize.clone(),
        progress,
        shutdown,
        claim_lease: settings.claim_lease,
        publisher,
    })
}
