//! Which training rows a model sees, and with what weight: sampling schemes,
//! class-imbalance handling, and the recalibration negative downsampling needs.

use rand::RngExt;
use rand::seq::SliceRandom;

use crate::engine::rng::StageRng;

/// Rows chosen for training (indices into the table) and their weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    pub rows: Vec<usize>,
    pub weight: Vec<f32>,
}

impl Sample {
    /// Every row of `rows`, weight 1.
    pub fn all(rows: &[usize]) -> Sample {
        Sample {
            rows: rows.to_vec(),
            weight: vec![1.0; rows.len()],
        }
    }
}

/// How to sample the training rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampling {
    /// Keep everything.
    All,
    /// Keep each row with probability `rate`.
    Uniform { rate: f64 },
    /// Keep exactly `rate` of the positives and `rate` of the negatives.
    Stratified { rate: f64 },
    /// One pass over the rows in time order, keeping a uniform sample of
    /// `size` rows in bounded memory (Algorithm R).
    Reservoir { size: usize },
    /// Keep row i with probability `rate * importance[i] / mean importance`
    /// (capped at 1), weighted by the inverse, so sums stay unbiased.
    Importance { rate: f64, importance: Vec<f32> },
    /// Keep every positive and each negative with probability `rate`. Predicted
    /// probabilities then need [`recalibrate`] with the same rate.
    NegativeDownsampling { rate: f64 },
}

/// How to handle a rare positive class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Imbalance {
    None,
    /// Repeat each positive row `factor` times.
    Oversample {
        factor: u32,
    },
    /// Keep each negative with probability `rate` (no reweighting).
    Undersample {
        rate: f64,
    },
    /// Weight positives by (negatives / positives), so both classes weigh the same.
    ClassWeight,
}

/// Applies `sampling` to `rows` (labels 0/1 in `label`, indexed by row).
pub fn sample(rows: &[usize], label: &[f32], sampling: &Sampling, rng: &mut StageRng) -> Sample {
    let positive = |i: usize| label[i] > 0.5;
    let mut out = Sample::default();
    let mut keep = |i: usize, w: f32| {
        out.rows.push(i);
        out.weight.push(w);
    };
    match sampling {
        Sampling::All => return Sample::all(rows),
        Sampling::Uniform { rate } => {
            for &i in rows {
                if rng.random::<f64>() < *rate {
                    keep(i, 1.0);
                }
            }
        }
        Sampling::Stratified { rate } => {
            let (mut pos, mut neg): (Vec<usize>, Vec<usize>) =
                rows.iter().partition(|&&i| positive(i));
            for class in [&mut pos, &mut neg] {
                let k = (class.len() as f64 * rate.clamp(0.0, 1.0)).round() as usize;
                class.shuffle(rng);
                class.truncate(k);
            }
            let mut chosen = [pos, neg].concat();
            chosen.sort_unstable();
            return Sample::all(&chosen);
        }
        Sampling::Reservoir { size } => {
            let mut reservoir: Vec<usize> = Vec::with_capacity((*size).min(rows.len()));
            for (seen, &i) in rows.iter().enumerate() {
                if reservoir.len() < *size {
                    reservoir.push(i);
                } else {
                    let j = rng.random_range(0..=seen);
                    if j < *size {
                        reservoir[j] = i;
                    }
                }
            }
            reservoir.sort_unstable();
            return Sample::all(&reservoir);
        }
        Sampling::Importance { rate, importance } => {
            let mean = rows
                .iter()
                .map(|&i| f64::from(importance.get(i).copied().unwrap_or(1.0)))
                .sum::<f64>()
                / rows.len().max(1) as f64;
            for &i in rows {
                let imp = f64::from(importance.get(i).copied().unwrap_or(1.0));
                let p = if mean > 0.0 {
                    (rate * imp / mean).min(1.0)
                } else {
                    0.0
                };
                if p > 0.0 && rng.random::<f64>() < p {
                    keep(i, (1.0 / p) as f32);
                }
            }
        }
        Sampling::NegativeDownsampling { rate } => {
            for &i in rows {
                // Draw for every row so the kept negatives do not depend on labels elsewhere.
                let r: f64 = rng.random();
                if positive(i) || r < *rate {
                    keep(i, 1.0);
                }
            }
        }
    }
    out
}

/// Applies class-imbalance handling to a sample.
pub fn rebalance(
    sample: Sample,
    label: &[f32],
    imbalance: Imbalance,
    rng: &mut StageRng,
) -> Sample {
    let positive = |i: usize| label[i] > 0.5;
    match imbalance {
        Imbalance::None => sample,
        Imbalance::Oversample { factor } => {
            let mut out = Sample::default();
            for (&i, &w) in sample.rows.iter().zip(&sample.weight) {
                let copies = if positive(i) { factor.max(1) } else { 1 };
                for _ in 0..copies {
                    out.rows.push(i);
                    out.weight.push(w);
                }
            }
            out
        }
        Imbalance::Undersample { rate } => {
            let mut out = Sample::default();
            for (&i, &w) in sample.rows.iter().zip(&sample.weight) {
                let r: f64 = rng.random();
                if positive(i) || r < rate {
                    out.rows.push(i);
                    out.weight.push(w);
                }
            }
            out
        }
        Imbalance::ClassWeight => {
            let pos = sample.rows.iter().filter(|&&i| positive(i)).count();
            let neg = sample.rows.len() - pos;
            let factor = if pos > 0 {
                neg as f32 / pos as f32
            } else {
                1.0
            };
            let weight = sample
                .rows
                .iter()
                .zip(&sample.weight)
                .map(|(&i, &w)| if positive(i) { w * factor } else { w })
                .collect();
            Sample {
                rows: sample.rows,
                weight,
            }
        }
    }
}

