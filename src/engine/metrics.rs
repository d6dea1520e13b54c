//! Evaluation metrics for Casebook's simulated models, matching scikit-learn.
//!
//! Every function here is pure: slices in, a value or a [`MetricError`] out.
//! No function panics on any input; where a metric is undefined (no rows, one
//! class only, a non-finite score) it returns an error instead of `NaN`.
//!
//! The numbers agree with scikit-learn (the versions pinned in
//! `scripts/reference/requirements.txt`) to 1e-9 on the fixtures under
//! `tests/fixtures/metrics/`, including how tied scores are treated:
//!
//! - classification: ROC-AUC, average precision, the ROC and precision-recall
//!   curves, recall at a target precision, and the confusion matrix (with
//!   precision, recall and F1) at a threshold. The curve metrics share one
//!   sort of the scores ([`ThresholdSweep`]); [`binary_report`] computes every
//!   classification and calibration metric from that one sort.
//! - calibration: log loss, normalized entropy, the calibration ratio,
//!   reliability bins and the expected calibration error.
//! - ranking: precision@k, recall@k, MAP, MRR and NDCG@k, per query and
//!   averaged over queries ([`RankedQueries`]).
//! - regression: mean squared and mean absolute error.
//!
//! Labels are `u8` and must be 0 or 1. Sample weights are not supported: the
//! simulator weighs every row equally.
//!
//! These are written by hand rather than taken from a crate for two reasons:
//! Casebook teaches with scikit-learn's exact numbers, so tie handling, clip
//! constants and bin edges must be scikit-learn's to the last detail; and the
//! classification metrics must stay fast on a million scores, which means one
//! sort shared by every curve metric and one pass for everything else
//! (`cargo bench --bench engine -- metrics`; figures in BENCHMARKS.md).
//!
//! # Classification
//!
//! Scores are ranked descending; rows with equal scores form one threshold
//! (they are predicted positive together), exactly as scikit-learn's
//! `roc_curve` and `precision_recall_curve` do. `-0.0` equals `0.0`. A row is
//! predicted positive when its score is at least the threshold.
//!
//! # Calibration
//!
//! Probabilities must lie in `[0, 1]`. Log loss clips them to
//! `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` with the `f64` machine epsilon; bins
//! follow scikit-learn's `calibration_curve(strategy="uniform")`.
//!
//! # Ranking
//!
//! Rows carry a query id; queries need not be contiguous. Queries with no
//! positive row are skipped by every ranking metric; NDCG also skips
//! single-row queries, which scikit-learn's `ndcg_score` rejects.
//!
//! # Regression
//!
//! Plain means over finite `f64` targets and predictions.

mod calibration;
mod classification;
mod ranking;
mod regression;

pub use calibration::{
    LOG_LOSS_EPS, ReliabilityBin, calibration_ratio, expected_calibration_error, log_loss,
    normalized_entropy, reliability_bins,
};
pub use classification::{
    BinaryReport, ConfusionMatrix, OperatingPoint, PrCurve, RocCurve, SweepPoint, ThresholdSweep,
    average_precision, binary_report, confusion_at_threshold, precision_recall_curve,
    recall_at_precision, roc_auc, roc_curve,
};
pub use ranking::{
    RankedQueries, RankingScore, mean_average_precision, mean_reciprocal_rank, ndcg_at_k,
    precision_at_k, recall_at_k,
};
pub use regression::{mean_absolute_error, mean_squared_error};

