//! The stages of a run, in the order data flows through them:
//!
//! ```text
//! fetch ──▶ select ──▶ summarize ──▶ record ──▶ publish
//! (source,   (what needs  (prompt → model →   (store, one    (digest,
//!  retries,   a summary)   checks → repairs,   transaction    report)
//!  no-announcement)        budget)             per paper)
//! ```
//!
//! [`fetch`], [`select`], [`summarize`], [`record`] and [`publish`] are the stages; [`run`] drives
//! them for one run; [`shutdown`] is the stop every stage is handed. Stages return their own errors;
//! exit codes belong to the commands (`app`).

pub mod fetch;
pub mod publish;
pub mod record;
pub mod run;
pub mod select;
pub mod shutdown;
pub mod summarize;

pub use run::{PipelineError, RunRequest, RunSummary, Stages};
pub use shutdown::{Shutdown, Stop};
