//! (in progress)

mod reason;

pub use reason::Reason;
