//! Ranking metrics per query, averaged over queries: precision@k, recall@k,
//! mean average precision (MAP), mean reciprocal rank (MRR) and NDCG@k.
//!
//! [`RankedQueries`] sorts the rows once by (query, score descending, row
//! order) and every metric reads that order. It is hand-written because the
//! tie rules must be scikit-learn's where scikit-learn defines the metric
//! (average precision groups tied scores; `ndcg_score` averages the gain over
//! a tie) and a documented, stable order where it does not.
//!
//! Which queries count:
//!
//! - A query with no positive row is skipped by every metric (recall, AP, RR
//!   and the ideal DCG are undefined for it). [`RankingScore`] reports how
//!   many were skipped.
//! - NDCG@k also skips single-row queries, as scikit-learn's `ndcg_score`
//!   refuses them ("only meaningful when there is more than 1 document").
//! - When no query remains the metric is [`MetricError::NoPositives`].

use super::{MetricError, check_finite, check_lengths, count_positives, descending_key};
use crate::engine::math::ln;

/// One query's rows: `start..end` in the sorted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QuerySpan {
    id: u32,
    start: usize,
    end: usize,
    positives: usize,
}

/// A ranking metric averaged over queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingScore {
    /// Unweighted mean of the per-query values.
    pub mean: f64,
    /// Queries that entered the mean.
    pub queries_scored: usize,
    /// Queries left out (no positive row, or for NDCG a single row).
    pub queries_skipped: usize,
}

/// Rows grouped by query and ranked within each query, sorted once.
///
/// Within a query rows are ordered by score, highest first, and rows with
/// equal scores keep their input order (`-0.0` equals `0.0`). That order is
/// what precision@k, recall@k and MRR read; average precision and NDCG treat
/// each run of tied scores as one block, as scikit-learn does.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedQueries {
    labels: Vec<u8>,
    scores: Vec<f64>,
    spans: Vec<QuerySpan>,
}

impl RankedQueries {
    /// Groups rows by `queries` (query ids need not be contiguous) and ranks
    /// each group.
    ///
    /// # Errors
    ///
    /// [`MetricError::EmptyInput`], [`MetricError::LengthMismatch`],
    /// [`MetricError::InvalidLabel`] or [`MetricError::NonFinite`].
    pub fn new(labels: &[u8], scores: &[f64], queries: &[u32]) -> Result<Self, MetricError> {
        check_lengths(labels.len(), scores.len())?;
        check_lengths(labels.len(), queries.len())?;
        count_positives(labels)?;
        check_finite(scores)?;

        // (query, score key, row): sorting the tuples orders by query, then
        // score descending, then input row, which breaks every remaining tie,
        // so the unstable sort gives the stable order.
        let mut order: Vec<(u32, u64, usize)> = queries
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(row, (&query, &score))| (query, descending_key(score), row))
            .collect();
        order.sort_unstable();
        let labels: Vec<u8> = order.iter().map(|&(_, _, row)| labels[row]).collect();
        let scores: Vec<f64> = order.iter().map(|&(_, _, row)| scores[row]).collect();
        let sorted_queries = order.iter().map(|&(query, _, _)| query);

