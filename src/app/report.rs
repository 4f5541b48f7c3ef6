//! `report [--last | --run N]`: what a run did.

use std::io::Write;

use super::{CommandError, ExitStatus};
use crate::cli::{ReportArgs, ReportFormat};
use crate::render;
use crate::settings::Settings;
use crate::store::{RunId, Store};

pub(super) fn report(
    settings: &Settings,
    args: ReportArgs,
    out: &mut dyn Write,
) -> Result<ExitStatus, CommandError> {
    let store = Store::open(&settings.database)?;
    let run = match args.run {
        Some(number) => RunId(number),
        None => store.last_run_id()?.ok_or_else(|| {
            CommandError::Usage(format!("no runs in {}", settings.database.display()))
        })?,
    };
    let report = store.run_report(run)?;
    match args.format {
        ReportFormat::Markdown => out.write_all(render::report::markdown(&report).as_bytes())?,
        ReportFormat::Json => {
            let json = render::report::json(&report).map_err(|e| {
                CommandError::Usage(format!("cannot encode run {run} as JSON: {e}"))
            })?;
            out.write_all(json.as_bytes())?;
        }
    }
    Ok(ExitStatus::Success)
}
