//! Online experiments, for step 8 of every case study: A/B-test statistics,
//! sample size and power, Thompson-sampling assignment against a fixed split,
//! and a canary rollout with a guardrail.
//!
//! The caller simulates per-user outcomes (from the world, with the model it
//! serves) and passes them in; this module only does the statistics, so the
//! same functions serve every study. The Welch test agrees with scipy's
//! `ttest_ind(equal_var=False)` (statistic, p-value, degrees of freedom and
//! confidence interval), the z-test with the normal approximation.
//!
//! Distribution functions come from `statrs` (Student t through the
//! regularized incomplete beta, the normal quantile through the inverse
//! error function), built without default features so num-traits keeps
//! libm's maths and a seed gives the same bits natively and in wasm32.

use rand_distr::{Binomial, Distribution, Gamma};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use thiserror::Error;

use crate::engine::math;
use crate::engine::rng::Seed;

/// Why an experiment could not be analysed or simulated.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExperimentError {
    /// A parameter lies outside its range.
    #[error("experiment parameter `{name}` is {value}, but must be between {min} and {max}")]
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
    /// An arm has fewer than two users, so its variance is undefined.
    #[error("the {arm} arm has {n} users; a test needs at least 2 per arm")]
    TooFewUsers {
        /// `control` or `treatment`.
        arm: &'static str,
        /// Users in the arm.
        n: usize,
    },
    /// An outcome is `NaN` or infinite.
    #[error("outcome {index} of the {arm} arm is not finite")]
    NonFinite {
        /// `control` or `treatment`.
        arm: &'static str,
        /// Index of the outcome.
        index: usize,
    },
    /// Both arms are constant, so the standard error is zero.
    #[error("both arms have zero variance; the difference has no standard error")]
    ZeroVariance,
}

fn check_range(name: &'static str, value: f64, min: f64, max: f64) -> Result<(), ExperimentError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ExperimentError::OutOfRange {
            name,
            value,
            min,
            max,
        })
    }
}

/// Checks that `p` lies strictly between 0 and 1.
fn check_open_unit(name: &'static str, p: f64) -> Result<(), ExperimentError> {
    if p.is_finite() && p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(ExperimentError::OutOfRange {
            name,
            value: p,
            min: 0.0,
            max: 1.0,
        })
    }
}

/// The standard normal quantile; `p` must lie in (0, 1).
fn z_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Size, mean and sample variance (`n - 1` in the denominator) of one arm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArmStats {
    /// Users in the arm.
    pub n: u64,
    /// Mean outcome.
    pub mean: f64,
    /// Sample variance of the outcome.
    pub variance: f64,
}

impl ArmStats {
    /// The statistics of `values`, one outcome per user (two passes, so
    /// large means do not cancel the variance).
    ///
    /// # Errors
    ///
    /// [`ExperimentError::TooFewUsers`] below two values,
    /// [`ExperimentError::NonFinite`] for a `NaN` or infinite value.
    pub fn from_values(values: &[f64], arm: &'static str) -> Result<ArmStats, ExperimentError> {
        if values.len() < 2 {
            return Err(ExperimentError::TooFewUsers {
                arm,
                n: values.len(),
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ExperimentError::NonFinite { arm, index });
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
        Ok(ArmStats {
            n: values.len() as u64,
            mean,
            variance,
        })
    }

    /// The statistics of a 0/1 outcome with `successes` out of `n`.
    pub fn from_counts(successes: u64, n: u64) -> ArmStats {
        let nf = n as f64;
        let mean = if n == 0 { 0.0 } else { successes as f64 / nf };
        let variance = if n < 2 {
            0.0
        } else {
            mean * (1.0 - mean) * nf / (nf - 1.0)
        };
        ArmStats { n, mean, variance }
    }
}

/// Which test compares the arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TestKind {
    /// Welch's t-test: unequal variances, Welch–Satterthwaite degrees of freedom.
    Welch,
    /// The z-test: the normal approximation, fine for thousands of users.
    Z,
}

/// The comparison of a treatment with a control.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AbResult {
    /// The control arm.
    pub control: ArmStats,
    /// The treatment arm.
    pub treatment: ArmStats,
    /// Treatment mean minus control mean.
    pub difference: f64,
    /// The difference over the control mean (`None` when that is 0).
    pub relative_lift: Option<f64>,
    /// Standard error of the difference.
    pub standard_error: f64,
    /// The difference over its standard error (t or z).
    pub statistic: f64,
    /// Welch's degrees of freedom (`None` for the z-test).
    pub degrees_of_freedom: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower end of the `1 - alpha` confidence interval of the difference.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// The significance level used.
    pub alpha: f64,
    /// Whether `p_value < alpha`.
    pub significant: bool,
}

