//! Checks on a model's answer before anything is published.
//!
//! [`answer`] turns the raw text into the three sections (JSON or Markdown, recording what it had to
//! tolerate); [`shape`] reports everything wrong with the form of an answer or of published sections
//! (language, length, truncation, chatter, refusals, stray JSON). Every problem becomes a [`Reason`]
//! a person can verify.

pub mod identity;
mod reason;

pub mod answer;
pub mod shape;

pub use reason::Reason;
