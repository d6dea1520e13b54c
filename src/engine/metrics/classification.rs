//! Binary classification metrics: ROC-AUC, average precision, ROC and
//! precision-recall curves, recall at a target precision, and the confusion
//! matrix at a threshold.
//!
//! Every curve metric reads one [`ThresholdSweep`]: the scores sorted once,
//! then walked once over their distinct values. Scikit-learn does the same
//! (`confusion_matrix_at_thresholds`); reproducing it by hand keeps its exact
//! tie semantics (rows with equal scores enter the prediction together) and
//! lets Casebook build every curve of a million-row evaluation from a single
//! sort.

use super::calibration::{
    calibration_ratio_valid, check_bin_count, ece_from_bins, log_loss_valid,
    normalized_entropy_from, reliability_bins_valid,
};
use super::{
    MetricError, ReliabilityBin, check_binary, check_binary_probabilities, descending_key,
    score_from_key,
};

/// One distinct score of a [`ThresholdSweep`] and the counts when predicting
/// positive every row scored at least that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// The score; rows scored `>= threshold` are predicted positive.
    pub threshold: f64,
    /// Positive rows predicted positive (cumulative from the top).
    pub true_positives: u64,
    /// Negative rows predicted positive (cumulative from the top).
    pub false_positives: u64,
}

/// The scores sorted once, ready to be swept from the highest down.
///
/// Sweeping yields one [`SweepPoint`] per distinct score with the confusion
/// counts at that threshold: scikit-learn's `confusion_matrix_at_thresholds`.
/// ROC-AUC, average precision, both curves and
/// [`ThresholdSweep::recall_at_precision`] are each one sweep, so one sort
/// serves them all.
///
/// Each class's scores are kept as a sorted array of `u64` keys, and a sweep
/// merges the two. Holding the keys (8 bytes a row) rather than the points
/// (24 bytes a distinct score) keeps a million-row sweep small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdSweep {
    /// Keys of the positive rows, ascending (scores descending).
    pos: Vec<u64>,
    /// Keys of the negative rows, ascending (scores descending).
    neg: Vec<u64>,
}

impl ThresholdSweep {
    /// Sorts the scores once.
    ///
    /// # Errors
    ///
    /// [`MetricError::EmptyInput`], [`MetricError::LengthMismatch`],
    /// [`MetricError::InvalidLabel`] or [`MetricError::NonFinite`].
    pub fn new(labels: &[u8], scores: &[f64]) -> Result<Self, MetricError> {
        let (rows, positives) = check_binary(labels, scores)?;
        Ok(Self::from_valid(labels, scores, rows, positives))
    }

    /// [`ThresholdSweep::new`] on inputs already validated.
    fn from_valid(labels: &[u8], scores: &[f64], rows: u64, positives: u64) -> Self {
        let mut pos: Vec<u64> = Vec::with_capacity(positives as usize);
        let mut neg: Vec<u64> = Vec::with_capacity((rows - positives) as usize);
        for (&label, &score) in labels.iter().zip(scores) {
            if label == 1 {
                pos.push(descending_key(score));
            } else {
                neg.push(descending_key(score));
            }
        }
        // Sorting each class on its own and merging the two is one sort of the
        // rows in total, and each half is a plain `u64` slice.
        pos.sort_unstable();
        neg.sort_unstable();
        Self { pos, neg }
    }

