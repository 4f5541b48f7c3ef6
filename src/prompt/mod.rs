//! (in progress)

mod message;

pub use message::{ChatMessage, Role};
