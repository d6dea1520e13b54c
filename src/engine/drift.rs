//! Drift detection and retraining policies, for step 9 of every case study.
//!
//! A detector compares a reference sample (training time) with a current
//! one (today's traffic) and raises an alert past a threshold:
//!
//! - PSI, the population stability index, on bins cut at the reference's
//!   deciles (`numpy.quantile`'s linear rule; ties merge bins), each share
//!   floored at [`PSI_EPS`];
//! - Kolmogorov–Smirnov two-sample, as scipy's `ks_2samp` (two-sided): the
//!   statistic to the last bit; the exact p-value of `method='exact'` (the
//!   Hodges lattice-path count, in the form that computes 1 − p directly)
//!   while both samples have at most [`KS_EXACT_MAX_N`] values, else the
//!   asymptotic Kolmogorov distribution, `kstwobign.sf(√(n·m/(n+m))·D)`.
//!   That is not `ks_2samp(method='asymp')`, which uses the finite-n
//!   one-sample distribution `kstwo` at `n = round(n·m/(n+m))`;
//! - chi-square on counts (categories, or the PSI bins for numbers), as
//!   `scipy.stats.chi2_contingency(table, correction=False)` on the 2 × k
//!   table of reference and current counts, categories empty in both
//!   dropped (scipy would reject their zero expected counts);
//! - Jensen–Shannon distance in bits on the same bins, as
//!   `scipy.spatial.distance.jensenshannon(p, q, base=2)`;
//! - Wasserstein-1, as `scipy.stats.wasserstein_distance`, and the same
//!   divided by the reference's standard deviation (`numpy.std`, ddof 0).
//!
//! `tests/drift_reference.rs` checks all of them against scipy on the
//! fixtures in `tests/fixtures/drift/`.
//!
//! # Size-aware default
//!
//! [`Detector::Auto`] runs a test (KS for numbers, chi-square for
//! categories) while the smaller sample has at most [`AUTO_TEST_MAX_N`]
//! values, and PSI above. A p-value answers "is there any difference?", and
//! with enough data every difference is significant: at 1M values a side a
//! KS test at α = 0.01 flags a mean shift of 0.006 standard deviations,
//! which no model notices. At 5,000 it needs about 0.08 σ, near the
//! smallest shift worth an alert, so above that a distance with a fixed
//! threshold says "how different" instead.
//!
//! The retraining policies ([`RetrainPolicy`]) only decide; the day loop that
//! uses them lives in the pipelines.

use serde::Serialize;
use thiserror::Error;

use crate::engine::math;

/// Floor of a bin's share in PSI, so an empty bin gives a large but finite
/// term (the common choice; without it PSI is infinite).
pub const PSI_EPS: f64 = 1e-4;

/// Largest sample (each side) for which the KS p-value is exact.
pub const KS_EXACT_MAX_N: usize = 10_000;

/// Largest smaller-sample size for which [`Detector::Auto`] runs a p-value
/// test rather than a distance (see the module docs).
pub const AUTO_TEST_MAX_N: usize = 5_000;

/// Why drift could not be measured.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DriftError {
    /// A sample is empty.
    #[error("the {which} sample is empty")]
    Empty {
        /// `reference` or `current`.
        which: &'static str,
    },
    /// A value is `NaN` or infinite.
    #[error("value {index} of the {which} sample is not finite")]
    NonFinite {
        /// `reference` or `current`.
        which: &'static str,
        /// Index of the value.
        index: usize,
    },
    /// Reference and current counts cover different categories.
    #[error("the reference has {reference} categories but the current sample {current}")]
    CategoryMismatch {
        /// Categories in the reference.
        reference: usize,
        /// Categories in the current sample.
        current: usize,
    },
    /// The detector needs numbers, not category counts.
    #[error("`detector` {0} needs numeric values, not category counts")]
    NeedsNumbers(&'static str),
    /// A parameter lies outside its range.
    #[error("drift parameter `{name}` is {value}, but must be between {min} and {max}")]
    OutOfRange {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
}

/// Which detector to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Detector {
    /// Population stability index.
    Psi,
    /// Kolmogorov–Smirnov two-sample test.
    Ks,
    /// Chi-square test on counts.
    Chi2,
    /// Jensen–Shannon distance.
    Js,
    /// Wasserstein distance over the reference's standard deviation.
    Wasserstein,
    /// A test on small samples, PSI on large ones.
    Auto,
}

