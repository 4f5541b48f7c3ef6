//! Checks on a model's answer before anything is published.
//!
//! [`answer`] turns the raw text into the three sections (JSON or Markdown, recording what it had to
//! tolerate); [`shape`] reports everything wrong with the form of an answer or of published sections
//! (language, length, truncation, chatter, refusals, stray JSON); [`identity`] asks whether the
//! summary describes its own paper; [`judge`] is the optional model-based second opinion for borderline
//! identity verdicts. Every problem becomes a [`Reason`] a person can verify.

mod reason;

pub mod answer;
pub mod identity;
pub mod judge;
pub mod links;
pub mod shape;

pub use reason::Reason;
