//! Command-line interface: raw flags, parsed by clap and validated once into typed requests.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checks::identity::{UnknownWrittenFrom, WrittenFrom};
use crate::logging::LogFormat;
use crate::source::SourceKind;

/// Turns each day's new research papers into a checked, three-part Korean digest.
///
/// Exit codes: 0 all published, 1 some papers flagged or failed (or a publish target failed),
/// 2 usage or config error, 3 source or model unreachable.
#[derive(Debug, Parser)]
#[command(
    name = "paper-digest",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 all published, 1 some papers flagged or failed (or a publish target failed), \
                  2 usage or config error, 3 source or model unreachable.\n\
                  Config: config/default.toml (built in) <- --config FILE <- PAPER_DIGEST_<SECTION>__<KEY>.\n\
                  API key: OPENAI_API_KEY or model.api_key_file; never read from a config file."
)]
pub struct Cli {
    /// Config file layered over the built-in defaults (then PAPER_DIGEST_* variables).
    #[arg(long, global = true, env = "PAPER_DIGEST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// SQLite database (overrides run.database).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Log format: human on a terminal (with a progress bar), json lines for containers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "PAPER_DIGEST_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// More log output (-v debug, -vv trace). RUST_LOG-style filters go in PAPER_DIGEST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The scheduled job: fetch the day's papers, summarize those that need it, write digest and report.
    Run(RunArgs),
    /// Re-summarize papers by arXiv ID (fetched from arXiv when not stored), print the result and
    /// re-render the digests they appear in.
    Summarize(SummarizeArgs),
    /// Re-render a day's digest from the store.
    Digest(DigestArgs),
    /// Show what a run did.
    Report(ReportArgs),
    /// Audit published digests: check every entry's shape and that it describes its paper.
    Lint(LintArgs),
    /// Measure the identity checks on labelled summary/abstract pairs (JSONL).
    EvalChecks(EvalChecksArgs),
    /// Review flagged and failed summaries: list, show, approve, reject, edit, re-summarize.
    Review(ReviewArgs),
    /// Serve the review web page and its JSON API over the store.
    Serve(ServeArgs),
    /// Publish days from the store to the [publish] targets (archive, site, feed, webhooks); what a
    /// target already has is not sent again.
    Publish(PublishArgs),
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List papers for review: flagged ones by default, newest day first.
    List(ReviewListArgs),
    /// Show a paper: its summary, the checks' reasons and terms, the abstract, model, prompt
    /// version, dates, history and review trail.
    Show(ReviewShowArgs),
    /// Publish the current summary as it is (a person decided; the links check still applies).
    Approve(ReviewDecideArgs),
    /// Keep the summary out of every digest until a new summary is made.
    Reject(ReviewDecideArgs),
    /// Replace the summary with a person's text (the three sections as Markdown or JSON in FILE);
    /// the shape and links checks must pass, identity reasons leave it flagged for approval.
    Edit(ReviewEditArgs),
    /// Ask the model again for this paper (claims it first: a running job never pays twice).
    Resummarize(ReviewDecideArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewStatus {
    /// Flagged, waiting for a person.
    Flagged,
    /// No usable answer.
    Failed,
    /// Every paper, whatever its state.
    All,
}

#[derive(Debug, Args)]
pub struct ReviewListArgs {
    /// Only papers listed on this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,

    /// Which papers to list.
    #[arg(long, value_enum, default_value_t = ReviewStatus::Flagged)]
    pub status: ReviewStatus,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

#[derive(Debug, Args)]
pub struct ReviewShowArgs {
    /// arXiv ID in any usual form (2409.17481, arXiv:2409.17481v2, https://arxiv.org/abs/...).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

#[derive(Debug, Args)]
pub struct ReviewDecideArgs {
    /// arXiv ID in any usual form.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Why: kept in the review trail.
    #[arg(long)]
    pub note: Option<String>,

    /// Who decides (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,

    /// Output folder of the re-rendered digests (overrides run.out_dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReviewEditArgs {
    #[command(flatten)]
    pub decide: ReviewDecideArgs,

    /// The new summary: `- **What's New**: ...` sections as `review show` prints them, or JSON.
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (overrides serve.bind). Reading is open only on loopback.
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The day to publish (YYYY-MM-DD). Default: the latest day with listed papers.
    #[arg(long, value_parser = parse_date, conflicts_with = "all")]
    pub date: Option<NaiveDate>,

    /// Every day with listed papers, oldest first.
    #[arg(long)]
    pub all: bool,

    /// Include flagged summaries, with a warning line (default: render.include_flagged).
    #[arg(long)]
    pub include_flagged: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Digest files in the published format (`## Daily Papers (YYYY-MM-DD)` ...).
    #[arg(required = true, value_name = "DIGEST.md")]
    pub digests: Vec<PathBuf>,

    /// Abstracts to check against: a saved HF daily-papers JSON or arXiv Atom file (repeatable).
    #[arg(long = "papers", value_name = "FILE")]
    pub papers: Vec<PathBuf>,

    /// Fetch abstracts missing from --papers and the store from arXiv (id_list).
    #[arg(long)]
    pub fetch: bool,

    /// What the digests were written from: abstract or full-text (default: lint.written_from).
    #[arg(long, value_name = "FROM", value_parser = parse_written_from)]
    pub written_from: Option<WrittenFrom>,

    /// Check each flagged entry again against its paper's full text (arXiv's HTML rendering,
    /// fetched politely and cached in the store); an entry the full text supports passes.
    #[arg(long)]
    pub fetch_full_text: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct EvalChecksArgs {
    /// Labelled pairs: one JSON object per line with arxiv_id, title, abstract, summary (text or
    /// sections), label ("match" | "mismatch") and optionally batch.
    #[arg(long, value_name = "FILE.jsonl")]
    pub pairs: PathBuf,

    /// Also print every misclassified pair.
    #[arg(long)]
    pub show_errors: bool,

    /// What the summaries were written from: abstract (the default) or full-text.
    #[arg(long, value_name = "FROM", value_parser = parse_written_from, default_value = "abstract")]
    pub written_from: WrittenFrom,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Day to digest (YYYY-MM-DD). Default: today (UTC); for --source file, the date in the file name.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,

    /// Where papers come from (default: source.kind from the config).
    #[arg(long, value_enum)]
    pub source: Option<SourceKind>,

    /// Saved HF JSON or arXiv Atom response (with --source file).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// arXiv category to list (with --source arxiv; repeatable; default: source.categories).
    #[arg(long = "category", value_name = "CAT")]
    pub categories: Vec<String>,

    /// Summarize at most N papers (in source order).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Output folder for the digest and the run report (overrides run.out_dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Fetch and plan only: no model calls, nothing stored or written.
    #[arg(long)]
    pub dry_run: bool,

    /// Re-summarize papers even when a current summary exists for the same abstract, prompt and model.
    #[arg(long)]
    pub force: bool,

    /// Include flagged summaries in the digest, with a warning line.
    #[arg(long)]
    pub include_flagged: bool,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// arXiv IDs in any usual form: 2409.17481, 2409.17481v2, arXiv:2409.17481, https://arxiv.org/abs/...
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,

    /// Re-summarize even when a current summary exists for the same abstract, prompt and model.
    #[arg(long)]
    pub force: bool,

    /// Output folder for re-rendered digests (overrides run.out_dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Day to render (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub date: NaiveDate,

    /// Output folder (overrides run.out_dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print the digest instead of writing it.
    #[arg(long)]
    pub stdout: bool,

    /// Include flagged summaries with a warning line.
    #[arg(long)]
    pub include_flagged: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The most recent run (the default).
    #[arg(long, conflicts_with = "run")]
    pub last: bool,

    /// A run by its number.
    #[arg(long, value_name = "N")]
    pub run: Option<i64>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
}

fn parse_written_from(text: &str) -> Result<WrittenFrom, String> {
    text.parse().map_err(|e: UnknownWrittenFrom| e.to_string())
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a date in the form YYYY-MM-DD ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_date_names_the_input() {
        let err = Cli::try_parse_from(["paper-digest", "run", "--date", "2024-13-01"]).unwrap_err();
        assert!(err.to_string().contains("\"2024-13-01\""), "{err}");
    }
}