        let mut spans: Vec<QuerySpan> = Vec::new();
        for (row, (id, label)) in sorted_queries.zip(&labels).enumerate() {
            match spans.last_mut() {
                Some(span) if span.id == id => {
                    span.end = row + 1;
                    span.positives += usize::from(*label);
                }
                _ => spans.push(QuerySpan {
                    id,
                    start: row,
                    end: row + 1,
                    positives: usize::from(*label),
                }),
            }
        }
        Ok(Self {
            labels,
            scores,
            spans,
        })
    }

    /// Number of distinct queries.
    pub fn query_count(&self) -> usize {
        self.spans.len()
    }

    /// Number of queries with at least one positive row.
    pub fn queries_with_positives(&self) -> usize {
        self.spans.iter().filter(|s| s.positives > 0).count()
    }

    /// Averages `value` over the queries `eligible` admits.
    fn average(
        &self,
        eligible: impl Fn(&QuerySpan) -> bool,
        value: impl Fn(&[u8], &[f64], &QuerySpan) -> f64,
    ) -> Result<RankingScore, MetricError> {
        let mut total = 0.0;
        let mut count = 0usize;
        for span in self.spans.iter().filter(|s| eligible(s)) {
            let (Some(labels), Some(scores)) = (
                self.labels.get(span.start..span.end),
                self.scores.get(span.start..span.end),
            ) else {
                continue;
            };
            total += value(labels, scores, span);
            count += 1;
        }
        if count == 0 {
            return Err(MetricError::NoPositives);
        }
        Ok(RankingScore {
            mean: total / count as f64,
            queries_scored: count,
            queries_skipped: self.spans.len() - count,
        })
    }

    /// Precision@k: positives among a query's first `k` rows, divided by `k`
    /// (a query shorter than `k` counts the missing rows as misses).
    ///
    /// # Errors
    ///
    /// [`MetricError::InvalidParameter`] for `k == 0`;
    /// [`MetricError::NoPositives`] when no query has a positive row.
    pub fn precision_at_k(&self, k: usize) -> Result<RankingScore, MetricError> {
        if k == 0 {
            return Err(MetricError::InvalidParameter("k must be at least 1"));
        }
        self.average(
            |s| s.positives > 0,
            |labels, _, _| hits_in_top(labels, k) as f64 / k as f64,
        )
    }

    /// Recall@k: positives among a query's first `k` rows, divided by the
    /// query's positives.
    ///
    /// # Errors
    ///
    /// As [`RankedQueries::precision_at_k`].
    pub fn recall_at_k(&self, k: usize) -> Result<RankingScore, MetricError> {
        if k == 0 {
            return Err(MetricError::InvalidParameter("k must be at least 1"));
        }
        self.average(
            |s| s.positives > 0,
            |labels, _, span| hits_in_top(labels, k) as f64 / span.positives as f64,
        )
    }

    /// Mean average precision: the mean over queries of each query's average
    /// precision over its full ranking, exactly scikit-learn's
    /// `average_precision_score` on that query's rows (tied scores form one
    /// step).
    ///
    /// # Errors
    ///
    /// [`MetricError::NoPositives`] when no query has a positive row.
    pub fn mean_average_precision(&self) -> Result<RankingScore, MetricError> {
        self.average(
            |s| s.positives > 0,
            |labels, scores, span| {
                let p = span.positives as f64;
                let (mut tp, mut seen) = (0usize, 0usize);
                let (mut sum, mut prev_recall) = (0.0, 0.0);
                for block_labels in tie_blocks(labels, scores) {
                    tp += positives_in(block_labels);
                    seen += block_labels.len();
                    let recall = tp as f64 / p;
                    sum += (recall - prev_recall) * (tp as f64 / seen as f64);
                    prev_recall = recall;
                }
                sum.max(0.0)
            },
        )
    }

    /// Mean reciprocal rank: the mean over queries of `1 / rank` of the
    /// first positive row, ranks counted from 1 in the stable order (score
    /// descending, then input order), so among tied rows the earlier input
    /// row ranks first.
    ///
    /// # Errors
    ///
    /// [`MetricError::NoPositives`] when no query has a positive row.
    pub fn mean_reciprocal_rank(&self) -> Result<RankingScore, MetricError> {
        self.average(
            |s| s.positives > 0,
            |labels, _, _| {
                labels
                    .iter()
                    .position(|&l| l == 1)
                    .map_or(0.0, |rank| 1.0 / (rank + 1) as f64)
            },
        )
    }

    /// NDCG@k, as scikit-learn's `ndcg_score(k=k)` on each query: gains are
    /// the 0/1 labels, the discount at rank `r` (from 0) is `1 / log2(r + 2)`
    /// for `r < k` and 0 beyond, and a run of tied scores shares its gain
    /// evenly over its ranks (averaging over every order of the tie). The
    /// ideal DCG puts all positives first.
    ///
    /// # Errors
    ///
    /// [`MetricError::InvalidParameter`] for `k == 0`;
    /// [`MetricError::NoPositives`] when no query has a positive row and at
    /// least two rows.
    pub fn ndcg_at_k(&self, k: usize) -> Result<RankingScore, MetricError> {
        if k == 0 {
            return Err(MetricError::InvalidParameter("k must be at least 1"));
        }
        let ln2 = ln(2.0);
        // Scikit-learn's discount: 1 / (ln(r + 2) / ln 2).
        let discount = move |rank: usize| {
            if rank < k {
                1.0 / (ln(rank as f64 + 2.0) / ln2)
            } else {
                0.0
            }
        };
        self.average(
            |s| s.positives > 0 && s.end - s.start >= 2,
            |labels, scores, span| {
                let mut dcg = 0.0;
                let mut rank = 0usize;
                for block_labels in tie_blocks(labels, scores) {
                    if rank >= k {
                        break; // every later discount is 0
                    }
                    let size = block_labels.len();
                    let gain = positives_in(block_labels) as f64;
                    let discounts: f64 = (rank..rank + size).map(discount).sum();
                    dcg += gain / size as f64 * discounts;
                    rank += size;
                }
                let ideal: f64 = (0..span.positives.min(k)).map(discount).sum();
                dcg / ideal
            },
        )
    }
}

/// Precision@k averaged over queries (see [`RankedQueries::precision_at_k`]).
///
/// # Errors
///
/// Input errors as [`RankedQueries::new`]; then as the method.
pub fn precision_at_k(
    labels: &[u8],
    scores: &[f64],
    queries: &[u32],
    k: usize,
) -> Result<RankingScore, MetricError> {
    RankedQueries::new(labels, scores, queries)?.precision_at_k(k)
}