impl Detector {
    /// Every detector, in the order the UI lists them.
    pub const ALL: [Detector; 6] = [
        Detector::Psi,
        Detector::Ks,
        Detector::Chi2,
        Detector::Js,
        Detector::Wasserstein,
        Detector::Auto,
    ];

    /// The stable name used in reports and URLs (`detector`).
    pub fn id(self) -> &'static str {
        match self {
            Detector::Psi => "psi",
            Detector::Ks => "ks",
            Detector::Chi2 => "chi2",
            Detector::Js => "js",
            Detector::Wasserstein => "wasserstein",
            Detector::Auto => "auto",
        }
    }

    /// The detector called `id`, if any.
    pub fn from_id(id: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.id() == id)
    }
}

/// Alert thresholds: a test alerts below its level, a distance above its bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    /// PSI above this alerts (0.2 is the usual "significant shift").
    pub psi: f64,
    /// KS p-value below this alerts.
    pub ks_alpha: f64,
    /// Chi-square p-value below this alerts.
    pub chi2_alpha: f64,
    /// Jensen–Shannon distance (bits) above this alerts.
    pub js: f64,
    /// Wasserstein distance in reference standard deviations above this alerts.
    pub wasserstein: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            psi: 0.2,
            ks_alpha: 0.01,
            chi2_alpha: 0.01,
            js: 0.1,
            wasserstein: 0.1,
        }
    }
}

/// What a detector found.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DriftResult {
    /// The detector that ran (`Auto` resolved).
    pub detector: Detector,
    /// Its statistic or distance.
    pub statistic: f64,
    /// The p-value, for the tests.
    pub p_value: Option<f64>,
    /// The threshold compared with (a level for tests, a bound for distances).
    pub threshold: f64,
    /// Whether it alerts.
    pub alert: bool,
}

/// Two-sample KS result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KsResult {
    /// The largest gap between the two empirical CDFs.
    pub statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
    /// Whether the p-value is exact (else asymptotic).
    pub exact: bool,
}

/// Chi-square result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Chi2Result {
    /// Pearson's statistic.
    pub statistic: f64,
    /// Degrees of freedom (non-empty categories minus one).
    pub dof: usize,
    /// The p-value.
    pub p_value: f64,
}