    /// One point per distinct score, highest score first (`.rev()` gives
    /// lowest first).
    pub fn points(&self) -> impl DoubleEndedIterator<Item = SweepPoint> + '_ {
        Sweep {
            pos: &self.pos,
            neg: &self.neg,
            tp: 0,
            fp: 0,
        }
    }

    /// Number of positive rows.
    pub fn positives(&self) -> u64 {
        self.pos.len() as u64
    }

    /// Number of negative rows.
    pub fn negatives(&self) -> u64 {
        self.neg.len() as u64
    }

    /// ROC-AUC and average precision from one sweep: `(twice the ROC area in
    /// units of one positive-negative pair, average precision)`.
    fn areas(&self) -> (u128, f64) {
        let p = self.positives() as f64;
        let mut twice_area: u128 = 0;
        let mut ap = 0.0;
        let mut prev = SweepPoint {
            threshold: f64::INFINITY,
            true_positives: 0,
            false_positives: 0,
        };
        let mut prev_recall = 0.0;
        for point in self.points() {
            let (tp, fp) = (point.true_positives, point.false_positives);
            // Trapezoid: width in negatives times the two heights in positives.
            let width = fp - prev.false_positives;
            twice_area += u128::from(width) * u128::from(tp + prev.true_positives);
            // Step: recall gained times precision at this threshold.
            let recall = tp as f64 / p;
            ap += (recall - prev_recall) * point.precision();
            (prev, prev_recall) = (point, recall);
        }
        (twice_area, ap.max(0.0))
    }

    /// Area under the ROC curve, as scikit-learn's `roc_auc_score`.
    ///
    /// Tied scores form one diagonal step of the curve, so a positive tied
    /// with a negative counts half a correctly ordered pair. The trapezoid
    /// sum is taken in exact integer arithmetic and divided once.
    ///
    /// # Errors
    ///
    /// [`MetricError::SingleClass`] unless both classes are present.
    pub fn roc_auc(&self) -> Result<f64, MetricError> {
        self.require_both_classes()?;
        Ok(self.auc_from(self.areas().0))
    }

    /// Twice the ROC area, in pairs, divided by twice the number of pairs.
    fn auc_from(&self, twice_area: u128) -> f64 {
        twice_area as f64 / (2.0 * self.positives() as f64 * self.negatives() as f64)
    }

    /// `Ok` when both classes are present.
    fn require_both_classes(&self) -> Result<(), MetricError> {
        if self.pos.is_empty() || self.neg.is_empty() {
            Err(MetricError::SingleClass)
        } else {
            Ok(())
        }
    }

    /// `Ok` when at least one row is positive.
    fn require_positives(&self) -> Result<(), MetricError> {
        if self.pos.is_empty() {
            Err(MetricError::NoPositives)
        } else {
            Ok(())
        }
    }

    /// The ROC curve, as scikit-learn's `roc_curve`.
    ///
    /// The first point is `(0, 0)` at threshold `+inf`; then one point per
    /// distinct score, highest first, ending at `(1, 1)`. With
    /// `drop_intermediate` (scikit-learn's default) points collinear with
    /// both neighbours are dropped, which leaves the area unchanged; without
    /// it every distinct score keeps its point.
    ///
    /// # Errors
    ///
    /// [`MetricError::SingleClass`] unless both classes are present.
    pub fn roc_curve(&self, drop_intermediate: bool) -> Result<RocCurve, MetricError> {
        self.require_both_classes()?;
        let (p, n) = (self.positives() as f64, self.negatives() as f64);
        let mut curve = RocCurve::with_capacity(if drop_intermediate {
            0
        } else {
            self.pos.len() + self.neg.len() + 1
        });
        curve.push(
            SweepPoint {
                threshold: f64::INFINITY,
                true_positives: 0,
                false_positives: 0,
            },
            p,
            n,
        );
        // A point is dropped when it lies on a straight line between its
        // neighbours: neither count changes slope there. The first and last
        // points always stay.
        let mut points = self.points();
        let mut prev: Option<SweepPoint> = None;
        let mut cur = points.next();
        while let Some(b) = cur {
            let next = points.next();
            let keep = match (prev, next) {
                (Some(a), Some(c)) if drop_intermediate => {
                    c.false_positives - b.false_positives != b.false_positives - a.false_positives
                        || c.true_positives - b.true_positives
                            != b.true_positives - a.true_positives
                }
                _ => true,
            };
            if keep {
                curve.push(b, p, n);
            }
            (prev, cur) = (Some(b), next);
        }
        Ok(curve)
    }

    /// Average precision, as scikit-learn's `average_precision_score`: the
    /// step-wise sum of `(R_i - R_{i-1}) * P_i` over distinct thresholds, with
    /// no interpolation. Tied scores form one step.
    ///
    /// # Errors
    ///
    /// [`MetricError::NoPositives`] when no row is positive.
    pub fn average_precision(&self) -> Result<f64, MetricError> {
        self.require_positives()?;
        Ok(self.areas().1)
    }

    /// The precision-recall curve, as scikit-learn's `precision_recall_curve`.
    ///
    /// Points run from the lowest threshold to the highest (recall falling),
    /// and a final point `(precision 1, recall 0)` with no threshold closes
    /// the curve, so `thresholds` is one shorter than `precision` and
    /// `recall`. With `drop_intermediate` only the first and last point of
    /// each run of equal recall are kept (scikit-learn's default is `false`).
    ///
    /// # Errors
    ///
    /// [`MetricError::NoPositives`] when no row is positive (recall is
    /// undefined; scikit-learn warns and reports 1).
    pub fn precision_recall_curve(&self, drop_intermediate: bool) -> Result<PrCurve, MetricError> {
        self.require_positives()?;
        let p = self.positives() as f64;
        let mut curve = PrCurve::with_capacity(if drop_intermediate {
            0
        } else {
            self.pos.len() + self.neg.len() + 1
        });
        // Swept lowest threshold first, the order scikit-learn lists. With
        // `drop_intermediate` a point stays when its recall differs from a
        // neighbour's; the first and last points always stay.
        let mut points = self.points().rev();
        let mut prev: Option<SweepPoint> = None;
        let mut cur = points.next();
        while let Some(b) = cur {
            let next = points.next();
            let tp = b.true_positives;
            let keep = match (prev, next) {
                (Some(a), Some(c)) if drop_intermediate => {
                    tp != a.true_positives || c.true_positives != tp
                }
                _ => true,
            };
            if keep {
                curve.precision.push(b.precision());
                curve.recall.push(tp as f64 / p);
                curve.thresholds.push(b.threshold);
            }
            (prev, cur) = (Some(b), next);
        }
        curve.precision.push(1.0);
        curve.recall.push(0.0);
        Ok(curve)
    }

    /// The highest recall among the precision-recall curve's points whose
    /// precision is at least `target`.
    ///
    /// Candidates are every point of
    /// [`precision_recall_curve(false)`](Self::precision_recall_curve),
    /// including the closing `(1, 0)` point, so the answer always exists:
    /// recall 0 with no threshold when no threshold reaches the target. Among
    /// points of equal recall the higher precision wins (it is the higher
    /// threshold).
    ///
    /// # Errors
    ///
    /// [`MetricError::InvalidParameter`] unless `0 <= target <= 1`;
    /// [`MetricError::NoPositives`] when no row is positive.
    pub fn recall_at_precision(&self, target: f64) -> Result<OperatingPoint, MetricError> {
        if !(0.0..=1.0).contains(&target) {
            return Err(MetricError::InvalidParameter(
                "target precision must lie in [0, 1]",
            ));
        }
        self.require_positives()?;
        let mut best = OperatingPoint {
            threshold: None,
            precision: 1.0,
            recall: 0.0,
        };
        // Recall is `tp / positives`, so comparing true positives compares
        // recall exactly.
        let mut best_tp = 0u64;
        for point in self.points() {
            let (tp, precision) = (point.true_positives, point.precision());
            if precision >= target
                && (tp > best_tp || (tp == best_tp && precision > best.precision))
            {
                best_tp = tp;
                best = OperatingPoint {
                    threshold: Some(point.threshold),
                    precision,
                    recall: tp as f64 / self.positives() as f64,
                };
            }
        }
        Ok(best)
    }
}

