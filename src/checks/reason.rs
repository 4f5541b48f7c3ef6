//! Why a check failed, in words a person can verify.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Short stable name of the check that failed, e.g. `hangul`, `truncated`, `anchors`.
    pub check: String,
    /// What was wrong, naming the section, value or paper involved.
    pub message: String,
}

impl Reason {
    pub fn new(check: &str, message: impl Into<String>) -> Self {
        Reason {
            check: check.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
