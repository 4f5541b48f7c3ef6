//! `serve [--bind ADDR:PORT]`: the review web page over the store, until SIGTERM or SIGINT.

use super::review::reviewer;
use super::{publisher, stages_with, CommandError, Context, ExitStatus};
use crate::cli::ServeArgs;
use crate::logging::Progress;
use crate::pipeline::Shutdown;
use crate::settings::{Settings, SERVE_TOKEN_ENV};
use crate::store::Store;
use crate::web::{self, ServeToken, WebState};

pub(super) async fn serve(
    settings: Settings,
    args: ServeArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    let bind = args.bind.unwrap_or(settings.web.bind);
    let token = settings.serve_token.resolve()?;
    let reads_open = web::reads_open_on(&bind);
    if !reads_open && token.is_none() {
        return Err(CommandError::Usage(format!(
            "serve.bind {bind} is not a loopback address, and without a token every page would be \
             open to the network: set {SERVE_TOKEN_ENV} or serve.token_file (or bind to 127.0.0.1)"
        )));
    }
    let writes = token.is_some();
    let state = web_state(&settings, token, reads_open, ctx.shutdown.clone())?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| CommandError::Usage(format!("cannot listen on {bind}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| CommandError::Usage(format!("cannot listen on {bind}: {e}")))?;
    tracing::info!(%address, reads_open, writes, "serving the review page");
    writeln!(ctx.out, "serving the review page on http://{address}/")?;
    ctx.out.flush()?;
    web::serve(listener, state, ctx.shutdown.clone())
        .await
        .map_err(|e| CommandError::Usage(format!("the server on {address} failed: {e}")))?;
    tracing::info!("review server stopped");
    Ok(ExitStatus::Success)
}

/// The web application's state over the configured store: the reviewer, the summarize stage for
/// re-summarizing (unavailable, with why, when the model is not configured), the token.
pub fn web_state(
    settings: &Settings,
    token: Option<ServeToken>,
    reads_open: bool,
    shutdown: Shutdown,
) -> Result<WebState, CommandError> {
    let store = Store::open(&settings.database)?;
    let publisher = publisher(settings, &shutdown)?;
    let stages = stages_with(
        settings,
        store.clone(),
        publisher.clone(),
        shutdown,
        Progress::hidden(),
    )
    .map_err(|e| e.to_string());
    if let Err(why) = &stages {
        tracing::warn!(%why, "re-summarizing from the review page is unavailable");
    }
    Ok(WebState::new(
        reviewer(settings, store, None, publisher),
        stages,
        token,
        reads_open,
    ))
}
