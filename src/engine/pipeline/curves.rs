//! What the charts of a classifier draw: its ROC and precision-recall
//! curves, reliability bins, score distributions per class and confusion
//! matrix on the test rows, taken from the same sort as the metrics.

use serde::Serialize;

use crate::compute::Compute;
use crate::engine::metrics::{BinaryReport, MetricError};

/// At most this many points per curve reach a chart: a curve over 100,000
/// test rows has tens of thousands of corners, far more than a chart's
/// pixels; the kept points are never further apart than `1 / CURVE_POINTS`
/// along either axis, so the drawn curve is the same to the pixel.
pub const CURVE_POINTS: usize = 200;

/// Equal bins over [0, 1] of the score distributions.
pub const SCORE_BINS: usize = 40;

/// A classifier's test rows, as the charts draw them. Lists only, so
/// [`crate::study::Report::metrics`] takes no number from here.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Curves {
    /// ROC points `[false positive rate, true positive rate]` from (0, 0) to
    /// (1, 1).
    pub roc: Vec<[f64; 2]>,
    /// Precision-recall points `[recall, precision]`, recall rising.
    pub pr: Vec<[f64; 2]>,
    /// The non-empty reliability bins: `[mean predicted, observed rate,
    /// rows]`.
    pub reliability: Vec<[f64; 3]>,
    /// Test rows per score bin ([`SCORE_BINS`] equal bins over [0, 1]),
    /// negatives and positives.
    pub scores_negative: Vec<u32>,
    pub scores_positive: Vec<u32>,
    /// The threshold of the confusion matrix: the design's choice, not a
    /// measurement, so not in the report.
    #[serde(skip)]
    pub threshold: f64,
    /// `[true negatives, false positives, false negatives, true positives]`
    /// at `threshold`.
    pub confusion: [u64; 4],
}

impl Curves {
    /// The curves of `report`, computed on `labels` and `probs`; the
    /// confusion matrix is `report`'s, at `threshold`.
    ///
    /// # Errors
    /// As the report's curves (a single class).
    pub async fn new(
        report: &BinaryReport,
        labels: &[u8],
        probs: &[f64],
        threshold: f64,
        compute: &Compute,
    ) -> Result<Curves, MetricError> {
        let roc = report.sweep.roc_curve(true)?;
        let roc: Vec<[f64; 2]> = roc
            .fpr
            .iter()
            .zip(&roc.tpr)
            .map(|(&x, &y)| [x, y])
            .collect();
        let pr = report.sweep.precision_recall_curve(true)?;
        let mut pr: Vec<[f64; 2]> = pr
            .recall
            .iter()
            .zip(&pr.precision)
            .map(|(&r, &p)| [r, p])
            .collect();
        pr.reverse();
        let reliability = report
            .reliability
            .iter()
            .filter_map(|b| Some([b.mean_predicted?, b.observed_rate?, b.count as f64]))
            .collect();
        // The histogram kernel: counts, the same on every backend.
        let scores: Vec<f32> = probs.iter().map(|&p| p as f32).collect();
        let classes: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        let histogram = compute
            .histogram(&scores, &classes, SCORE_BINS)
            .await
            .map_err(|_| MetricError::InvalidParameter("scores and labels differ in length"))?;
        let c = report.confusion;
        Ok(Curves {
            roc: thin(&roc),
            pr: thin(&pr),
            reliability,
            scores_negative: histogram.negative,
            scores_positive: histogram.positive,
            threshold,
            confusion: [
                c.true_negatives,
                c.false_positives,
                c.false_negatives,
                c.true_positives,
            ],
        })
    }
}

/// Keeps the first and last points and each point at least `1 /
/// CURVE_POINTS` away (along either axis) from the last kept one.
fn thin(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let step = 1.0 / CURVE_POINTS as f64;
    let mut out: Vec<[f64; 2]> = Vec::with_capacity(CURVE_POINTS * 2);
    for (i, &p) in points.iter().enumerate() {
        let far = out
            .last()
            .is_none_or(|q| (p[0] - q[0]).abs() >= step || (p[1] - q[1]).abs() >= step);
        if far || i + 1 == points.len() {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metrics::binary_report;

    #[test]
    fn curves_run_corner_to_corner_and_count_every_row() -> Result<(), MetricError> {
        // 2,000 rows whose score is a noisy function of the label.
        let n = 2_000;
        let labels: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
        let probs: Vec<f64> = (0..n)
            .map(|i| {
                let noise = ((i * 7919) % 1000) as f64 / 1000.0;
                (0.5 * noise + if i % 3 == 0 { 0.4 } else { 0.1 }).min(1.0)
            })
            .collect();
        let report = binary_report(&labels, &probs, 0.5, 10)?;
        let curves =
            crate::compute::block_on(Curves::new(&report, &labels, &probs, 0.5, &Compute::cpu()))?;
        assert_eq!(curves.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(curves.roc.last(), Some(&[1.0, 1.0]));
        assert!(curves.roc.len() <= 2 * CURVE_POINTS + 2);
        assert!(
            curves
                .roc
                .windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1])
        );
        assert!(curves.pr.windows(2).all(|w| w[0][0] <= w[1][0]));
        assert_eq!(curves.pr.last().map(|p| p[0]), Some(1.0));
        let counted: u32 = curves
            .scores_negative
            .iter()
            .chain(&curves.scores_positive)
            .sum();
        assert_eq!(counted as usize, n);
        let positives: u32 = curves.scores_positive.iter().sum();
        assert_eq!(
            positives as usize,
            labels.iter().map(|&y| usize::from(y)).sum::<usize>()
        );
        assert_eq!(curves.confusion.iter().sum::<u64>(), n as u64);
        let rows: f64 = curves.reliability.iter().map(|b| b[2]).sum();
        assert_eq!(rows as usize, n);
        Ok(())
    }

    #[test]
    fn thinning_keeps_the_ends_and_no_gap_wider_than_a_step() {
        let points: Vec<[f64; 2]> = (0..=10_000)
            .map(|i| {
                let x = f64::from(i) / 10_000.0;
                [x, x.sqrt()]
            })
            .collect();
        let kept = thin(&points);
        assert_eq!(kept.first(), points.first());
        assert_eq!(kept.last(), points.last());
        assert!(kept.len() < 500, "{} points kept", kept.len());
        let step = 1.0 / CURVE_POINTS as f64;
        // Each dropped point lies within a step of the kept point before it.
        let mut last = kept[0];
        for p in &points {
            if kept.contains(p) {
                last = *p;
            } else {
                assert!((p[0] - last[0]).abs() < step && (p[1] - last[1]).abs() < step);
            }
        }
    }
}
