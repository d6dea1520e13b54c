//! Metrics of predicted probabilities: log loss, normalized entropy, the
//! calibration ratio, reliability bins and the expected calibration error.
//!
//! Each is one pass over the rows. They are written by hand to carry
//! scikit-learn's exact constants: the log-loss clip `eps` and the bin edges
//! of `calibration_curve(strategy="uniform")`.

use super::{MetricError, check_binary_probabilities};
use crate::engine::math::ln;

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` before the
/// logarithm: the machine epsilon of `f64` (2^-52), as scikit-learn's
/// `log_loss` does since 1.5 (`np.finfo(float64).eps`).
pub const LOG_LOSS_EPS: f64 = f64::EPSILON;

/// Largest bin count accepted, so a wild `n_bins` cannot exhaust memory.
const MAX_BINS: usize = 1 << 20;

/// Mean log loss (cross-entropy), as scikit-learn's `log_loss` on binary
/// labels and the positive-class probability.
///
/// Each row loses `-ln(p)` if positive and `-ln(1 - p)` if negative, where
/// the probability of the true class is clipped to
/// `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]`, so a confident mistake costs about 36
/// rather than infinity. A single class is allowed (scikit-learn needs
/// `labels=[0, 1]` for that).
///
/// # Errors
///
/// [`MetricError::EmptyInput`], [`MetricError::LengthMismatch`],
/// [`MetricError::InvalidLabel`], [`MetricError::NonFinite`] or
/// [`MetricError::ProbabilityOutOfRange`].
pub fn log_loss(labels: &[u8], probs: &[f64]) -> Result<f64, MetricError> {
    let (rows, _) = check_binary_probabilities(labels, probs)?;
    Ok(log_loss_valid(labels, probs, rows))
}

/// [`log_loss`] on inputs already validated.
pub(super) fn log_loss_valid(labels: &[u8], probs: &[f64], rows: u64) -> f64 {
    let mut total = 0.0;
    for (&label, &p) in labels.iter().zip(probs) {
        let p_true = if label == 1 { p } else { 1.0 - p };
        total -= ln(p_true.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS));
    }
    total / rows as f64
}

/// Normalized entropy (He et al., 2014, "Practical Lessons from Predicting
/// Clicks on Ads at Facebook"): the mean [`log_loss`] divided by the entropy
/// of the background positive rate `p`, `-(p ln p + (1 - p) ln(1 - p))`.
///
/// 1.0 means no better than always predicting the base rate; lower is better.
///
/// # Errors
///
/// As [`log_loss`], and [`MetricError::SingleClass`] unless both classes are
/// present (the base-rate entropy would be 0).
pub fn normalized_entropy(labels: &[u8], probs: &[f64]) -> Result<f64, MetricError> {
    let (rows, positives) = check_binary_probabilities(labels, probs)?;
    normalized_entropy_from(log_loss_valid(labels, probs, rows), positives, rows)
}

/// [`normalized_entropy`] from an already computed mean log loss.
pub(super) fn normalized_entropy_from(
    log_loss: f64,
    positives: u64,
    rows: u64,
) -> Result<f64, MetricError> {
    if positives == 0 || positives == rows {
        return Err(MetricError::SingleClass);
    }
    let p = positives as f64 / rows as f64;
    let entropy = -(p * ln(p) + (1.0 - p) * ln(1.0 - p));
    Ok(log_loss / entropy)
}

/// Calibration ratio ("calibration in the large"): the mean predicted
/// probability over the observed positive rate. 1.0 is calibrated on
/// average; above 1 over-predicts.
///
/// # Errors
///
/// As [`log_loss`], and [`MetricError::NoPositives`] when no row is positive.
pub fn calibration_ratio(labels: &[u8], probs: &[f64]) -> Result<f64, MetricError> {
    let (rows, positives) = check_binary_probabilities(labels, probs)?;
    calibration_ratio_valid(probs, positives, rows)
}

/// [`calibration_ratio`] on inputs already validated.
pub(super) fn calibration_ratio_valid(
    probs: &[f64],
    positives: u64,
    rows: u64,
) -> Result<f64, MetricError> {
    if positives == 0 {
        return Err(MetricError::NoPositives);
    }
    let mean_predicted = probs.iter().sum::<f64>() / rows as f64;
    Ok(mean_predicted / (positives as f64 / rows as f64))
}

/// One equal-width bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge of the bin.
    pub lower: f64,
    /// Upper edge of the bin (inclusive).
    pub upper: f64,
    /// Rows whose probability fell in the bin.
    pub count: u64,
    /// Positive rows among them.
    pub positives: u64,
    /// Mean predicted probability in the bin; `None` when the bin is empty.
    pub mean_predicted: Option<f64>,
    /// Share of positive rows in the bin; `None` when the bin is empty.
    pub observed_rate: Option<f64>,
}

/// Reliability bins: `n_bins` equal-width bins on `[0, 1]`, each with its row
/// count, mean predicted probability and observed positive rate. Empty bins
/// are included, with no means.
///
/// Edges are scikit-learn's `calibration_curve(strategy="uniform")` edges,
/// bit for bit: edge `i` is `i * (1 / n_bins)` (as `np.linspace(0, 1,
/// n_bins + 1)` computes it, so with 10 bins the fourth edge is
/// `0.30000000000000004`), and the last is exactly 1. Bins are closed on the
/// right: a probability equal to an inner edge falls in the bin below it
/// (`np.searchsorted(edges[1:-1], p)`, side left), and 0 falls in the first.
/// For non-empty bins `observed_rate` and `mean_predicted` equal
/// `calibration_curve`'s `prob_true` and `prob_pred`.
///
/// # Errors
///
/// As [`log_loss`], and [`MetricError::InvalidParameter`] unless
/// `1 <= n_bins <= 2^20`.
pub fn reliability_bins(
    labels: &[u8],
    probs: &[f64],
    n_bins: usize,
) -> Result<Vec<ReliabilityBin>, MetricError> {
    check_bin_count(n_bins)?;
    check_binary_probabilities(labels, probs)?;
    Ok(reliability_bins_valid(labels, probs, n_bins))
}

/// Checks `1 <= n_bins <= MAX_BINS`.
pub(super) fn check_bin_count(n_bins: usize) -> Result<(), MetricError> {
    if n_bins == 0 || n_bins > MAX_BINS {
        return Err(MetricError::InvalidParameter(
            "n_bins must lie in 1..=1048576",
        ));
    }
    Ok(())
}

/// [`reliability_bins`] on inputs already validated (`n_bins >= 1`,
/// probabilities in `[0, 1]`).
pub(super) fn reliability_bins_valid(
    labels: &[u8],
    probs: &[f64],
    n_bins: usize,
) -> Vec<ReliabilityBin> {
    let step = 1.0 / n_bins as f64;
    let edges: Vec<f64> = (0..=n_bins)
        .map(|i| if i == n_bins { 1.0 } else { i as f64 * step })
        .collect();
    let mut bins: Vec<ReliabilityBin> = edges
        .windows(2)
        .map(|w| ReliabilityBin {
            lower: w[0],
            upper: w[1],
            count: 0,
            positives: 0,
            mean_predicted: None,
            observed_rate: None,
        })
        .collect();
    // Per-bin (count, positives, sum of probabilities); the sums accumulate
    // in row order, as `np.bincount` does.
    let mut acc = vec![(0u64, 0u64, 0.0f64); n_bins];
    let (edges_s, acc_s) = (edges.as_slice(), acc.as_mut_slice());
    let last = n_bins - 1;
    for (&label, &p) in labels.iter().zip(probs) {
        // The bin is the number of inner edges strictly below `p`. Guess it
        // from `p * n_bins`, then step past any edge the rounding got wrong.
        let mut b = ((p * n_bins as f64) as usize).min(last);
        while b > 0 && edges_s[b] >= p {
            b -= 1;
        }
        while b < last && edges_s[b + 1] < p {
            b += 1;
        }
        let slot = &mut acc_s[b];
        slot.0 += 1;
        slot.1 += u64::from(label);
        slot.2 += p;
    }
    for (bin, &(count, positives, sum)) in bins.iter_mut().zip(acc_s.iter()) {
        bin.count = count;
        bin.positives = positives;
        if count > 0 {
            bin.mean_predicted = Some(sum / count as f64);
            bin.observed_rate = Some(positives as f64 / count as f64);
        }
    }
    bins
}

/// Expected calibration error over `n_bins` equal-width bins: the sum over
/// non-empty bins of `(bin rows / all rows) * |mean predicted - observed
/// rate|`. Bins are those of [`reliability_bins`].
///
/// # Errors
///
/// As [`reliability_bins`].
pub fn expected_calibration_error(
    labels: &[u8],
    probs: &[f64],
    n_bins: usize,
) -> Result<f64, MetricError> {
    let bins = reliability_bins(labels, probs, n_bins)?;
    Ok(ece_from_bins(&bins, labels.len() as u64))
}

/// [`expected_calibration_error`] from already computed bins.
pub(super) fn ece_from_bins(bins: &[ReliabilityBin], rows: u64) -> f64 {
    let rows = rows as f64;
    bins.iter()
        .filter_map(|bin| {
            let gap = (bin.mean_predicted? - bin.observed_rate?).abs();
            Some(bin.count as f64 / rows * gap)
        })
        .sum()
}

/// Hand-checked cases; the fixtures in `tests/` compare against scikit-learn.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_numpy_linspace_edges() {
        let bins = reliability_bins(&[0], &[0.5], 10).unwrap();
        // np.linspace(0, 1, 11)[3] and [6], [7]: i * 0.1, not the decimal.
        assert_eq!(
            bins[3].lower.to_bits(),
            0.300_000_000_000_000_04f64.to_bits()
        );
        assert_eq!(
            bins[6].lower.to_bits(),
            0.600_000_000_000_000_1f64.to_bits()
        );
        assert_eq!(
            bins[7].lower.to_bits(),
            0.700_000_000_000_000_1f64.to_bits()
        );
        assert_eq!(bins[9].upper.to_bits(), 1.0f64.to_bits());
    }

    #[test]
    fn a_probability_on_an_edge_falls_in_the_lower_bin() {
        let probs = [0.0, 0.3, 0.600_000_000_000_000_1, 0.6, 1.0];
        let bins = reliability_bins(&[0; 5], &probs, 10).unwrap();
        let counts: Vec<u64> = bins.iter().map(|b| b.count).collect();
        // 0 -> bin 0; 0.3 < edge 3 -> bin 2; 0.6000000000000001 == edge 6 ->
        // bin 5; 0.6 < edge 6 -> bin 5; 1.0 -> bin 9.
        assert_eq!(counts, [1, 0, 1, 0, 0, 2, 0, 0, 0, 1]);
        let one = reliability_bins(&[1, 0], &[0.0, 1.0], 1).unwrap();
        assert_eq!(one[0].count, 2);
    }

    #[test]
    fn log_loss_clips_to_eps() {
        // A certain, wrong prediction costs -ln(eps) = 52 ln 2, not infinity.
        let loss = log_loss(&[1, 0], &[0.0, 1.0]).unwrap();
        assert!((loss - 52.0 * core::f64::consts::LN_2).abs() < 1e-12);
        let perfect = log_loss(&[1, 0], &[1.0, 0.0]).unwrap();
        assert!(perfect > 0.0 && perfect < 1e-15);
    }

    #[test]
    fn normalized_entropy_of_the_base_rate_is_one() {
        let labels = [1, 0, 0, 0];
        let ne = normalized_entropy(&labels, &[0.25; 4]).unwrap();
        assert!((ne - 1.0).abs() < 1e-15);
        let ratio = calibration_ratio(&labels, &[0.5; 4]).unwrap();
        assert!((ratio - 2.0).abs() < 1e-15);
    }
}