/// Compares per-user outcomes of a treatment with a control.
///
/// # Errors
///
/// An [`ExperimentError`] if an arm has fewer than two users or a non-finite
/// outcome, if `alpha` is not in (0, 1), or if both arms are constant.
pub fn compare(
    control: &[f64],
    treatment: &[f64],
    test: TestKind,
    alpha: f64,
) -> Result<AbResult, ExperimentError> {
    let c = ArmStats::from_values(control, "control")?;
    let t = ArmStats::from_values(treatment, "treatment")?;
    compare_stats(c, t, test, alpha)
}

/// [`compare`] from each arm's summary statistics.
///
/// # Errors
///
/// As [`compare`].
pub fn compare_stats(
    control: ArmStats,
    treatment: ArmStats,
    test: TestKind,
    alpha: f64,
) -> Result<AbResult, ExperimentError> {
    check_open_unit("alpha", alpha)?;
    for (arm, s) in [("control", control), ("treatment", treatment)] {
        if s.n < 2 {
            return Err(ExperimentError::TooFewUsers {
                arm,
                n: s.n as usize,
            });
        }
    }
    let (vc, vt) = (
        control.variance / control.n as f64,
        treatment.variance / treatment.n as f64,
    );
    let standard_error = (vc + vt).sqrt();
    if standard_error <= 0.0 || !standard_error.is_finite() {
        return Err(ExperimentError::ZeroVariance);
    }
    let difference = treatment.mean - control.mean;
    let statistic = difference / standard_error;
    let (p_value, critical, degrees_of_freedom) = match test {
        TestKind::Z => {
            let p = 2.0 * math::normal_cdf(-statistic.abs());
            (p, z_quantile(1.0 - alpha / 2.0), None)
        }
        TestKind::Welch => {
            let df = (vc + vt) * (vc + vt)
                / (vc * vc / (control.n as f64 - 1.0) + vt * vt / (treatment.n as f64 - 1.0));
            let dist = StudentsT::new(0.0, 1.0, df).map_err(|_| ExperimentError::ZeroVariance)?;
            let p = 2.0 * dist.sf(statistic.abs());
            (p, dist.inverse_cdf(1.0 - alpha / 2.0), Some(df))
        }
    };
    let p_value = p_value.clamp(0.0, 1.0);
    Ok(AbResult {
        control,
        treatment,
        difference,
        relative_lift: (control.mean != 0.0).then(|| difference / control.mean),
        standard_error,
        statistic,
        degrees_of_freedom,
        p_value,
        ci_low: difference - critical * standard_error,
        ci_high: difference + critical * standard_error,
        alpha,
        significant: p_value < alpha,
    })
}

/// Users per arm to detect a true difference `mde` with probability
/// `power` in a two-sided test at level `alpha`, for an outcome of standard
/// deviation `sigma`: `n = (z_{1-α/2} + z_{power})² · 2σ² / mde²`, rounded
/// up. At α = 0.05 and power 0.8 the factor is 15.7, the "16σ²/δ²" rule.
/// For a rate `p`, `sigma = sqrt(p (1 - p))`.
///
/// # Errors
///
/// [`ExperimentError::OutOfRange`] naming `sigma`, `mde`, `alpha` or `power`.
pub fn sample_size_per_arm(
    sigma: f64,
    mde: f64,
    alpha: f64,
    power: f64,
) -> Result<u64, ExperimentError> {
    check_range("sigma", sigma, 1e-12, 1e12)?;
    check_range("mde", mde.abs(), 1e-12, 1e12)?;
    check_open_unit("alpha", alpha)?;
    check_open_unit("power", power)?;
    let z = z_quantile(1.0 - alpha / 2.0) + z_quantile(power);
    let n = (z * z * 2.0 * sigma * sigma / (mde * mde)).ceil();
    check_range("sample size", n, 1.0, 1e15)?;
    Ok(n as u64)
}