fn check_sample(values: &[f64], which: &'static str) -> Result<(), DriftError> {
    if values.is_empty() {
        return Err(DriftError::Empty { which });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(DriftError::NonFinite { which, index }),
        None => Ok(()),
    }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// `numpy.quantile(sorted, q)` with the default linear rule, to the bit.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let virtual_index = (n - 1) as f64 * q;
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let lo = (previous as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Inner bin edges at the reference's `1/bins, ..., (bins-1)/bins`
/// quantiles, duplicates removed (`numpy.unique(numpy.quantile(...))`).
pub fn quantile_edges(sorted_reference: &[f64], bins: usize) -> Vec<f64> {
    if sorted_reference.is_empty() {
        return Vec::new();
    }
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| quantile_sorted(sorted_reference, i as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

/// Counts per bin: a value goes to the bin after the last edge at or below
/// it (`numpy.searchsorted(edges, x, side='right')`), so `edges.len() + 1` bins.
pub fn bin_counts(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &x in values {
        counts[edges.partition_point(|&e| e <= x)] += 1;
    }
    counts
}

/// PSI of two count vectors over the same bins: Σ (c − r) · ln(c / r) over
/// the shares, each floored at [`PSI_EPS`].
pub fn psi(reference: &[u64], current: &[u64]) -> f64 {
    let (rt, ct) = (total(reference), total(current));
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let r = (r as f64 / rt).max(PSI_EPS);
            let c = (c as f64 / ct).max(PSI_EPS);
            (c - r) * math::ln(c / r)
        })
        .sum()
}

fn total(counts: &[u64]) -> f64 {
    counts.iter().sum::<u64>().max(1) as f64
}

/// Jensen–Shannon distance in bits between two count vectors, as scipy's
/// `jensenshannon(p, q, base=2)`: 0 for equal shares, 1 for disjoint ones.
pub fn js_distance(reference: &[u64], current: &[u64]) -> f64 {
    let (rt, ct) = (total(reference), total(current));
    let rel_entr = |x: f64, y: f64| if x > 0.0 { x * math::ln(x / y) } else { 0.0 };
    let (mut left, mut right) = (0.0, 0.0);
    for (&r, &c) in reference.iter().zip(current) {
        let (p, q) = (r as f64 / rt, c as f64 / ct);
        // (p + q) / 2 for shares in [0, 1], as scipy computes it.
        let m = f64::midpoint(p, q);
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    let js = (left + right) / core::f64::consts::LN_2;
    (js / 2.0).max(0.0).sqrt()
}

/// Pearson's chi-square on the 2 × k table of reference and current
/// counts, as `chi2_contingency(table, correction=False)`, with categories
/// empty in both dropped; `None` when fewer than two remain.
pub fn chi2_counts(reference: &[u64], current: &[u64]) -> Option<Chi2Result> {
    let cols: Vec<(f64, f64)> = reference
        .iter()
        .zip(current)
        .filter(|&(&r, &c)| r + c > 0)
        .map(|(&r, &c)| (r as f64, c as f64))
        .collect();
    if cols.len() < 2 {
        return None;
    }
    let rt: f64 = cols.iter().map(|c| c.0).sum();
    let ct: f64 = cols.iter().map(|c| c.1).sum();
    if rt == 0.0 || ct == 0.0 {
        return None;
    }
    let n = rt + ct;
    let mut statistic = 0.0;
    for &(r, c) in &cols {
        let col = r + c;
        let (er, ec) = (rt * col / n, ct * col / n);
        statistic += (r - er) * (r - er) / er + (c - ec) * (c - ec) / ec;
    }
    let dof = cols.len() - 1;
    Some(Chi2Result {
        statistic,
        dof,
        p_value: chi2_sf(statistic, dof as f64),
    })
}

/// Survival function of the chi-square distribution, `Q(dof/2, x/2)`.
fn chi2_sf(x: f64, dof: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    statrs::function::gamma::checked_gamma_ur(dof / 2.0, x / 2.0).unwrap_or(0.0)
}

/// Walks two sorted samples in merged order, calling `f(x, i, j)` after
/// each distinct value `x` with `i` and `j` values of each at or below it.
fn merged_walk(a: &[f64], b: &[f64], mut f: impl FnMut(f64, usize, usize)) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&u), Some(&v)) => u.min(v),
            (Some(&u), None) => u,
            (None, Some(&v)) => v,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        f(x, i, j);
    }
}