/// The merge behind [`ThresholdSweep::points`]: walks both sorted key arrays
/// at once, one distinct key at a time, counting each class cumulatively.
/// Swept from the back, a point counts every row not yet left behind.
struct Sweep<'a> {
    /// Positive keys not yet swept, from either end.
    pos: &'a [u64],
    /// Negative keys not yet swept, from either end.
    neg: &'a [u64],
    /// Positives swept from the front.
    tp: u64,
    /// Negatives swept from the front.
    fp: u64,
}

impl Iterator for Sweep<'_> {
    type Item = SweepPoint;

    #[inline]
    fn next(&mut self) -> Option<SweepPoint> {
        let key = match (self.pos.first(), self.neg.first()) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return None,
        };
        while let Some((&k, rest)) = self.pos.split_first() {
            if k != key {
                break;
            }
            self.pos = rest;
            self.tp += 1;
        }
        while let Some((&k, rest)) = self.neg.split_first() {
            if k != key {
                break;
            }
            self.neg = rest;
            self.fp += 1;
        }
        Some(SweepPoint {
            threshold: score_from_key(key),
            true_positives: self.tp,
            false_positives: self.fp,
        })
    }
}

impl DoubleEndedIterator for Sweep<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<SweepPoint> {
        let key = match (self.pos.last(), self.neg.last()) {
            (Some(&a), Some(&b)) => a.max(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return None,
        };
        // Everything not yet left behind is at or above this threshold.
        let point = SweepPoint {
            threshold: score_from_key(key),
            true_positives: self.tp + self.pos.len() as u64,
            false_positives: self.fp + self.neg.len() as u64,
        };
        while let Some((&k, rest)) = self.pos.split_last() {
            if k != key {
                break;
            }
            self.pos = rest;
        }
        while let Some((&k, rest)) = self.neg.split_last() {
            if k != key {
                break;
            }
            self.neg = rest;
        }
        Some(point)
    }
}

