//! The commands: typed settings and validated requests in, an exit status out. `main.rs` only parses
//! flags, sets up logging and maps the result to the process exit code.

use std::path::Path;
use std::sync::Arc;

use std::collections::HashMap;

use crate::checks::identity as eval;
use crate::cli::{
    Cli, Command, DigestArgs, EvalChecksArgs, LintArgs, LintFormat, ReportArgs, ReportFormat,
    RunArgs, SummarizeArgs,
};
use crate::config::{self, ConfigError, Settings, SourceKind};
use crate::lint;
use crate::logging::Progress;
use crate::model::{ModelSettings, OpenAiCompatible};
use crate::paper::ArxivId;
use crate::paper::Paper;
use crate::pipeline::{ExitStatus, Pipeline, RunError, RunRequest, StopSignal};
use crate::prompt::PromptSet;
use crate::render::{self, digest::DigestEntry};
use crate::source::{self, arxiv::ArxivClient};
use crate::store::{RunEnd, RunId, Store};

/// Runs one command to completion.
pub async fn execute(cli: Cli, progress: Progress) -> Result<ExitStatus, RunError> {
    let mut settings = config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(db) = cli.db {
        settings.run.database = db;
    }
    match cli.command {
        Command::Run(args) => run(settings, args, progress).await,
        Command::Summarize(args) => summarize(settings, args, progress).await,
        Command::Digest(args) => digest(&settings, args),
        Command::Report(args) => report(&settings, args),
        Command::Lint(args) => lint(&settings, args).await,
        Command::EvalChecks(args) => eval_checks(&settings, args),
    }
}

async fn run(
    settings: Settings,
    args: RunArgs,
    progress: Progress,
) -> Result<ExitStatus, RunError> {
    let request = run_request(&settings, args)?;
    let pipeline = pipeline(settings, progress, request.dry_run)?;
    let summary = pipeline.run(&request).await?;
    if let Some(error) = &summary.stopped_by {
        tracing::error!(error = %error, "run stopped early");
    }
    tracing::info!(
        date = ?summary.date,
        listed = summary.listed,
        ok = summary.ok,
        flagged = summary.flagged,
        failed = summary.failed,
        already_done = summary.skipped_done,
        not_attempted = summary.not_attempted,
        digest = ?summary.digest,
        report = ?summary.report,
        "run finished"
    );
    Ok(summary.exit_status())
}

/// Validates the run flags against each other and the config, once.
fn run_request(settings: &Settings, args: RunArgs) -> Result<RunRequest, RunError> {
    let source = args.source.unwrap_or(settings.source.kind);
    match (source, &args.input) {
        (SourceKind::File, None) => {
            return Err(RunError::Usage(
                "--source file needs --input FILE (a saved HF JSON or arXiv Atom response)".into(),
            ))
        }
        (SourceKind::HfDaily | SourceKind::Arxiv, Some(input)) => {
            return Err(RunError::Usage(format!(
                "--input {} is only read with --source file",
                input.display()
            )))
        }
        _ => {}
    }
    let categories = if args.categories.is_empty() {
        settings.source.categories.clone()
    } else {
        args.categories
    };
    if source == SourceKind::Arxiv && categories.is_empty() {
        return Err(RunError::Usage(
            "--source arxiv needs a category (--category cs.CL or source.categories)".into(),
        ));
    }
    Ok(RunRequest {
        date: args.date,
        source,
        input: args.input,
        categories,
        limit: args.limit,
        out_dir: args.out.unwrap_or_else(|| settings.run.out_dir.clone()),
        dry_run: args.dry_run,
        force: args.force,
        include_flagged: args.include_flagged || settings.include_flagged,
    })
}

async fn summarize(
    settings: Settings,
    args: SummarizeArgs,
    progress: Progress,
) -> Result<ExitStatus, RunError> {
    let ids = args
        .ids
        .iter()
        .map(|raw| ArxivId::parse(raw).map(|v| v.id))
        .collect::<Result<Vec<_>, _>>()?;
    let out_dir = args.out.unwrap_or_else(|| settings.run.out_dir.clone());
    let include_flagged = settings.include_flagged;
    let pipeline = pipeline(settings, progress, false)?;
    let result = pipeline
        .summarize_ids(&ids, args.force, &out_dir, include_flagged)
        .await?;
    print!("{}", result.printed);
    Ok(result.exit_status())
}