/// Undoes negative downsampling at rate `w` (He et al. 2014):
/// q = p / (p + (1 - p) / w).
pub fn recalibrate(p: f64, w: f64) -> f64 {
    if w <= 0.0 {
        return p;
    }
    p / (p + (1.0 - p) / w)
}

/// Undoes negative downsampling on every score, if `sampling` downsampled
/// negatives and the design asks to `undo` it; other sampling leaves the
/// scores as they are.
pub fn recalibrate_scores(scores: &mut [f64], sampling: &Sampling, undo: bool) {
    if let (Sampling::NegativeDownsampling { rate }, true) = (sampling, undo) {
        for p in scores {
            *p = recalibrate(*p, *rate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;

    fn labels(n: usize, every: usize) -> Vec<f32> {
        (0..n)
            .map(|i| f32::from(u8::from(i % every == 0)))
            .collect()
    }

    fn rows(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn negative_downsampling_keeps_all_positives() {
        let y = labels(10_000, 20);
        let s = sample(
            &rows(10_000),
            &y,
            &Sampling::NegativeDownsampling { rate: 0.1 },
            &mut Seed(1).stream("s"),
        );
        let pos = s.rows.iter().filter(|&&i| y[i] > 0.5).count();
        assert_eq!(pos, 500);
        let neg = s.rows.len() - pos;
        assert!((neg as f64 - 950.0).abs() < 100.0, "{neg}");
    }

    #[test]
    fn recalibration_undoes_downsampling_on_average() {
        // True rate 5%; after keeping 10% of negatives the observed rate is
        // 0.05 / (0.05 + 0.95 * 0.1) = 0.3448...; recalibration maps it back.
        let observed = 0.05 / (0.05 + 0.95 * 0.1);
        assert!((recalibrate(observed, 0.1) - 0.05).abs() < 1e-12);
        assert!((recalibrate(0.3, 1.0) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn stratified_keeps_the_class_ratio_exactly() {
        let y = labels(1_000, 10);
        let s = sample(
            &rows(1_000),
            &y,
            &Sampling::Stratified { rate: 0.3 },
            &mut Seed(2).stream("s"),
        );
        let pos = s.rows.iter().filter(|&&i| y[i] > 0.5).count();
        assert_eq!((pos, s.rows.len()), (30, 300));
    }

    #[test]
    fn reservoir_is_uniform_over_the_stream() {
        // Over many seeds, early and late rows are kept equally often.
        let mut early = 0;
        let mut late = 0;
        for seed in 0..200 {
            let s = sample(
                &rows(1_000),
                &labels(1_000, 2),
                &Sampling::Reservoir { size: 100 },
                &mut Seed(seed).stream("s"),
            );
            assert_eq!(s.rows.len(), 100);
            early += s.rows.iter().filter(|&&i| i < 500).count();
            late += s.rows.iter().filter(|&&i| i >= 500).count();
        }
        let ratio = early as f64 / late as f64;
        assert!((ratio - 1.0).abs() < 0.05, "{ratio}");
    }

    #[test]
    fn importance_weights_keep_totals_unbiased() {
        let n = 20_000;
        let importance: Vec<f32> = (0..n).map(|i| if i < n / 2 { 1.0 } else { 4.0 }).collect();
        let y = labels(n, 5);
        let s = sample(
            &rows(n),
            &y,
            &Sampling::Importance {
                rate: 0.2,
                importance,
            },
            &mut Seed(3).stream("s"),
        );
        let weighted: f64 = s.weight.iter().map(|&w| f64::from(w)).sum();
        assert!((weighted / n as f64 - 1.0).abs() < 0.05, "{weighted}");
        let late = s.rows.iter().filter(|&&i| i >= n / 2).count();
        assert!(
            late > 3 * (s.rows.len() - late),
            "important rows are kept more often"
        );
    }

    #[test]
    fn class_weight_balances_total_weight() {
        let y = labels(1_000, 10);
        let s = rebalance(
            Sample::all(&rows(1_000)),
            &y,
            Imbalance::ClassWeight,
            &mut Seed(4).stream("s"),
        );
        let pos: f32 = s
            .rows
            .iter()
            .zip(&s.weight)
            .filter(|(i, _)| y[**i] > 0.5)
            .map(|(_, w)| w)
            .sum();
        let neg: f32 = s
            .rows
            .iter()
            .zip(&s.weight)
            .filter(|(i, _)| y[**i] < 0.5)
            .map(|(_, w)| w)
            .sum();
        assert!((pos - neg).abs() < 1e-3, "{pos} {neg}");
        let over = rebalance(
            Sample::all(&rows(1_000)),
            &y,
            Imbalance::Oversample { factor: 3 },
            &mut Seed(4).stream("s"),
        );
        assert_eq!(over.rows.len(), 900 + 300);
    }
}