/// Probability that a two-sided test at level `alpha` with `n_per_arm`
/// users per arm detects a true difference `mde` (both tails counted).
///
/// # Errors
///
/// [`ExperimentError::OutOfRange`] naming the parameter.
pub fn power(n_per_arm: u64, sigma: f64, mde: f64, alpha: f64) -> Result<f64, ExperimentError> {
    check_range("n_per_arm", n_per_arm as f64, 2.0, 1e15)?;
    check_range("sigma", sigma, 1e-12, 1e12)?;
    check_range("mde", mde.abs(), 0.0, 1e12)?;
    check_open_unit("alpha", alpha)?;
    let se = sigma * (2.0 / n_per_arm as f64).sqrt();
    let z = z_quantile(1.0 - alpha / 2.0);
    let shift = mde.abs() / se;
    Ok(math::normal_cdf(shift - z) + math::normal_cdf(-shift - z))
}

/// How an experiment assigns its participants to arms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Assignment {
    /// A fixed split: participants alternate between the arms, so every arm
    /// gets the same number; the classic A/B test.
    #[default]
    Split,
    /// Thompson sampling: each participant goes to the arm whose rate,
    /// drawn from its posterior given the participants so far, is highest.
    /// Most participants end up on the better arm, so fewer outcomes are
    /// lost to the worse one, and the worse arm is measured on fewer people.
    /// Every [`EXPLORE_EVERY`]th participant is assigned in turn instead,
    /// the floor production bandits keep so that an arm written off early
    /// by bad luck is still measured (and the test still has a control).
    Thompson,
}

impl Assignment {
    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            Assignment::Split => "split",
            Assignment::Thompson => "thompson",
        }
    }

    /// The assignment called `id`, if any.
    pub fn from_id(id: &str) -> Option<Assignment> {
        [Assignment::Split, Assignment::Thompson]
            .into_iter()
            .find(|a| a.id() == id)
    }
}

/// Under [`Assignment::Thompson`], one participant in this many is assigned
/// to the arms in turn: with two arms, each keeps at least 5% of them.
pub const EXPLORE_EVERY: usize = 10;

/// The arms of an experiment whose outcome per participant is a count (clicks
/// per user), as an assignment policy sees them: participants and the sum of
/// their outcomes per arm.
///
/// Thompson sampling models each arm's mean count with a Gamma-Poisson
/// posterior: a Gamma(1, 1) prior (one event per participant, worth one
/// participant of evidence), which after `n` participants with `total`
/// events is Gamma(shape 1 + total, rate 1 + n). Outcomes are recorded as
/// each participant is assigned, as if participants arrived one after
/// another and their outcomes were known before the next arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct CountArms {
    participants: Vec<u64>,
    totals: Vec<f64>,
}

impl CountArms {
    /// `arms` arms with no participants yet.
    pub fn new(arms: usize) -> CountArms {
        CountArms {
            participants: vec![0; arms],
            totals: vec![0.0; arms],
        }
    }

    /// The arm for participant number `index` (from 0): `index` modulo the
    /// arms under [`Assignment::Split`] (which draws nothing from `rng`),
    /// the arm with the highest posterior draw under
    /// [`Assignment::Thompson`] (ties to the lower arm), except that every
    /// [`EXPLORE_EVERY`]th participant takes the arms in turn.
    pub fn choose<R: rand::Rng + ?Sized>(
        &self,
        assignment: Assignment,
        index: usize,
        rng: &mut R,
    ) -> usize {
        let k = self.participants.len().max(1);
        match assignment {
            Assignment::Split => index % k,
            Assignment::Thompson if index.is_multiple_of(EXPLORE_EVERY) => {
                (index / EXPLORE_EVERY) % k
            }
            Assignment::Thompson => {
                let mut chosen = 0;
                let mut top = f64::NEG_INFINITY;
                for (arm, (&n, &total)) in self.participants.iter().zip(&self.totals).enumerate() {
                    let scale = 1.0 / (1.0 + n as f64);
                    let draw = Gamma::new(1.0 + total, scale).map_or(0.0, |d| d.sample(rng));
                    if draw > top {
                        top = draw;
                        chosen = arm;
                    }
                }
                chosen
            }
        }
    }

    /// Records one participant of `arm` with outcome `count`.
    pub fn record(&mut self, arm: usize, count: f64) {
        self.participants[arm] += 1;
        self.totals[arm] += count;
    }

    /// Participants assigned to each arm so far.
    pub fn participants(&self) -> &[u64] {
        &self.participants
    }
}