/// The two-sample KS test on sorted samples, two-sided, as scipy's
/// `ks_2samp` (see the module docs for the p-value).
pub fn ks_2samp(sorted_a: &[f64], sorted_b: &[f64]) -> KsResult {
    let (n1, n2) = (sorted_a.len(), sorted_b.len());
    if n1 == 0 || n2 == 0 {
        return KsResult {
            statistic: 0.0,
            p_value: 1.0,
            exact: false,
        };
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    merged_walk(sorted_a, sorted_b, |_, i, j| {
        let d = i as f64 / f1 - j as f64 / f2;
        max_diff = max_diff.max(d);
        min_diff = min_diff.min(d);
    });
    let statistic = max_diff.max((-min_diff).clamp(0.0, 1.0));
    if n1.max(n2) <= KS_EXACT_MAX_N
        && let Some(p) = ks_exact_p(n1 as u64, n2 as u64, statistic)
    {
        return KsResult {
            statistic,
            p_value: p.clamp(0.0, 1.0),
            exact: true,
        };
    }
    let en = f1 * f2 / (f1 + f2);
    KsResult {
        statistic,
        p_value: kolmogorov_sf(en.sqrt() * statistic),
        exact: false,
    }
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Exact P(D ≥ d) for samples of sizes n1 and n2: the share of monotone
/// lattice paths from (0, 0) to (m, n) that leave the band
/// |x/m − y/n| < d. `B(x, y)`, the share of paths to (x, y) that left,
/// obeys `B(x, y) = (x B(x−1, y) + y B(x, y−1)) / (x + y)` inside the band
/// and is 1 outside, which gives 1 − p without cancellation (Hodges 1958;
/// Viehmann 2021).
fn ks_exact_p(n1: u64, n2: u64, d: f64) -> Option<f64> {
    let (m, n) = (n1.max(n2), n1.min(n2));
    let g = gcd(m, n);
    let (mg, ng) = (m / g, n / g);
    let lcm = mg.checked_mul(n)?;
    let h = (d * lcm as f64).round() as u64;
    if h == 0 {
        return Some(1.0);
    }
    // Inside at (x, y) iff |x·ng − y·mg| < h.
    let lo = |x: u64| {
        let t = x * ng;
        if t < h { 0 } else { (t - h) / mg + 1 }
    };
    let hi = |x: u64| ((x * ng + h - 1) / mg).min(n);
    let mut col = vec![1.0f64; n as usize + 1];
    for v in col.iter_mut().take(hi(0) as usize + 1) {
        *v = 0.0;
    }
    for x in 1..=m {
        let (a, b) = (lo(x), hi(x));
        let xf = x as f64;
        for y in a..=b {
            let left = if y == a {
                if y == 0 { 0.0 } else { 1.0 }
            } else {
                col[y as usize - 1]
            };
            let yf = y as f64;
            col[y as usize] = (col[y as usize] * xf + left * yf) / (xf + yf);
        }
    }
    Some(col[n as usize])
}

/// Survival function of Kolmogorov's limiting distribution,
/// `P(K > x) = 2 Σ (−1)^(k−1) e^(−2k²x²)`, from `1 − √(2π)/x Σ
/// e^(−(2k−1)²π²/(8x²))` below x = 0.8 where the first series converges slowly.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        1.0
    } else if x < 0.8 {
        kolmogorov_sf_small(x)
    } else {
        kolmogorov_sf_large(x)
    }
}

