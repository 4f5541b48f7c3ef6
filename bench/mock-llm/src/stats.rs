//! What the mock counted: requests per paper, answers delivered, and how each request was answered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything counted since the server started (also served as JSON by `GET /stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Chat requests received (any outcome).
    pub requests: u64,
    /// Correct summaries answered with HTTP 200 (what a paying client would be billed for in full).
    pub delivered: u64,
    pub outcomes: Outcomes,
    /// Per arXiv ID found in the request's first user message (`"unknown"` when none).
    pub papers: BTreeMap<String, PaperStats>,
}

/// How requests were answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    /// Correct summaries (HTTP 200, `finish_reason: "stop"`).
    pub ok: u64,
    /// 429s from the requests/min or tokens/min limits.
    pub limited: u64,
    /// 429s injected by [`crate::Faults::rate_limited`].
    pub rate_limited: u64,
    /// Injected 500/502/503.
    pub server_errors: u64,
    pub resets: u64,
    pub timeouts: u64,
    pub malformed: u64,
    pub truncated: u64,
    pub empty: u64,
    /// Well-formed answers about another paper ([`crate::Faults::wrong_paper`]).
    pub wrong_paper: u64,
    /// Correct answers carrying a tracker link ([`crate::Faults::linked`]).
    pub linked: u64,
    /// Requests the mock could not read (not JSON, no paper in the prompt): HTTP 400.
    pub bad_requests: u64,
}

/// One paper's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperStats {
    /// Chat requests about this paper (first asks, retries and repairs).
    pub requests: u64,
    /// Correct summaries delivered for it.
    pub delivered: u64,
    /// Requests received after a correct summary had already been delivered for it.
    pub requests_after_delivery: u64,
}

impl Stats {
    /// Counts a request about `paper`; call before answering it.
    pub(crate) fn request(&mut self, paper: &str) {
        self.requests += 1;
        let entry = self.papers.entry(paper.to_string()).or_default();
        entry.requests += 1;
        if entry.delivered > 0 {
            entry.requests_after_delivery += 1;
        }
    }

    pub(crate) fn delivered(&mut self, paper: &str) {
        self.delivered += 1;
        self.outcomes.ok += 1;
        self.papers.entry(paper.to_string()).or_default().delivered += 1;
    }

    /// Papers asked about more than once after their summary was delivered.
    pub fn paid_twice(&self) -> Vec<&str> {
        self.papers
            .iter()
            .filter(|(_, p)| p.delivered > 1)
            .map(|(id, _)| id.as_str())
            .collect()
    }
}