impl SweepPoint {
    /// `tp / (tp + fp)`, with the sum taken in `f64` as scikit-learn does;
    /// 0 when `tp` is 0.
    #[inline]
    pub fn precision(&self) -> f64 {
        if self.true_positives == 0 {
            return 0.0;
        }
        let tp = self.true_positives as f64;
        tp / (tp + self.false_positives as f64)
    }
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
/// Sums are formed in `u128` by the callers, so no count can overflow.
fn ratio_or_zero(num: u128, den: u128) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Points of a ROC curve, in scikit-learn's layout: three parallel vectors,
/// thresholds falling from `+inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False positive rate at each point.
    pub fpr: Vec<f64>,
    /// True positive rate at each point.
    pub tpr: Vec<f64>,
    /// Score threshold of each point (predict positive when score >= it); the
    /// first is `+inf`.
    pub thresholds: Vec<f64>,
}

impl RocCurve {
    fn with_capacity(n: usize) -> Self {
        Self {
            fpr: Vec::with_capacity(n),
            tpr: Vec::with_capacity(n),
            thresholds: Vec::with_capacity(n),
        }
    }

    /// Appends a sweep point, as rates over `positives` and `negatives`.
    fn push(&mut self, point: SweepPoint, positives: f64, negatives: f64) {
        self.fpr.push(point.false_positives as f64 / negatives);
        self.tpr.push(point.true_positives as f64 / positives);
        self.thresholds.push(point.threshold);
    }
}

/// Points of a precision-recall curve, in scikit-learn's layout: thresholds
/// rising, recall falling, and `thresholds` one shorter than the others
/// because the closing `(1, 0)` point has none.
#[derive(Debug, Clone, PartialEq)]
pub struct PrCurve {
    /// Precision at each point.
    pub precision: Vec<f64>,
    /// Recall at each point.
    pub recall: Vec<f64>,
    /// Score threshold of each point but the last.
    pub thresholds: Vec<f64>,
}

impl PrCurve {
    fn with_capacity(n: usize) -> Self {
        Self {
            precision: Vec::with_capacity(n),
            recall: Vec::with_capacity(n),
            thresholds: Vec::with_capacity(n),
        }
    }
}

/// One point of the precision-recall trade-off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// Predict positive when score >= this; `None` for the closing point of
    /// the curve, which predicts nothing positive.
    pub threshold: Option<f64>,
    /// Precision at the point.
    pub precision: f64,
    /// Recall at the point.
    pub recall: f64,
}

/// Counts of a binary prediction against the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfusionMatrix {
    /// Negatives predicted negative.
    pub true_negatives: u64,
    /// Negatives predicted positive.
    pub false_positives: u64,
    /// Positives predicted negative.
    pub false_negatives: u64,
    /// Positives predicted positive.
    pub true_positives: u64,
}

