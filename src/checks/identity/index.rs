//! The batch's abstracts as an inverted index, so contrasting a summary with every abstract of a run
//! costs what the summary's rarer terms reach rather than the size of the batch.
//!
//! Terms are interned once (`u32` ids); each abstract keeps its sorted term ids and each term the
//! abstracts holding it. A search evaluates exactly (the same arithmetic as `Fit::measure`) only the
//! abstracts that could still reach the bar, MaxScore-style: terms are visited cheapest first
//! (few holders, much weight), and once the weight of the terms not yet visited cannot lift an unseen
//! abstract to the bar, the rest are never looked at.

use std::collections::{HashMap, HashSet};

use super::features::SummaryFeatures;

/// Coverage is a share in 0..=1 summed in a different order for bounds than for exact values; this
/// slack keeps rounding from pruning an abstract that exactly reaches the bar.
const BOUND_SLACK: f64 = 1e-9;

#[derive(Debug, Clone, Default)]
pub(crate) struct TermIndex {
    vocabulary: HashMap<String, u32>,
    /// By term id: the term (for measuring a document beyond its coverage).
    keys: Vec<String>,
    /// By term id: the documents holding it, ascending.
    postings: Vec<Vec<u32>>,
    /// By document: its term ids, sorted.
    documents: Vec<Vec<u32>>,
}

/// A summary's terms as the index knows them, in the summary's own term order.
pub(crate) struct Query<'a> {
    summary: &'a SummaryFeatures,
    /// Aligned with `summary.terms`; `None` when no document of the batch holds the term.
    ids: Vec<Option<u32>>,
}

/// What a search found: the best document it evaluated, and a ceiling on every other document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Search {
    /// (document, exact coverage); on equal coverage the later document of the batch.
    pub best: Option<(usize, f64)>,
    /// No document other than `best` and the excluded ones has a higher coverage than this.
    pub others_at_most: f64,
}

impl TermIndex {
    /// Adds a document; returns its number, or `None` once `u32` numbering is exhausted (a batch that
    /// size would not fit in memory anyway).
    pub fn add(&mut self, terms: impl IntoIterator<Item = String>) -> Option<usize> {
        let document = u32::try_from(self.documents.len()).ok()?;
        let mut ids = Vec::new();
        for term in terms {
            ids.push(self.intern(term)?);
        }
        ids.sort_unstable();
        ids.dedup();
        for id in &ids {
            self.postings[*id as usize].push(document);
        }
        self.documents.push(ids);
        Some(self.documents.len() - 1)
    }

    fn intern(&mut self, term: String) -> Option<u32> {
        if let Some(id) = self.vocabulary.get(&term) {
            return Some(*id);
        }
        let id = u32::try_from(self.postings.len()).ok()?;
        self.keys.push(term.clone());
        self.vocabulary.insert(term, id);
        self.postings.push(Vec::new());
        Some(id)
    }

    pub fn query<'a>(&self, summary: &'a SummaryFeatures) -> Query<'a> {
        let ids = summary
            .terms
            .iter()
            .map(|(key, _, _)| self.vocabulary.get(key).copied())
            .collect();
        Query { summary, ids }
    }

    /// The terms of `document`.
    pub fn terms_of(&self, document: usize) -> impl Iterator<Item = &str> {
        self.documents[document]
            .iter()
            .map(|id| self.keys[*id as usize].as_str())
    }

    /// Coverage of `document` computed exactly as `Fit::measure` does (same terms, same order).
    pub fn coverage(&self, query: &Query, document: usize) -> f64 {
        let terms = &self.documents[document];
        let mut matched = 0.0;
        for ((_, _, weight), id) in query.summary.terms.iter().zip(&query.ids) {
            if id.is_some_and(|id| terms.binary_search(&id).is_ok()) {
                matched += weight;
            }
        }
        matched / query.summary.coverage_denominator()
    }

    /// The best-covered document not in `exclude`, exact whenever some document reaches `bar`;
    /// documents that cannot reach `bar` (nor the best found so far) are never evaluated.
    pub fn best_fit(&self, query: &Query, exclude: &[usize], bar: f64) -> Search {
        let order = self.visiting_order(query);
        let denominator = query.summary.coverage_denominator();
        // remaining[k]: the coverage the terms from order[k] on can still add to an unseen document.
        let mut remaining = vec![0.0; order.len() + 1];
        for k in (0..order.len()).rev() {
            remaining[k] = remaining[k + 1] + order[k].1 / denominator;
        }
        let mut evaluated: HashSet<u32> = HashSet::new();
        let mut best: Option<(usize, f64)> = None;
        let mut others_at_most: f64 = 0.0;
        for (k, (id, _)) in order.iter().enumerate() {
            let needed = best.map_or(bar, |(_, cov)| cov.max(bar));
            if remaining[k] < needed - BOUND_SLACK {
                // Rounded up by the slack: the bound was summed in another order than exact values.
                others_at_most = others_at_most.max(remaining[k] + BOUND_SLACK);
                return Search {
                    best,
                    others_at_most,
                };
            }
            for &document in &self.postings[*id as usize] {
                if exclude.contains(&(document as usize)) || !evaluated.insert(document) {
                    continue;
                }
                let coverage = self.coverage(query, document as usize);
                let candidate = (document as usize, coverage);
                match best {
                    Some(current) if !beats(candidate, current) => {
                        others_at_most = others_at_most.max(coverage)
                    }
                    Some(current) => {
                        others_at_most = others_at_most.max(current.1);
                        best = Some(candidate);
                    }
                    None => best = Some(candidate),
                }
            }
        }
        Search {
            best,
            others_at_most,
        }
    }

    /// The summary's terms the batch holds, as (id, weight), cheapest first: few holders per unit
    /// of weight, so the bound on unseen documents falls fastest for the least work.
    fn visiting_order(&self, query: &Query) -> Vec<(u32, f64)> {
        let mut order: Vec<(u32, f64)> = query
            .summary
            .terms
            .iter()
            .zip(&query.ids)
            .filter_map(|((_, _, weight), id)| Some(((*id)?, *weight)))
            .collect();
        order.sort_by(|a, b| {
            let cost =
                |(id, weight): &(u32, f64)| self.postings[*id as usize].len() as f64 / weight;
            cost(a).total_cmp(&cost(b)).then(a.0.cmp(&b.0))
        });
        order
    }
}

