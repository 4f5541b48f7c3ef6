//! (in progress)

mod types;

pub use types::{ChatAnswer, ChatRequest, FinishReason, OutputMode, Usage};