fn digest(settings: &Settings, args: DigestArgs) -> Result<ExitStatus, RunError> {
    let store = Store::open(&settings.run.database)?;
    let include_flagged = args.include_flagged || settings.include_flagged;
    let current = store.current_for_date(args.date)?;
    let entries: Vec<DigestEntry> = current.iter().map(DigestEntry::from).collect();
    let text = render::digest::render(args.date, &entries, include_flagged);
    if args.stdout {
        print!("{text}");
    } else {
        let out_dir = args.out.unwrap_or_else(|| settings.run.out_dir.clone());
        let path = out_dir.join(format!("daily_papers_ko_{}.md", args.date));
        std::fs::create_dir_all(&out_dir).map_err(|e| RunError::Output {
            path: out_dir.clone(),
            message: e.to_string(),
        })?;
        render::write_atomic(&path, text.as_bytes()).map_err(|e| RunError::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
        println!("{}", path.display());
    }
    Ok(ExitStatus::Success)
}

fn report(settings: &Settings, args: ReportArgs) -> Result<ExitStatus, RunError> {
    let store = Store::open(&settings.run.database)?;
    let run = match args.run {
        Some(number) => RunId(number),
        None => store.last_run_id()?.ok_or_else(|| {
            RunError::Usage(format!("no runs in {}", settings.run.database.display()))
        })?,
    };
    let report = store.run_report(run)?;
    match args.format {
        ReportFormat::Markdown => print!("{}", render::report::markdown(&report)),
        ReportFormat::Json => {
            let json = render::report::json(&report)
                .map_err(|e| RunError::Usage(format!("cannot encode run {run} as JSON: {e}")))?;
            println!("{json}");
        }
    }
    Ok(ExitStatus::Success)
}

async fn lint(settings: &Settings, args: LintArgs) -> Result<ExitStatus, RunError> {
    let digests = args
        .digests
        .iter()
        .map(|path| lint::read_digest(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut papers: HashMap<ArxivId, Paper> = HashMap::new();
    for path in &args.papers {
        for paper in source::file::load(path).map_err(RunError::Input)? {
            papers.entry(paper.id.clone()).or_insert(paper);
        }
    }
    let mut missing: Vec<ArxivId> = digests
        .iter()
        .flat_map(|digest| digest.entries.iter().map(|entry| entry.id.clone()))
        .filter(|id| !papers.contains_key(id))
        .collect();
    missing.sort();
    missing.dedup();
    // The store is read only when it exists: lint never creates one.
    if !missing.is_empty() && settings.run.database.exists() {
        let store = Store::open(&settings.run.database)?;
        for id in &missing {
            if let Some(paper) = store.paper(id)? {
                papers.insert(id.clone(), paper);
            }
        }
        missing.retain(|id| !papers.contains_key(id));
    }
    if args.fetch && !missing.is_empty() {
        let source = &settings.source;
        let client = ArxivClient::new(
            &source.arxiv_base_url,
            source.arxiv_min_interval,
            source.arxiv_page_size,
            http_client(settings)?,
        )?;
        for paper in client.lookup(&missing).await?.found {
            papers.insert(paper.id.clone(), paper);
        }
    }
    let limits = settings.checks.shape_limits();
    let reports: Vec<_> = digests
        .iter()
        .flat_map(|digest| lint::check_digest(digest, &papers, &limits, &settings.identity))
        .collect();
    match args.format {
        LintFormat::Text => print!("{}", lint::render_text(&reports)),
        LintFormat::Json => {
            let json = serde_json::to_string_pretty(&reports)
                .map_err(|e| RunError::Usage(format!("cannot encode the lint results: {e}")))?;
            println!("{json}");
        }
    }
    Ok(if lint::all_ok(&reports) {
        ExitStatus::Success
    } else {
        ExitStatus::NotAllPublished
    })
}

fn eval_checks(settings: &Settings, args: EvalChecksArgs) -> Result<ExitStatus, RunError> {
    let file = std::fs::File::open(&args.pairs).map_err(|e| {
        RunError::Usage(format!(
            "cannot read labelled pairs {}: {e}",
            args.pairs.display()
        ))
    })?;
    let pairs = eval::read_jsonl(std::io::BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Usage(format!("{}: {e}", args.pairs.display())))?;
    let report = eval::evaluate(pairs.into_iter(), &settings.identity);
    print!("{}", eval_text(&report, args.show_errors));
    Ok(ExitStatus::Success)
}

/// The confusion matrix and rates as a person reads them.
fn eval_text(report: &eval::EvalReport, show_errors: bool) -> String {
    let mut text = format!(
        "pairs: {} ({} mismatch, {} match)\n\
         \n\
         \t\t\tflagged\tpassed\n\
         mismatch (swapped)\t{}\t{}\n\
         match (true)\t\t{}\t{}\n\
         \n\
         precision: {:.2}%\n\
         recall on mismatches: {:.2}%\n\
         false-positive rate on matches: {:.2}%\n\
         false-positive rate on matches with < 5 English words: {:.2}% ({} of {})\n\
         throughput: {:.0} summaries/s\n",
        report.true_positives
            + report.false_negatives
            + report.false_positives
            + report.true_negatives,
        report.true_positives + report.false_negatives,
        report.false_positives + report.true_negatives,
        report.true_positives,
        report.false_negatives,
        report.false_positives,
        report.true_negatives,
        report.precision * 100.0,
        report.recall * 100.0,
        report.false_positive_rate * 100.0,
        report.low_english_false_positive_rate * 100.0,
        report.low_english_false_positives,
        report.low_english_matches,
        report.summaries_per_second,
    );
    text.push_str("flags by check (on matches / on mismatches):\n");
    for (check, (on_matches, on_mismatches)) in &report.flags_by_check {
        text.push_str(&format!("  {check}: {on_matches} / {on_mismatches}\n"));
    }
    if show_errors {
        text.push_str("flagged true pairs:\n");
        for pair in &report.flagged_matches {
            text.push_str(&format!("  {} {}\n", pair.arxiv_id, pair.title));
            for reason in &pair.reasons {
                text.push_str(&format!("      - {reason}\n"));
            }
        }
    }
    text
}

fn http_client(settings: &Settings) -> Result<reqwest::Client, RunError> {
    reqwest::Client::builder()
        .timeout(settings.source.request_timeout)
        .user_agent(concat!("paper-digest/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RunError::Usage(format!("cannot build the HTTP client: {e}")))
}

/// Builds the store, the model client and the prompts. A dry run needs no API key.
fn pipeline(settings: Settings, progress: Progress, dry_run: bool) -> Result<Pipeline, RunError> {
    let api_key =
        match config::resolve_api_key(&settings.model, std::env::var("OPENAI_API_KEY").ok()) {
            Ok(key) => key,
            Err(ConfigError::MissingApiKey) if dry_run => None,
            Err(error) => return Err(error.into()),
        };
    let prompts = PromptSet::load(settings.run.prompts_dir.as_deref())?;
    let store = open_store(&settings.run.database, dry_run)?;
    let model = OpenAiCompatible::new(model_settings(&settings, api_key)?)?;
    let http = http_client(&settings)?;
    let stop = Arc::new(StopSignal::default());
    listen_for_shutdown(stop.clone());
    Ok(Pipeline {
        settings,
        store,
        model: Arc::new(model),
        prompts,
        progress,
        http,
        stop,
    })
}

/// A dry run reads an existing store but never creates one.
fn open_store(path: &Path, dry_run: bool) -> Result<Store, RunError> {
    if dry_run && !path.exists() {
        return Ok(Store::open_in_memory()?);
    }
    Ok(Store::open(path)?)
}

fn model_settings(settings: &Settings, api_key: Option<String>) -> Result<ModelSettings, RunError> {
    let model = &settings.model;
    let max_tokens_field = model
        .max_tokens_field
        .parse()
        .map_err(|e| RunError::Usage(format!("model.max_tokens_field: {e}")))?;
    Ok(ModelSettings {
        base_url: model.base_url.clone(),
        model: model.name.clone(),
        api_key,
        temperature: model.temperature,
        max_output_tokens: model.max_output_tokens,
        max_tokens_field,
        request_timeout: model.request_timeout,
        max_retries: model.max_retries,
        backoff_initial: model.backoff_initial,
        backoff_max: model.backoff_max,
        concurrency: settings.run.concurrency,
        requests_per_minute: model.requests_per_minute,
        tokens_per_minute: model.tokens_per_minute,
        structured_output: model.structured_output,
        price_input_per_mtok: model.price_input_per_mtok,
        price_output_per_mtok: model.price_output_per_mtok,
        max_run_tokens: settings.run.max_tokens,
        max_run_cost_usd: settings.run.max_cost_usd,
    })
}

/// SIGINT/SIGTERM: start no new papers, let the ones in flight finish and be stored, then exit.
fn listen_for_shutdown(stop: Arc<StopSignal>) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return,
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::warn!("shutdown requested: finishing the papers in flight, starting no new ones");
        stop.stop(RunEnd::Interrupted, "interrupted by a shutdown signal");
    });
}