/// Higher coverage wins; on a tie the later document (as `Iterator::max_by` picked before).
fn beats(candidate: (usize, f64), current: (usize, f64)) -> bool {
    candidate
        .1
        .total_cmp(&current.1)
        .then(candidate.0.cmp(&current.0))
        .is_gt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(terms: &[(usize, f64)]) -> SummaryFeatures {
        SummaryFeatures::from_terms(
            terms
                .iter()
                .map(|(term, weight)| (format!("t{term}"), format!("T{term}"), *weight))
                .collect(),
        )
    }

    fn index(documents: &[Vec<usize>]) -> TermIndex {
        let mut index = TermIndex::default();
        for terms in documents {
            index.add(terms.iter().map(|t| format!("t{t}")));
        }
        index
    }

    /// Every document evaluated, the best kept as `Iterator::max_by` keeps it (the last of equals).
    fn brute_force(index: &TermIndex, query: &Query, exclude: &[usize]) -> Option<(usize, f64)> {
        (0..index.documents.len())
            .filter(|d| !exclude.contains(d))
            .map(|d| (d, index.coverage(query, d)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    proptest! {
        /// Whenever some document reaches the bar, the pruned search finds exactly the brute-force
        /// best (same document on ties); otherwise everything it does not return is under its ceiling.
        #[test]
        fn pruned_search_agrees_with_evaluating_everything(
            documents in prop::collection::vec(prop::collection::vec(0usize..30, 0..12), 1..40),
            terms in prop::collection::btree_map(0usize..40, prop::sample::select(vec![0.5, 1.0, 2.5, 6.0]), 1..15),
            exclude in prop::collection::vec(0usize..40, 0..3),
            bar in 0.0f64..0.8,
        ) {
            let index = index(&documents);
            let summary = summary(&terms.into_iter().collect::<Vec<_>>());
            let query = index.query(&summary);
            let search = index.best_fit(&query, &exclude, bar);
            let expected = brute_force(&index, &query, &exclude);
            match expected {
                Some((_, cov)) if cov >= bar => prop_assert_eq!(search.best, expected),
                Some((document, cov)) => {
                    let found = search.best.map_or(0.0, |(_, c)| c);
                    prop_assert!(
                        search.best == Some((document, cov)) || cov <= search.others_at_most.max(found),
                        "best {:?} escaped: {:?}", expected, search
                    );
                }
                None => prop_assert_eq!(search.best, None),
            }
        }
    }

    #[test]
    fn a_term_unique_to_one_document_finds_it_without_visiting_the_common_ones() {
        // Document 0 holds the summary's rare term; all hold its common term.
        let mut documents = vec![vec![1, 2]];
        documents.extend((1..500).map(|_| vec![2]));
        let index = index(&documents);
        let summary = summary(&[(1, 6.0), (2, 0.5)]);
        let query = index.query(&summary);
        let search = index.best_fit(&query, &[], 0.5);
        assert_eq!(search.best.map(|(d, _)| d), Some(0));
        // The common term alone cannot lift any other document to the best's coverage.
        assert!(search.others_at_most < search.best.map_or(0.0, |(_, c)| c));
    }

    #[test]
    fn the_excluded_document_is_never_returned() {
        let index = index(&[vec![1, 2], vec![2]]);
        let summary = summary(&[(1, 6.0), (2, 0.5)]);
        let query = index.query(&summary);
        let search = index.best_fit(&query, &[0], 0.0);
        assert_eq!(search.best.map(|(d, _)| d), Some(1));
    }
}