impl ConfusionMatrix {
    /// `tp / (tp + fp)`; 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        let [_, fp, _, tp] = self.wide();
        ratio_or_zero(tp, tp + fp)
    }

    /// `tp / (tp + fn)`; 0 when there are no positives.
    pub fn recall(&self) -> f64 {
        let [_, _, fn_, tp] = self.wide();
        ratio_or_zero(tp, tp + fn_)
    }

    /// `2 tp / (2 tp + fp + fn)`, scikit-learn's F1; 0 when that is `0 / 0`.
    pub fn f1(&self) -> f64 {
        let [_, fp, fn_, tp] = self.wide();
        ratio_or_zero(2 * tp, 2 * tp + fp + fn_)
    }

    /// Share of rows predicted correctly.
    pub fn accuracy(&self) -> f64 {
        let [tn, fp, fn_, tp] = self.wide();
        ratio_or_zero(tp + tn, tp + tn + fp + fn_)
    }

    /// `[tn, fp, fn, tp]` widened so that sums cannot overflow.
    fn wide(&self) -> [u128; 4] {
        [
            self.true_negatives,
            self.false_positives,
            self.false_negatives,
            self.true_positives,
        ]
        .map(u128::from)
    }
}

/// The confusion matrix when predicting positive every row whose score is at
/// least `threshold`.
///
/// # Errors
///
/// [`MetricError::InvalidParameter`] for a `NaN` threshold (infinite ones are
/// allowed); otherwise [`MetricError::EmptyInput`],
/// [`MetricError::LengthMismatch`], [`MetricError::InvalidLabel`] or
/// [`MetricError::NonFinite`].
pub fn confusion_at_threshold(
    labels: &[u8],
    scores: &[f64],
    threshold: f64,
) -> Result<ConfusionMatrix, MetricError> {
    if threshold.is_nan() {
        return Err(MetricError::InvalidParameter("threshold is NaN"));
    }
    check_binary(labels, scores)?;
    Ok(confusion_valid(labels, scores, threshold))
}

/// [`confusion_at_threshold`] on inputs already validated.
fn confusion_valid(labels: &[u8], scores: &[f64], threshold: f64) -> ConfusionMatrix {
    // Branch-free counts: labels are 0 or 1.
    let (mut positives, mut predicted, mut hits) = (0u64, 0u64, 0u64);
    for (&label, &score) in labels.iter().zip(scores) {
        let label = u64::from(label);
        let predict = u64::from(score >= threshold);
        positives += label;
        predicted += predict;
        hits += label & predict;
    }
    let rows = labels.len() as u64;
    ConfusionMatrix {
        true_negatives: rows - positives - (predicted - hits),
        false_positives: predicted - hits,
        false_negatives: positives - hits,
        true_positives: hits,
    }
}

/// ROC-AUC, as scikit-learn's `roc_auc_score` (see [`ThresholdSweep::roc_auc`]).
///
/// # Errors
///
/// Input errors as [`ThresholdSweep::new`]; [`MetricError::SingleClass`]
/// unless both classes are present.
pub fn roc_auc(labels: &[u8], scores: &[f64]) -> Result<f64, MetricError> {
    ThresholdSweep::new(labels, scores)?.roc_auc()
}

/// The ROC curve, as scikit-learn's `roc_curve` (see
/// [`ThresholdSweep::roc_curve`]).
///
/// # Errors
///
/// Input errors as [`ThresholdSweep::new`]; [`MetricError::SingleClass`]
/// unless both classes are present.
pub fn roc_curve(
    labels: &[u8],
    scores: &[f64],
    drop_intermediate: bool,
) -> Result<RocCurve, MetricError> {
    ThresholdSweep::new(labels, scores)?.roc_curve(drop_intermediate)
}

/// Average precision (PR-AUC), as scikit-learn's `average_precision_score`
/// (see [`ThresholdSweep::average_precision`]).
///
/// # Errors
///
/// Input errors as [`ThresholdSweep::new`]; [`MetricError::NoPositives`].
pub fn average_precision(labels: &[u8], scores: &[f64]) -> Result<f64, MetricError> {
    ThresholdSweep::new(labels, scores)?.average_precision()
}

