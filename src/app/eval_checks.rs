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
    let report = eval::evaluate_written_from(
        pairs.into_iter(),
        args.written_from,
        &settings.summarize.identity,
    );
    out.write_all(report.to_text(args.show_errors).as_bytes())?;
    Ok(ExitStatus::Success)
}