/// A staged rollout watched by a guardrail metric where higher is worse
/// (an error rate, a crash rate, a share of slow requests).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CanaryPlan {
    /// Traffic fractions of the stages, increasing, the last usually 1.
    pub stages: Vec<f64>,
    /// Users observed per period (each period, every user goes to the
    /// canary with the stage's fraction).
    pub users_per_period: u64,
    /// The largest acceptable increase of the guardrail (canary minus
    /// control, in the metric's units).
    pub allowed_degradation: f64,
    /// Level of the two-sided confidence interval (`1 - alpha`).
    pub alpha: f64,
    /// Periods a stage may hold before the rollout gives up and rolls back.
    pub max_holds: u32,
}

impl Default for CanaryPlan {
    fn default() -> Self {
        CanaryPlan {
            stages: vec![0.01, 0.05, 0.25, 0.5, 1.0],
            users_per_period: 1_000_000,
            allowed_degradation: 0.002,
            alpha: 0.05,
            max_holds: 5,
        }
    }
}

/// What a canary stage decides from its guardrail's confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum CanaryDecision {
    /// The whole interval is within the allowed degradation: next stage.
    Advance,
    /// The interval straddles the allowed degradation: observe another period.
    Hold,
    /// The whole interval is beyond the allowed degradation: roll back.
    Rollback,
}

/// The decision for a guardrail whose canary-minus-control interval is
/// `[ci_low, ci_high]`.
pub fn canary_decision(ci_low: f64, ci_high: f64, allowed_degradation: f64) -> CanaryDecision {
    if ci_low > allowed_degradation {
        CanaryDecision::Rollback
    } else if ci_high <= allowed_degradation {
        CanaryDecision::Advance
    } else {
        CanaryDecision::Hold
    }
}

/// One period of a canary rollout.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CanaryPeriod {
    /// The stage's traffic fraction.
    pub fraction: f64,
    /// The guardrail comparison on the stage's users so far (z-test).
    pub guardrail: AbResult,
    /// What the period decided.
    pub decision: CanaryDecision,
}

/// How a rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum CanaryOutcome {
    /// Every stage passed.
    RolledOut,
    /// Rolled back at this traffic fraction.
    RolledBack {
        /// The fraction at which it stopped.
        fraction: f64,
    },
}

/// A simulated rollout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CanaryReport {
    /// Every period, in order.
    pub periods: Vec<CanaryPeriod>,
    /// How it ended.
    pub outcome: CanaryOutcome,
    /// Users who met the canary.
    pub canary_users: u64,
    /// Expected extra guardrail events the canary caused (its users times
    /// the true degradation).
    pub extra_events: f64,
}