/// Why a metric could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// There are no rows to evaluate.
    #[error("no rows to evaluate")]
    EmptyInput,
    /// Two inputs that must be parallel differ in length.
    #[error("inputs differ in length: {left} rows vs {right} rows")]
    LengthMismatch {
        /// Length of the first input (the labels or targets).
        left: usize,
        /// Length of the other input.
        right: usize,
    },
    /// A label is neither 0 nor 1.
    #[error("label {value} at row {index} is neither 0 nor 1")]
    InvalidLabel {
        /// Row of the offending label.
        index: usize,
        /// The label found there.
        value: u8,
    },
    /// A score, probability, target or prediction is `NaN` or infinite.
    #[error("value at row {index} is not finite")]
    NonFinite {
        /// Row of the offending value.
        index: usize,
    },
    /// A probability lies outside `[0, 1]`.
    #[error("probability {value} at row {index} is outside [0, 1]")]
    ProbabilityOutOfRange {
        /// Row of the offending probability.
        index: usize,
        /// The value found there.
        value: f64,
    },
    /// Only one class is present, and the metric needs both.
    #[error("only one class is present; the metric needs positives and negatives")]
    SingleClass,
    /// There is no positive row (or, for ranking, no query with one).
    #[error("no positive rows; the metric needs at least one")]
    NoPositives,
    /// A parameter such as `k`, `n_bins` or a target precision is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
}

/// Checks that two parallel inputs are non-empty and of equal length.
fn check_lengths(left: usize, right: usize) -> Result<usize, MetricError> {
    if left != right {
        return Err(MetricError::LengthMismatch { left, right });
    }
    if left == 0 {
        return Err(MetricError::EmptyInput);
    }
    Ok(left)
}

/// Checks that every label is 0 or 1 and returns the number of positives.
fn count_positives(labels: &[u8]) -> Result<u64, MetricError> {
    let mut positives = 0u64;
    for (index, &value) in labels.iter().enumerate() {
        match value {
            0 => {}
            1 => positives += 1,
            _ => return Err(MetricError::InvalidLabel { index, value }),
        }
    }
    Ok(positives)
}

/// Checks that every value is finite.
fn check_finite(values: &[f64]) -> Result<(), MetricError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite { index }),
        None => Ok(()),
    }
}

/// Validates binary labels against scores: equal non-zero lengths, labels in
/// {0, 1}, finite scores. Returns `(rows, positives)`. One pass; the first
/// offending row is reported.
fn check_binary(labels: &[u8], scores: &[f64]) -> Result<(u64, u64), MetricError> {
    check_binary_with(labels, scores, |index, value| {
        if value.is_finite() {
            Ok(())
        } else {
            Err(MetricError::NonFinite { index })
        }
    })
}

/// Validates binary labels against probabilities (finite, within `[0, 1]`).
/// Returns `(rows, positives)`. One pass; the first offending row is
/// reported.
fn check_binary_probabilities(labels: &[u8], probs: &[f64]) -> Result<(u64, u64), MetricError> {
    check_binary_with(labels, probs, |index, value| {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else if value.is_finite() {
            Err(MetricError::ProbabilityOutOfRange { index, value })
        } else {
            Err(MetricError::NonFinite { index })
        }
    })
}

/// Shared body of [`check_binary`] and [`check_binary_probabilities`].
fn check_binary_with(
    labels: &[u8],
    values: &[f64],
    check_value: impl Fn(usize, f64) -> Result<(), MetricError>,
) -> Result<(u64, u64), MetricError> {
    let rows = check_lengths(labels.len(), values.len())?;
    let mut positives = 0u64;
    for (index, (&label, &value)) in labels.iter().zip(values).enumerate() {
        if label > 1 {
            return Err(MetricError::InvalidLabel {
                index,
                value: label,
            });
        }
        positives += u64::from(label);
        check_value(index, value)?;
    }
    Ok((rows as u64, positives))
}

/// The sign bit of an `f64`.
const SIGN: u64 = 1 << 63;

/// Maps a finite score to a `u64` whose ascending order is the score's
/// descending order. `-0.0` maps like `0.0`, so the two tie, as in `numpy`.
///
/// Sorting plain integers keeps the single sort fast: no comparator closure
/// and no indirection through an index array.
#[inline]
fn descending_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    let ascending = if bits & SIGN == 0 { bits | SIGN } else { !bits };
    !ascending
}

/// Inverts [`descending_key`].
#[inline]
fn score_from_key(key: u64) -> f64 {
    let ascending = !key;
    let bits = if ascending & SIGN == 0 {
        !ascending
    } else {
        ascending & !SIGN
    };
    f64::from_bits(bits)
}