/// The precision-recall curve, as scikit-learn's `precision_recall_curve`
/// (see [`ThresholdSweep::precision_recall_curve`]).
///
/// # Errors
///
/// Input errors as [`ThresholdSweep::new`]; [`MetricError::NoPositives`].
pub fn precision_recall_curve(
    labels: &[u8],
    scores: &[f64],
    drop_intermediate: bool,
) -> Result<PrCurve, MetricError> {
    ThresholdSweep::new(labels, scores)?.precision_recall_curve(drop_intermediate)
}

/// The highest recall reachable with precision at least `target` (see
/// [`ThresholdSweep::recall_at_precision`]).
///
/// # Errors
///
/// Input errors as [`ThresholdSweep::new`]; [`MetricError::InvalidParameter`]
/// or [`MetricError::NoPositives`].
pub fn recall_at_precision(
    labels: &[u8],
    scores: &[f64],
    target: f64,
) -> Result<OperatingPoint, MetricError> {
    ThresholdSweep::new(labels, scores)?.recall_at_precision(target)
}

/// Every classification and calibration metric of one set of predicted
/// probabilities, from one sort.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryReport {
    /// ROC-AUC.
    pub roc_auc: f64,
    /// Average precision (PR-AUC).
    pub average_precision: f64,
    /// Mean log loss.
    pub log_loss: f64,
    /// Log loss over the entropy of the base rate.
    pub normalized_entropy: f64,
    /// Mean predicted probability over observed positive rate.
    pub calibration_ratio: f64,
    /// Expected calibration error over the report's bins.
    pub expected_calibration_error: f64,
    /// Reliability diagram bins.
    pub reliability: Vec<ReliabilityBin>,
    /// Confusion matrix at the report's threshold.
    pub confusion: ConfusionMatrix,
    /// The sorted sweep, for curves and operating points.
    pub sweep: ThresholdSweep,
}

/// Computes a [`BinaryReport`]: ROC-AUC, average precision, log loss,
/// normalized entropy, calibration ratio, ECE and reliability bins over
/// `n_bins` equal-width bins, and the confusion matrix at `threshold`.
///
/// ```
/// use casebook::engine::metrics::binary_report;
///
/// let labels = [0, 0, 1, 1];
/// let probs = [0.1, 0.4, 0.35, 0.8];
/// let report = binary_report(&labels, &probs, 0.5, 10)?;
/// assert_eq!(report.roc_auc, 0.75);
/// let curve = report.sweep.roc_curve(false)?;
/// assert_eq!(curve.tpr, [0.0, 0.5, 0.5, 1.0, 1.0]);
/// # Ok::<(), casebook::engine::metrics::MetricError>(())
/// ```
///
/// # Errors
///
/// Input errors for labels and probabilities (see
/// [`super::log_loss`]); [`MetricError::SingleClass`] unless both classes
/// are present; [`MetricError::InvalidParameter`] for a bad threshold or bin
/// count.
pub fn binary_report(
    labels: &[u8],
    probs: &[f64],
    threshold: f64,
    n_bins: usize,
) -> Result<BinaryReport, MetricError> {
    if threshold.is_nan() {
        return Err(MetricError::InvalidParameter("threshold is NaN"));
    }
    check_bin_count(n_bins)?;
    let (rows, positives) = check_binary_probabilities(labels, probs)?;
    if positives == 0 || positives == rows {
        return Err(MetricError::SingleClass);
    }
    let sweep = ThresholdSweep::from_valid(labels, probs, rows, positives);
    let (twice_area, average_precision) = sweep.areas();
    let log_loss = log_loss_valid(labels, probs, rows);
    let reliability = reliability_bins_valid(labels, probs, n_bins);
    Ok(BinaryReport {
        roc_auc: sweep.auc_from(twice_area),
        average_precision,
        normalized_entropy: normalized_entropy_from(log_loss, positives, rows)?,
        calibration_ratio: calibration_ratio_valid(probs, positives, rows)?,
        expected_calibration_error: ece_from_bins(&reliability, rows),
        confusion: confusion_valid(labels, probs, threshold),
        log_loss,
        reliability,
        sweep,
    })
}