/// `1 − √(2π)/x Σ e^(−(2k−1)²π²/(8x²))`, for small `x > 0`.
fn kolmogorov_sf_small(x: f64) -> f64 {
    use core::f64::consts::PI;
    let w = -PI * PI / (8.0 * x * x);
    let mut sum = 0.0;
    for k in 1..=20 {
        let odd = f64::from(2 * k - 1);
        let term = math::exp(w * odd * odd);
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    (1.0 - (2.0 * PI).sqrt() / x * sum).clamp(0.0, 1.0)
}

/// `2 Σ (−1)^(k−1) e^(−2k²x²)`, for large `x`.
fn kolmogorov_sf_large(x: f64) -> f64 {
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=100 {
        let kf = f64::from(k);
        let term = math::exp(-2.0 * kf * kf * x * x);
        sum += sign * term;
        if term < 1e-17 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Wasserstein-1 distance between two sorted samples, as scipy's
/// `wasserstein_distance`: the area between their empirical CDFs.
pub fn wasserstein(sorted_a: &[f64], sorted_b: &[f64]) -> f64 {
    if sorted_a.is_empty() || sorted_b.is_empty() {
        return 0.0;
    }
    let (fa, fb) = (sorted_a.len() as f64, sorted_b.len() as f64);
    let mut area = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    merged_walk(sorted_a, sorted_b, |x, i, j| {
        if let Some((x0, gap)) = prev {
            area += gap * (x - x0);
        }
        prev = Some((x, (i as f64 / fa - j as f64 / fb).abs()));
    });
    area
}

/// A reference sample prepared once for many comparisons: sorted, with its
/// quantile bin edges, bin counts and standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    sorted: Vec<f64>,
    edges: Vec<f64>,
    counts: Vec<u64>,
    std: f64,
}

impl Reference {
    /// Prepares `values` with `bins` quantile bins (10 is usual).
    ///
    /// # Errors
    ///
    /// [`DriftError`] for an empty or non-finite sample, or `bins` outside 2 to 1000.
    pub fn new(values: &[f64], bins: usize) -> Result<Reference, DriftError> {
        check_sample(values, "reference")?;
        if !(2..=1000).contains(&bins) {
            return Err(DriftError::OutOfRange {
                name: "bins",
                value: bins as f64,
                min: 2.0,
                max: 1000.0,
            });
        }
        let sorted = sorted(values);
        let edges = quantile_edges(&sorted, bins);
        let counts = bin_counts(&sorted, &edges);
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        Ok(Reference {
            sorted,
            edges,
            counts,
            std: var.sqrt(),
        })
    }

    /// The inner bin edges.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// The reference's count per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The reference's standard deviation (ddof 0).
    pub fn std(&self) -> f64 {
        self.std
    }

    /// Runs `detector` on `current` against this reference.
    ///
    /// # Errors
    ///
    /// [`DriftError`] for an empty or non-finite current sample.
    pub fn detect(
        &self,
        current: &[f64],
        detector: Detector,
        thresholds: &Thresholds,
    ) -> Result<DriftResult, DriftError> {
        check_sample(current, "current")?;
        let detector = match detector {
            Detector::Auto if self.sorted.len().min(current.len()) <= AUTO_TEST_MAX_N => {
                Detector::Ks
            }
            Detector::Auto => Detector::Psi,
            other => other,
        };
        Ok(match detector {
            Detector::Ks => {
                let ks = ks_2samp(&self.sorted, &sorted(current));
                test_result(detector, ks.statistic, ks.p_value, thresholds.ks_alpha)
            }
            Detector::Wasserstein => {
                let w = wasserstein(&self.sorted, &sorted(current));
                let normalized = if self.std > 0.0 { w / self.std } else { w };
                distance_result(detector, normalized, thresholds.wasserstein)
            }
            _ => counts_result(
                detector,
                &self.counts,
                &bin_counts(current, &self.edges),
                thresholds,
            ),
        })
    }
}

/// Runs `detector` on category counts (same categories, same order).
/// `Auto` is chi-square while the smaller sample has at most
/// [`AUTO_TEST_MAX_N`] values, PSI above.
///
/// # Errors
///
/// [`DriftError`] for different category counts, an empty side, or KS or
/// Wasserstein, which need numbers.
pub fn detect_categorical(
    reference: &[u64],
    current: &[u64],
    detector: Detector,
    thresholds: &Thresholds,
) -> Result<DriftResult, DriftError> {
    if reference.len() != current.len() {
        return Err(DriftError::CategoryMismatch {
            reference: reference.len(),
            current: current.len(),
        });
    }
    let (rt, ct) = (reference.iter().sum::<u64>(), current.iter().sum::<u64>());
    if rt == 0 {
        return Err(DriftError::Empty { which: "reference" });
    }
    if ct == 0 {
        return Err(DriftError::Empty { which: "current" });
    }
    let detector = match detector {
        Detector::Auto if rt.min(ct) <= AUTO_TEST_MAX_N as u64 => Detector::Chi2,
        Detector::Auto => Detector::Psi,
        Detector::Ks | Detector::Wasserstein => {
            return Err(DriftError::NeedsNumbers(detector.id()));
        }
        other => other,
    };
    Ok(counts_result(detector, reference, current, thresholds))
}

fn counts_result(
    detector: Detector,
    reference: &[u64],
    current: &[u64],
    thresholds: &Thresholds,
) -> DriftResult {
    match detector {
        Detector::Chi2 => {
            let chi = chi2_counts(reference, current).unwrap_or(Chi2Result {
                statistic: 0.0,
                dof: 0,
                p_value: 1.0,
            });
            test_result(detector, chi.statistic, chi.p_value, thresholds.chi2_alpha)
        }
        Detector::Js => distance_result(detector, js_distance(reference, current), thresholds.js),
        _ => distance_result(Detector::Psi, psi(reference, current), thresholds.psi),
    }
}

fn test_result(detector: Detector, statistic: f64, p_value: f64, alpha: f64) -> DriftResult {
    DriftResult {
        detector,
        statistic,
        p_value: Some(p_value),
        threshold: alpha,
        alert: p_value < alpha,
    }
}

fn distance_result(detector: Detector, statistic: f64, bound: f64) -> DriftResult {
    DriftResult {
        detector,
        statistic,
        p_value: None,
        threshold: bound,
        alert: statistic > bound,
    }
}

/// When to retrain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RetrainSchedule {
    /// Never: the model ages.
    Never,
    /// Every `n` days (1 is daily, 7 weekly).
    EveryNDays(u32),
    /// After a drift alert, once the labels of the alert's day have arrived.
    OnAlert,
}

/// A retraining policy: a schedule and how many days labels take to arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RetrainPolicy {
    /// When to retrain.
    pub schedule: RetrainSchedule,
    /// Days until a day's labels are known (0: by the next morning).
    pub label_delay_days: u32,
}

