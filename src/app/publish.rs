//! `publish [--date D | --all]`: days from the store to the `[publish]` targets. What a target
//! already has is not sent again; a changed day is sent as an update; a day whose source list was
//! incomplete is never published. Prints one line per day and target.

use chrono::NaiveDate;

use super::error::publish_status;
use super::{publisher, CommandError, Context, ExitStatus};
use crate::cli::PublishArgs;
use crate::render::text::one_line;
use crate::settings::Settings;
use crate::store::{PublishRecord, Store};

pub(super) async fn publish(
    settings: &Settings,
    args: PublishArgs,
    ctx: Context<'_>,
) -> Result<ExitStatus, CommandError> {
    if !settings.publish.any_target() {
        return Err(CommandError::Usage(
            "no publish target is enabled: set publish.archive, publish.site, publish.feed, \
             publish.slack, publish.discord or publish.webhook `enabled = true`"
                .to_string(),
        ));
    }
    let Some(publisher) = publisher(settings, &ctx.shutdown)? else {
        return Err(CommandError::Usage(
            "no publish target is enabled".to_string(),
        ));
    };
    let store = Store::open(&settings.database)?;
    let listed = store.listed_dates()?;
    let days: Vec<NaiveDate> = match (args.date, args.all) {
        (_, true) => listed.iter().rev().copied().collect(),
        (Some(date), false) => {
            if !listed.contains(&date) {
                return match store.day_run_note(date)? {
                    Some(note) => {
                        writeln!(
                            ctx.out,
                            "{date}: no papers are listed on this day ({}); nothing to publish",
                            one_line(note.as_deref().unwrap_or("no announcement"))
                        )?;
                        Ok(ExitStatus::Success)
                    }
                    None => Err(CommandError::Usage(format!(
                        "{} has no papers listed on {date} (run `paper-digest run --date {date}` first)",
                        settings.database.display()
                    ))),
                };
            }
            vec![date]
        }
        (None, false) => match listed.first() {
            Some(latest) => vec![*latest],
            None => {
                return Err(CommandError::Usage(format!(
                    "{} has no days with listed papers: nothing to publish",
                    settings.database.display()
                )))
            }
        },
    };
    let include_flagged = args.include_flagged || settings.include_flagged;
    let records = publisher
        .publish(&store, &days, include_flagged, None)
        .await;
    for record in &records {
        writeln!(ctx.out, "{}", line(record))?;
    }
    Ok(publish_status(&records))
}

/// `2024-09-23  slack  published  3 messages`.
pub(super) fn line(record: &PublishRecord) -> String {
    let day = record
        .date
        .map_or_else(|| "-".to_string(), |d| d.to_string());
    format!(
        "{day}\t{}\t{}\t{}",
        record.target,
        record.outcome,
        one_line(&record.detail)
    )
}
