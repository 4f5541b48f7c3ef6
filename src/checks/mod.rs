//! (in progress)

pub mod identity;
mod reason;

pub use reason::Reason;
