//! Injected faults: which share of requests goes wrong, and how; drawn from a seeded RNG so a run
//! with the same seed and the same request order sees the same faults.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Share (0.0..=1.0) of requests answered with each fault; the rest are answered correctly.
/// The shares must add up to at most 1.0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// HTTP 429 `rate_limit_exceeded` with `Retry-After` (see [`crate::Builder::retry_after`]).
    pub rate_limited: f64,
    /// HTTP 500, 502 or 503 (equally likely).
    pub server_error: f64,
    /// The connection is dropped without an answer.
    pub reset: f64,
    /// No answer: the request is held (see [`crate::Builder::hold`]), then the connection dropped.
    pub timeout: f64,
    /// HTTP 200 whose body is cut-off JSON.
    pub malformed: f64,
    /// HTTP 200 with half an answer and `finish_reason: "length"`.
    pub truncated: f64,
    /// HTTP 200 with `content: ""`.
    pub empty: f64,
    /// Share of PAPERS (not requests) whose every answer is a fluent, well-formed summary of another
    /// paper: the identity checks' job. Decided once per paper from the seed, so repairs do not fix it.
    pub wrong_paper: f64,
    /// Share of papers whose every answer is correct but carries a link to a tracker the paper never
    /// gave: the links check's job.
    pub linked: f64,
}

/// What a paper's answers are, when a correct answer is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaperAnswer {
    Correct,
    WrongPaper,
    Linked,
}

/// One request's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    RateLimited,
    ServerError(u16),
    Reset,
    Timeout,
    Malformed,
    Truncated,
    Empty,
}

impl Faults {
    fn shares(&self) -> [(&'static str, f64); 7] {
        [
            ("rate_limited", self.rate_limited),
            ("server_error", self.server_error),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("malformed", self.malformed),
            ("truncated", self.truncated),
            ("empty", self.empty),
        ]
    }

    /// Every share within 0..=1 and their sums (per request, per paper) at most 1.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, share) in self
            .shares()
            .into_iter()
            .chain([("wrong_paper", self.wrong_paper), ("linked", self.linked)])
        {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("fault share {name} = {share} is not within 0..=1"));
            }
        }
        let total: f64 = self.shares().iter().map(|(_, s)| s).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("fault shares add up to {total}, more than 1"));
        }
        if self.wrong_paper + self.linked > 1.0 + 1e-9 {
            return Err("wrong_paper and linked add up to more than 1".to_string());
        }
        Ok(())
    }

    /// The kind of answer `paper` always gets (a stable draw from `seed` and the paper's ID).
    pub(crate) fn answer_for(&self, paper: &str, seed: u64) -> PaperAnswer {
        // FNV-1a over the seed and the ID, then mixed: stable across runs and platforms.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in seed.to_le_bytes().iter().chain(paper.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // FNV's high bits barely move between IDs that differ in one digit; a splitmix64
        // finish spreads them before the top 53 bits become the draw.
        hash ^= hash >> 30;
        hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        hash ^= hash >> 27;
        hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
        hash ^= hash >> 31;
        let draw = (hash >> 11) as f64 / (1u64 << 53) as f64;
        if draw < self.wrong_paper {
            PaperAnswer::WrongPaper
        } else if draw < self.wrong_paper + self.linked {
            PaperAnswer::Linked
        } else {
            PaperAnswer::Correct
        }
    }
}

/// Draws each request's fault from a seeded RNG.
pub(crate) struct FaultDice {
    faults: Faults,
    rng: StdRng,
}

impl FaultDice {
    pub(crate) fn new(faults: Faults, seed: u64) -> Self {
        FaultDice {
            faults,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `None`: answer correctly.
    pub(crate) fn roll(&mut self) -> Option<Fault> {
        let draw: f64 = self.rng.random();
        let f = &self.faults;
        let ladder = [
            (f.rate_limited, Fault::RateLimited),
            (f.server_error, Fault::ServerError(0)),
            (f.reset, Fault::Reset),
            (f.timeout, Fault::Timeout),
            (f.malformed, Fault::Malformed),
            (f.truncated, Fault::Truncated),
            (f.empty, Fault::Empty),
        ];
        let mut upto = 0.0;
        for (share, fault) in ladder {
            upto += share;
            if draw < upto {
                return Some(match fault {
                    Fault::ServerError(_) => {
                        Fault::ServerError([500, 502, 503][self.rng.random_range(0..3usize)])
                    }
                    other => other,
                });
            }
        }
        None
    }

    /// A value in `min..=max`, for random latency.
    pub(crate) fn between(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            min
        } else {
            self.rng.random_range(min..=max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_validated() {
        assert!(Faults::default().validate().is_ok());
        let too_much = Faults {
            rate_limited: 0.6,
            reset: 0.6,
            ..Faults::default()
        };
        assert!(too_much.validate().is_err());
        let negative = Faults {
            empty: -0.1,
            ..Faults::default()
        };
        assert!(negative
            .validate()
            .is_err_and(|e| e.contains("empty = -0.1")));
    }

    #[test]
    fn paper_answers_are_stable_per_paper_and_roughly_at_their_share() {
        let faults = Faults {
            wrong_paper: 0.1,
            linked: 0.05,
            ..Faults::default()
        };
        let ids: Vec<String> = (1..=2000).map(|i| format!("2411.{i:05}")).collect();
        let kinds: Vec<PaperAnswer> = ids.iter().map(|id| faults.answer_for(id, 7)).collect();
        assert_eq!(
            kinds,
            ids.iter()
                .map(|id| faults.answer_for(id, 7))
                .collect::<Vec<_>>()
        );
        let wrong = kinds
            .iter()
            .filter(|k| **k == PaperAnswer::WrongPaper)
            .count();
        let linked = kinds.iter().filter(|k| **k == PaperAnswer::Linked).count();
        assert!((140..260).contains(&wrong), "{wrong} of 2000");
        assert!((60..140).contains(&linked), "{linked} of 2000");
    }

    #[test]
    fn same_seed_same_faults_and_rates_are_roughly_kept() {
        let faults = Faults {
            rate_limited: 0.2,
            server_error: 0.1,
            timeout: 0.05,
            ..Faults::default()
        };
        let rolls = |seed| {
            let mut dice = FaultDice::new(faults, seed);
            (0..2000).map(|_| dice.roll()).collect::<Vec<_>>()
        };
        let first = rolls(7);
        assert_eq!(first, rolls(7));
        assert_ne!(first, rolls(8));
        let limited = first
            .iter()
            .filter(|f| **f == Some(Fault::RateLimited))
            .count();
        assert!((300..500).contains(&limited), "{limited} of 2000");
        assert!(first.iter().all(|f| !matches!(f, Some(Fault::Reset))));
        assert!(first
            .iter()
            .any(|f| matches!(f, Some(Fault::ServerError(502)))));
    }
}