impl CanaryPlan {
    /// Checks the plan, naming the first bad field.
    ///
    /// # Errors
    ///
    /// [`ExperimentError::OutOfRange`] naming the field.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        check_range("stages", self.stages.len() as f64, 1.0, 20.0)?;
        let mut last: f64 = 0.0;
        for &f in &self.stages {
            check_range("stages", f, last.max(1e-6), 1.0)?;
            last = f;
        }
        check_range("users_per_period", self.users_per_period as f64, 10.0, 1e9)?;
        check_range("allowed_degradation", self.allowed_degradation, 0.0, 1.0)?;
        check_open_unit("alpha", self.alpha)?;
        check_range("max_holds", f64::from(self.max_holds), 0.0, 100.0)
    }

    /// Simulates the rollout of a canary whose guardrail rate is
    /// `canary_rate` against the control's `control_rate` (stream
    /// `experiment.canary`). Evidence accumulates within a stage; a stage
    /// with no decision after `max_holds` extra periods rolls back. A stage
    /// at fraction 1 has no control left: reaching it completes the rollout.
    ///
    /// # Errors
    ///
    /// [`ExperimentError::OutOfRange`] for a bad plan or a rate outside [0, 1].
    pub fn simulate(
        &self,
        control_rate: f64,
        canary_rate: f64,
        seed: Seed,
    ) -> Result<CanaryReport, ExperimentError> {
        self.validate()?;
        check_range("control_rate", control_rate, 0.0, 1.0)?;
        check_range("canary_rate", canary_rate, 0.0, 1.0)?;
        let mut rng = seed.stream("experiment.canary");
        let draw = |n: u64, p: f64, rng: &mut _| Binomial::new(n, p).map_or(0, |d| d.sample(rng));
        let mut periods = Vec::new();
        let mut canary_users = 0;
        for &fraction in &self.stages {
            if fraction >= 1.0 {
                // No control left to compare with: reaching 100% is the rollout.
                break;
            }
            let (mut cn, mut ce, mut kn, mut ke) = (0u64, 0u64, 0u64, 0u64);
            let mut holds = 0;
            loop {
                let canary = draw(self.users_per_period, fraction, &mut rng);
                let control = self.users_per_period - canary;
                kn += canary;
                ke += draw(canary, canary_rate, &mut rng);
                cn += control;
                ce += draw(control, control_rate, &mut rng);
                canary_users += canary;
                let decision = match compare_stats(
                    ArmStats::from_counts(ce, cn),
                    ArmStats::from_counts(ke, kn),
                    TestKind::Z,
                    self.alpha,
                ) {
                    Ok(g) => {
                        let d = canary_decision(g.ci_low, g.ci_high, self.allowed_degradation);
                        periods.push(CanaryPeriod {
                            fraction,
                            guardrail: g,
                            decision: d,
                        });
                        d
                    }
                    // No events yet in either arm: no evidence either way.
                    Err(_) => CanaryDecision::Hold,
                };
                match decision {
                    CanaryDecision::Advance => break,
                    CanaryDecision::Hold if holds < self.max_holds => holds += 1,
                    CanaryDecision::Hold | CanaryDecision::Rollback => {
                        return Ok(CanaryReport {
                            periods,
                            outcome: CanaryOutcome::RolledBack { fraction },
                            canary_users,
                            extra_events: canary_users as f64 * (canary_rate - control_rate),
                        });
                    }
                }
            }
        }
        Ok(CanaryReport {
            periods,
            outcome: CanaryOutcome::RolledOut,
            canary_users,
            extra_events: canary_users as f64 * (canary_rate - control_rate),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    /// Welch's test on two small samples, against scipy 1.17.1:
    /// `ttest_ind(b, a, equal_var=False)` and its `confidence_interval(0.95)`.
    #[test]
    fn welch_matches_scipy() {
        let a = [3.1, 2.7, 4.0, 3.6, 2.9, 3.3, 4.4, 3.0];
        let b = [3.9, 4.2, 3.5, 4.8, 4.1, 3.7, 5.0, 4.4, 3.8, 4.6];
        let r = compare(&a, &b, TestKind::Welch, 0.05).expect("valid samples");
        let close = |x: f64, y: f64, tol: f64| assert!((x - y).abs() < tol, "{x} vs {y}");
        close(r.statistic, 3.182_215_339_185_051_4, 1e-12);
        close(
            r.degrees_of_freedom.unwrap_or(0.0),
            13.785_840_271_278_301,
            1e-10,
        );
        close(r.p_value, 0.006_762_766_276_986_648, 1e-10);
        close(r.ci_low, 0.268_145_378_684_361_17, 1e-9);
        close(r.ci_high, 1.381_854_621_315_637_3, 1e-9);
        assert!(r.significant);
    }

    /// The normal quantiles behind the sample size, against scipy's
    /// `norm.ppf(0.975)` and `norm.ppf(0.8)`.
    #[test]
    fn sample_size_follows_the_formula() {
        assert!((z_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((z_quantile(0.8) - 0.841_621_233_572_914_3).abs() < 1e-12);
        // σ = 1, δ = 0.2: 15.70 / 0.04 = 392.4, rounded up; the 16σ²/δ² rule says 400.
        let n = sample_size_per_arm(1.0, 0.2, 0.05, 0.8).expect("valid");
        assert_eq!(n, 393);
        let at_n = power(n, 1.0, 0.2, 0.05).expect("valid");
        let below = power(n - 1, 1.0, 0.2, 0.05).expect("valid");
        assert!(below < 0.8 && at_n >= 0.8, "{below} {at_n}");
        assert!(matches!(
            sample_size_per_arm(1.0, 0.0, 0.05, 0.8),
            Err(ExperimentError::OutOfRange { name: "mde", .. })
        ));
        assert!(matches!(
            power(100, 1.0, 0.1, 1.5),
            Err(ExperimentError::OutOfRange { name: "alpha", .. })
        ));
    }

    /// Rejection rate of `experiments` simulated Welch tests with normal
    /// outcomes (σ = 1) and a true difference `delta`.
    fn rejection_rate(n: usize, delta: f64, experiments: usize, seed: u64) -> f64 {
        let mut rng = Seed(seed).stream("test.experiment");
        let mut rejected = 0;
        for _ in 0..experiments {
            let c: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
            let t: Vec<f64> = (0..n)
                .map(|_| delta + rng.sample::<f64, _>(StandardNormal))
                .collect();
            let r = compare(&c, &t, TestKind::Welch, 0.05).expect("valid samples");
            rejected += usize::from(r.significant);
        }
        rejected as f64 / experiments as f64
    }

    /// The computed n gives power 0.8: over 400 simulated experiments the
    /// empirical power is within ±0.05 of it (its standard error is 0.02).
    #[test]
    fn empirical_power_at_the_computed_n_is_eighty_percent() {
        let n = sample_size_per_arm(1.0, 0.2, 0.05, 0.8).expect("valid") as usize;
        for seed in [1, 2] {
            let p = rejection_rate(n, 0.2, 400, seed);
            assert!((p - 0.8).abs() <= 0.05, "seed {seed}: power {p}");
        }
    }

    /// A/A tests reject at about α: 1,000 experiments, 0.05 ± 0.02
    /// (standard error 0.007).
    #[test]
    fn false_positive_rate_under_aa_is_alpha() {
        let rate = rejection_rate(200, 0.0, 1000, 3);
        assert!((rate - 0.05).abs() <= 0.02, "{rate}");
    }

    /// Serves `users` participants from Poisson arms with means `rates`;
    /// returns the expected events lost to worse arms and the share of
    /// participants on the best arm.
    fn serve_poisson(rates: &[f64], users: usize, assignment: Assignment, seed: u64) -> (f64, f64) {
        let top = (0..rates.len())
            .max_by(|&a, &b| rates[a].total_cmp(&rates[b]))
            .unwrap_or(0);
        let best = rates[top];
        let mut arms = CountArms::new(rates.len());
        let mut rng = Seed(seed).stream("test.bandit");
        let mut lost = 0.0;
        for user in 0..users {
            let arm = arms.choose(assignment, user, &mut rng);
            let count: f64 = rand_distr::Poisson::new(rates[arm])
                .expect("rate")
                .sample(&mut rng);
            arms.record(arm, count);
            lost += best - rates[arm];
        }
        (lost, arms.participants()[top] as f64 / users as f64)
    }

    #[test]
    fn thompson_sampling_loses_less_than_a_fixed_split() {
        let rates = [2.0, 2.2, 1.8];
        for seed in [1, 2] {
            let (split, split_share) = serve_poisson(&rates, 20_000, Assignment::Split, seed);
            let (ts, ts_share) = serve_poisson(&rates, 20_000, Assignment::Thompson, seed);
            // A fixed split loses (0.2 + 0.4) / 3 per participant: 4,000 in all.
            assert!((split - 4000.0).abs() < 1.0, "{split}");
            assert!((split_share - 1.0 / 3.0).abs() < 1e-3, "{split_share}");
            // The exploration floor alone loses a tenth of the split's.
            assert!(ts < 0.25 * split, "{ts} vs {split}");
            assert!(ts > 0.1 * split, "{ts} vs {split}");
            assert!(ts_share > 0.85, "{ts_share}");
        }
        assert_eq!(Assignment::from_id("thompson"), Some(Assignment::Thompson));
        assert_eq!(Assignment::from_id("split"), Some(Assignment::Split));
        assert_eq!(Assignment::from_id("bandit"), None);
    }

    #[test]
    fn a_bad_canary_rolls_back_early_and_a_good_one_rolls_out() {
        let plan = CanaryPlan::default();
        // Error rate doubles, 1% to 2%; allowed +0.2 points.
        let bad = plan.simulate(0.01, 0.02, Seed(1)).expect("valid");
        assert!(
            matches!(bad.outcome, CanaryOutcome::RolledBack { fraction } if fraction <= 0.05),
            "{:?}",
            bad.outcome
        );
        assert_eq!(
            bad.periods.last().map(|p| p.decision),
            Some(CanaryDecision::Rollback)
        );
        let good = plan.simulate(0.01, 0.01, Seed(1)).expect("valid");
        assert_eq!(good.outcome, CanaryOutcome::RolledOut);
        assert!(good.canary_users > bad.canary_users);
        assert_eq!(canary_decision(-0.1, 0.001, 0.002), CanaryDecision::Advance);
        assert_eq!(canary_decision(-0.1, 0.003, 0.002), CanaryDecision::Hold);
        assert_eq!(
            canary_decision(0.003, 0.01, 0.002),
            CanaryDecision::Rollback
        );
    }
}