/// Recall@k averaged over queries (see [`RankedQueries::recall_at_k`]).
///
/// # Errors
///
/// Input errors as [`RankedQueries::new`]; then as the method.
pub fn recall_at_k(
    labels: &[u8],
    scores: &[f64],
    queries: &[u32],
    k: usize,
) -> Result<RankingScore, MetricError> {
    RankedQueries::new(labels, scores, queries)?.recall_at_k(k)
}

/// Mean average precision over queries (see
/// [`RankedQueries::mean_average_precision`]).
///
/// # Errors
///
/// Input errors as [`RankedQueries::new`]; then as the method.
pub fn mean_average_precision(
    labels: &[u8],
    scores: &[f64],
    queries: &[u32],
) -> Result<RankingScore, MetricError> {
    RankedQueries::new(labels, scores, queries)?.mean_average_precision()
}

/// Mean reciprocal rank over queries (see
/// [`RankedQueries::mean_reciprocal_rank`]).
///
/// # Errors
///
/// Input errors as [`RankedQueries::new`]; then as the method.
pub fn mean_reciprocal_rank(
    labels: &[u8],
    scores: &[f64],
    queries: &[u32],
) -> Result<RankingScore, MetricError> {
    RankedQueries::new(labels, scores, queries)?.mean_reciprocal_rank()
}

/// NDCG@k averaged over queries (see [`RankedQueries::ndcg_at_k`]).
///
/// # Errors
///
/// Input errors as [`RankedQueries::new`]; then as the method.
pub fn ndcg_at_k(
    labels: &[u8],
    scores: &[f64],
    queries: &[u32],
    k: usize,
) -> Result<RankingScore, MetricError> {
    RankedQueries::new(labels, scores, queries)?.ndcg_at_k(k)
}

/// Positive rows among `labels` (each 0 or 1).
fn positives_in(labels: &[u8]) -> usize {
    labels.iter().map(|&l| usize::from(l)).sum()
}

/// Positive rows among the first `k`.
fn hits_in_top(labels: &[u8], k: usize) -> usize {
    positives_in(labels.get(..k).unwrap_or(labels))
}

/// Splits a query's labels into runs of equal score (the rows are sorted by
/// score, highest first, so equal scores are adjacent; `-0.0 == 0.0`).
fn tie_blocks<'a>(labels: &'a [u8], scores: &'a [f64]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut start = 0usize;
    #[allow(clippy::float_cmp, reason = "ties are exact equality, as in numpy")]
    scores.chunk_by(|a, b| a == b).map(move |block| {
        let end = start + block.len();
        let block_labels = labels.get(start..end).unwrap_or_default();
        start = end;
        block_labels
    })
}

/// Per-query reference values for small hand-checked cases.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_average_the_gain_in_ndcg() {
        // Scikit-learn's docstring example, binarized: relevance [1, 0, 0, 0, 1]
        // scored [1, 0, 0, 0, 1] ranks both positives first.
        let r = RankedQueries::new(&[1, 0, 0, 0, 1], &[1.0, 0.0, 0.0, 0.0, 1.0], &[7; 5]);
        let ndcg = r.and_then(|r| r.ndcg_at_k(1)).map(|s| s.mean);
        assert_eq!(ndcg, Ok(1.0));
        // One positive tied with one negative at the top: gain 1/2 at rank 0.
        let r = RankedQueries::new(&[1, 0, 0], &[0.5, 0.5, 0.1], &[1; 3]);
        let ndcg = r.and_then(|r| r.ndcg_at_k(1)).map(|s| s.mean);
        assert_eq!(ndcg, Ok(0.5));
    }

    #[test]
    fn mrr_breaks_ties_by_input_order() {
        let r = RankedQueries::new(&[0, 1, 1], &[0.5, 0.5, 0.9], &[1, 1, 2]);
        let mrr = r.and_then(|r| r.mean_reciprocal_rank());
        // Query 1: the negative comes first in input order -> rank 2.
        // Query 2: rank 1.
        assert_eq!(
            mrr,
            Ok(RankingScore {
                mean: 0.75,
                queries_scored: 2,
                queries_skipped: 0
            })
        );
    }

    #[test]
    fn queries_without_positives_are_skipped() {
        let r = RankedQueries::new(&[0, 0, 1, 0], &[0.1, 0.2, 0.3, 0.4], &[5, 5, 6, 6]);
        let map = r.and_then(|r| r.mean_average_precision());
        assert_eq!(
            map,
            Ok(RankingScore {
                mean: 0.5,
                queries_scored: 1,
                queries_skipped: 1
            })
        );
    }
}