/// Hand-checked cases; the fixtures in `tests/` compare against scikit-learn.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_scores_descending_and_round_trip() {
        let scores = [
            f64::MAX,
            1.0,
            0.5,
            f64::MIN_POSITIVE / 4.0,
            0.0,
            -f64::MIN_POSITIVE / 4.0,
            -0.5,
            -1.0,
            f64::MIN,
        ];
        let keys: Vec<u64> = scores.iter().map(|&s| descending_key(s)).collect();
        assert!(keys.is_sorted());
        for (&s, &k) in scores.iter().zip(&keys) {
            assert_eq!(score_from_key(k).to_bits(), s.to_bits());
        }
        assert_eq!(descending_key(-0.0), descending_key(0.0));
    }

    #[test]
    fn sklearn_docstring_example() {
        // precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).
        let sweep = ThresholdSweep::new(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        let pr = sweep.precision_recall_curve(false).unwrap();
        assert_eq!(pr.precision, [0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
        assert_eq!(pr.recall, [1.0, 1.0, 0.5, 0.5, 0.0]);
        assert_eq!(pr.thresholds, [0.1, 0.35, 0.4, 0.8]);
        let ap = sweep.average_precision().unwrap();
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-15);
        let roc = sweep.roc_curve(true).unwrap();
        assert_eq!(roc.fpr, [0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(roc.tpr, [0.0, 0.5, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn sweeping_from_either_end_gives_the_same_points() {
        let labels = [1, 0, 1, 1, 0, 0, 1, 0];
        let scores = [0.9, 0.9, 0.4, -0.0, 0.0, 0.7, 0.4, 0.1];
        let sweep = ThresholdSweep::new(&labels, &scores).unwrap();
        let forward: Vec<SweepPoint> = sweep.points().collect();
        let mut backward: Vec<SweepPoint> = sweep.points().rev().collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), 5);
        let mut both = sweep.points();
        assert_eq!(both.next(), forward.first().copied());
        assert_eq!(both.next_back(), forward.last().copied());
        let middle: Vec<SweepPoint> = both.collect();
        assert_eq!(middle, forward[1..4]);
    }

    #[test]
    fn ties_count_half_in_auc() {
        let auc = roc_auc(&[0, 1, 0, 1], &[0.5, 0.5, 0.2, 0.9]).unwrap();
        // Pairs: (0.5 vs 0.5) half, (0.5 vs 0.2) win, (0.9 vs both) wins.
        assert!((auc - 3.5 / 4.0).abs() < 1e-15);
        let sweep = ThresholdSweep::new(&[1, 0, 0], &[-0.0, 0.0, 1.0]).unwrap();
        assert_eq!(sweep.points().count(), 2, "-0.0 and 0.0 are one threshold");
    }

    #[test]
    fn recall_at_precision_prefers_the_higher_threshold_on_equal_recall() {
        // Thresholds 0.9 (tp 1, fp 0), 0.5 (tp 1, fp 1), 0.1 (tp 2, fp 2).
        let sweep = ThresholdSweep::new(&[1, 0, 1, 0], &[0.9, 0.5, 0.1, 0.1]).unwrap();
        let point = sweep.recall_at_precision(0.6).unwrap();
        assert_eq!(
            point,
            OperatingPoint {
                threshold: Some(0.9),
                precision: 1.0,
                recall: 0.5
            }
        );
        let none = sweep.recall_at_precision(1.0).unwrap();
        assert_eq!(none.threshold, Some(0.9));
        let all = sweep.recall_at_precision(0.0).unwrap();
        assert_eq!(all.threshold, Some(0.1));
    }

    #[test]
    fn confusion_matrix_never_overflows() {
        let m = ConfusionMatrix {
            true_negatives: u64::MAX,
            false_positives: u64::MAX,
            false_negatives: u64::MAX,
            true_positives: u64::MAX,
        };
        assert!((m.f1() - 0.5).abs() < 1e-12);
        assert!((m.accuracy() - 0.5).abs() < 1e-12);
        assert_eq!(ConfusionMatrix::default().f1().to_bits(), 0.0f64.to_bits());
    }
}
