//! `digest --date D`: re-render a day's digest from the store (no model, no key).

use std::io::Write;

use super::{CommandError, ExitStatus};
use crate::cli::DigestArgs;
use crate::pipeline::publish;
use crate::settings::Settings;
use crate::store::Store;

pub(super) fn digest(
    settings: &Settings,
    args: DigestArgs,
    out: &mut dyn Write,
) -> Result<ExitStatus, CommandError> {
    let store = Store::open(&settings.database)?;
    let include_flagged = args.include_flagged || settings.include_flagged;
    if args.stdout {
        out.write_all(publish::render_digest(&store, args.date, include_flagged)?.as_bytes())?;
    } else {
        let out_dir = args.out.unwrap_or_else(|| settings.out_dir.clone());
        let path = publish::write_digest(&store, args.date, &out_dir, include_flagged)?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitStatus::Success)
}