impl RetrainPolicy {
    /// The stable name used in reports and URLs (`retrain`):
    /// `never`, `daily`, `weekly`, `every_n_days` or `on_alert`.
    pub fn id(&self) -> &'static str {
        match self.schedule {
            RetrainSchedule::Never => "never",
            RetrainSchedule::EveryNDays(1) => "daily",
            RetrainSchedule::EveryNDays(7) => "weekly",
            RetrainSchedule::EveryNDays(_) => "every_n_days",
            RetrainSchedule::OnAlert => "on_alert",
        }
    }

    /// The policy called `id` (`never`, `daily`, `weekly` or `on_alert`) with a
    /// label delay, if any.
    pub fn from_id(id: &str, label_delay_days: u32) -> Option<RetrainPolicy> {
        let schedule = match id {
            "never" => RetrainSchedule::Never,
            "daily" => RetrainSchedule::EveryNDays(1),
            "weekly" => RetrainSchedule::EveryNDays(7),
            "on_alert" => RetrainSchedule::OnAlert,
            _ => return None,
        };
        Some(RetrainPolicy {
            schedule,
            label_delay_days,
        })
    }

    /// The newest day whose labels a model trained at the start of `day`
    /// can use; `None` before any has arrived.
    pub fn newest_labels(&self, day: u32) -> Option<u32> {
        day.checked_sub(self.label_delay_days + 1)
    }

    /// Whether to retrain at the start of `day`, given the days on which a
    /// drift alert fired so far and the day of the last (re)training.
    /// Every-n-days retrains `n` days after the last; on-alert retrains
    /// once an alert fired on or after the last retraining and the labels
    /// of its day have arrived. `EveryNDays(0)` never retrains.
    pub fn should_retrain(&self, day: u32, alerts: &[u32], last_retrain: u32) -> bool {
        match self.schedule {
            RetrainSchedule::Never | RetrainSchedule::EveryNDays(0) => false,
            RetrainSchedule::EveryNDays(n) => day >= last_retrain.saturating_add(n),
            RetrainSchedule::OnAlert => alerts.iter().any(|&a| {
                a >= last_retrain && self.newest_labels(day).is_some_and(|newest| newest >= a)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    fn normal(n: usize, shift: f64, seed: u64) -> Vec<f64> {
        let mut rng = Seed(seed).stream("test.drift");
        (0..n)
            .map(|_| shift + rng.sample::<f64, _>(StandardNormal))
            .collect()
    }

    #[test]
    fn identical_samples_show_no_drift_and_a_shift_shows() {
        let reference = Reference::new(&normal(2000, 0.0, 1), 10).expect("valid");
        let t = Thresholds::default();
        let same = normal(2000, 0.0, 2);
        let moved = normal(2000, 0.7, 3);
        for d in [
            Detector::Psi,
            Detector::Ks,
            Detector::Chi2,
            Detector::Js,
            Detector::Wasserstein,
        ] {
            let calm = reference.detect(&same, d, &t).expect("valid");
            let storm = reference.detect(&moved, d, &t).expect("valid");
            assert!(!calm.alert && storm.alert, "{d:?}: {calm:?} {storm:?}");
            assert!(storm.statistic > calm.statistic);
        }
    }

    /// The size-aware default: a 0.02 σ shift is flagged by KS on a million
    /// values but not by Auto, which uses PSI there; on small samples Auto is KS.
    #[test]
    fn auto_ignores_trivial_shifts_on_large_samples() {
        let big_ref = Reference::new(&normal(1_000_000, 0.0, 4), 10).expect("valid");
        let big_cur = normal(1_000_000, 0.02, 5);
        let t = Thresholds::default();
        let ks = big_ref.detect(&big_cur, Detector::Ks, &t).expect("valid");
        assert!(ks.alert && ks.p_value.is_some_and(|p| p < 0.01), "{ks:?}");
        let auto = big_ref.detect(&big_cur, Detector::Auto, &t).expect("valid");
        assert_eq!(auto.detector, Detector::Psi);
        assert!(!auto.alert, "{auto:?}");
        let small = Reference::new(&normal(500, 0.0, 6), 10).expect("valid");
        let r = small
            .detect(&normal(500, 0.0, 7), Detector::Auto, &t)
            .expect("valid");
        assert_eq!(r.detector, Detector::Ks);
    }

    #[test]
    fn kolmogorov_sf_is_continuous_across_its_two_series() {
        for x in [0.6, 0.7, 0.8, 0.9, 1.0] {
            let (small, large) = (kolmogorov_sf_small(x), kolmogorov_sf_large(x));
            assert!((small - large).abs() < 1e-14, "{x}: {small} {large}");
        }
        // scipy.special.kolmogorov(1.0) = 0.26999967167735456
        assert!((kolmogorov_sf(1.0) - 0.269_999_671_677_354_56).abs() < 1e-15);
        assert!((kolmogorov_sf(0.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn categorical_counts_and_errors() {
        let t = Thresholds::default();
        let r = detect_categorical(&[50, 30, 20], &[48, 33, 19], Detector::Auto, &t).expect("ok");
        assert_eq!(r.detector, Detector::Chi2);
        assert!(!r.alert);
        let r = detect_categorical(&[50, 30, 20], &[10, 30, 60], Detector::Js, &t).expect("ok");
        assert!(r.alert);
        assert!(matches!(
            detect_categorical(&[1, 2], &[1, 2, 3], Detector::Psi, &t),
            Err(DriftError::CategoryMismatch { .. })
        ));
        assert!(matches!(
            detect_categorical(&[1, 2], &[1, 2], Detector::Ks, &t),
            Err(DriftError::NeedsNumbers("ks"))
        ));
        assert!(matches!(
            Reference::new(&[1.0, f64::NAN], 10),
            Err(DriftError::NonFinite {
                which: "reference",
                index: 1
            })
        ));
        for d in Detector::ALL {
            assert_eq!(Detector::from_id(d.id()), Some(d));
        }
    }

    #[test]
    fn retraining_policies_decide_as_documented() {
        let never = RetrainPolicy::from_id("never", 0).expect("known");
        assert!(!never.should_retrain(100, &[5], 0));
        let weekly = RetrainPolicy::from_id("weekly", 2).expect("known");
        assert!(!weekly.should_retrain(6, &[], 0));
        assert!(weekly.should_retrain(7, &[], 0));
        assert_eq!(weekly.id(), "weekly");
        assert_eq!(weekly.newest_labels(7), Some(4));
        assert_eq!(weekly.newest_labels(2), None);
        // On alert with labels 2 days late: an alert on day 10 retrains on
        // day 13, when day 10's labels are in, and not again for it.
        let on_alert = RetrainPolicy::from_id("on_alert", 2).expect("known");
        assert!(!on_alert.should_retrain(12, &[10], 0));
        assert!(on_alert.should_retrain(13, &[10], 0));
        assert!(!on_alert.should_retrain(14, &[10], 13));
        assert_eq!(RetrainPolicy::from_id("hourly", 0), None);
    }
}
