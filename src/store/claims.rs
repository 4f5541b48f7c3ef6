//! Per-paper claims with a lease: before asking the model, a run claims the paper; another run (or a
//! manual `summarize`) sees the claim and leaves the paper alone; the holder renews its leases while
//! it works and releases each claim in the transaction that records the paper's result. A crashed
//! run's claims expire and are taken over. Claiming takes the next N papers of a list at once, in one
//! transaction: the same call serves one run or several workers.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{RunId, Store, StoreError};
use crate::paper::{ArxivId, SummaryKey};

/// A paper a run wants to summarize, with the key its summary would be stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: ArxivId,
    pub key: SummaryKey,
}

/// What claiming one paper gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This run holds the paper now: ask the model.
    Claimed,
    /// Its current summary already has this key (another run finished it since the list was read).
    Done,
    /// Another run holds a live claim on it.
    Elsewhere(RunId),
}

impl Store {
    /// Claims candidates in order until `want` are claimed; returns what each examined candidate
    /// gave (those after the last one claimed are not examined). With `force`, done papers are
    /// claimed too.
    pub fn claim_next(
        &self,
        run: RunId,
        candidates: &[Candidate],
        want: usize,
        lease: Duration,
        force: bool,
    ) -> Result<Vec<(ArxivId, Claim)>, StoreError> {
        let operation = format!("claiming papers for run {run}");
        let sql = self.sql_error(&operation);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sql_error(&operation))?;
        let (now, until) = (timestamp(Duration::ZERO), timestamp(lease));
        let mut examined = Vec::new();
        let mut claimed = 0;
        for candidate in candidates {
            if claimed == want {
                break;
            }
            let claim = claim_one(&tx, run, candidate, &now, &until, force);
            let claim = match claim {
                Ok(claim) => claim,
                Err(e) => return Err(self.sql_error(&operation)(e)),
            };
            claimed += usize::from(claim == Claim::Claimed);
            examined.push((candidate.id.clone(), claim));
        }
        tx.commit().map_err(sql)?;
        Ok(examined)
    }

    /// Extends every lease `run` holds to `lease` from now; returns how many it holds.
    pub fn renew_claims(&self, run: RunId, lease: Duration) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE claims SET lease_until = ?2 WHERE run = ?1",
                params![run.0, timestamp(lease)],
            )
            .map_err(self.sql_error(format!("renewing the claims of run {run}")))
    }

    /// Gives up every claim `run` still holds (papers it did not get to).
    pub fn release_claims(&self, run: RunId) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM claims WHERE run = ?1", [run.0])
            .map(drop)
            .map_err(self.sql_error(format!("releasing the claims of run {run}")))
    }
}

fn claim_one(
    tx: &Transaction<'_>,
    run: RunId,
    candidate: &Candidate,
    now: &str,
    until: &str,
    force: bool,
) -> rusqlite::Result<Claim> {
    let id = candidate.id.as_str();
    if !force && is_done(tx, id, &candidate.key)? {
        return Ok(Claim::Done);
    }
    let taken = tx.execute(
        "INSERT INTO claims (paper, run, claimed_at, lease_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (paper) DO UPDATE SET run = excluded.run, claimed_at = excluded.claimed_at,
            lease_until = excluded.lease_until
         WHERE claims.lease_until < excluded.claimed_at OR claims.run = excluded.run",
        params![id, run.0, now, until],
    )?;
    if taken == 1 {
        return Ok(Claim::Claimed);
    }
    let holder: Option<i64> = tx
        .query_row("SELECT run FROM claims WHERE paper = ?1", [id], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(holder.map_or(Claim::Claimed, |holder| Claim::Elsewhere(RunId(holder))))
}

/// The paper's current summary has this key and passed or was flagged, or a person decided on it
/// (approved, rejected or wrote it: only `--force` replaces that).
fn is_done(tx: &Transaction<'_>, id: &str, key: &SummaryKey) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS (
            SELECT 1 FROM current c JOIN attempts a ON a.id = c.attempt
            WHERE c.paper = ?1
              AND (a.kind <> 'model'
                   OR (a.abstract_hash = ?2 AND a.prompt_version = ?3 AND a.model = ?4
                       AND a.status IN ('ok', 'flagged'))))",
        params![id, key.abstract_hash, key.prompt_version, key.model],
        |row| row.get(0),
    )
}

/// `offset` from now, in the store's timestamp format (which sorts as text).
fn timestamp(offset: Duration) -> String {
    let offset = chrono::Duration::from_std(offset).unwrap_or(chrono::Duration::MAX);
    Utc::now()
        .checked_add_signed(offset)
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
