//! `eval-checks --pairs FILE.jsonl`: measure the identity checks on labelled pairs.

use std::io::Write;

use super::{CommandError, ExitStatus};
use crate::checks::identity as eval;
use crate::cli::EvalChecksArgs;
use crate::settings::Settings;

pub(super) fn eval_checks(
    settings: &Settings,
    args: EvalChecksArgs,
    out: &mut dyn Write,
) -> Result<ExitStatus, CommandError> {
    let file = std::fs::File::open(&args.pairs).map_err(|e| {
        CommandError::Usage(format!(
            "cannot read labelled pairs {}: {e}",
            args.pairs.display()
        ))
    })?;
    let pairs = eval::read_jsonl(std::io::BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CommandError::Usage(format!("{}: {e}", args.pairs.display())))?;
    let report = eval::evaluate(pairs.into_iter(), &settings.summarize.identity);
    out.write_all(eval_text(&report, args.show_errors).as_bytes())?;
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
