//! An A/B test of the trained ranker against the production (logging)
//! policy, on simulated users: each participant is one of the users served
//! online, randomized to an arm; on each day of the test they open the feed
//! with their own activity rate and see one of their feeds as that arm ranks
//! it; every slot's click is drawn from the world's ground truth. The test
//! then compares clicks per user with Welch's test, as an experiment
//! platform would, and a pre-experiment calculator says how many users the
//! chosen minimum detectable effect needs.
//!
//! Participants are assigned by a fixed split (the A/B test) or by Thompson
//! sampling on clicks per user ([`Assignment`]). Either way the report
//! counts the clicks the worse arm cost (`regret`: the participants' expected
//! clicks under the better arm minus under their own, from the world's click
//! probabilities), and the test's power is computed for the arm sizes the
//! assignment produced, so a bandit's saving and the evidence it gives up
//! are both on the page.

use rand::RngExt;
use serde::Serialize;

use crate::engine::experiment::{self, Assignment, CountArms, TestKind};
use crate::engine::rng::Seed;
use crate::engine::world::feed::FeedWorld;

/// The experiment's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AbDesign {
    /// Users randomized to each arm.
    pub users_per_arm: u32,
    /// Days the test runs.
    pub days: u16,
    /// Smallest relative lift in clicks per user worth detecting (0.02 = 2%).
    pub mde: f64,
    /// How participants are assigned to the arms.
    pub assignment: Assignment,
}

impl Default for AbDesign {
    fn default() -> Self {
        AbDesign {
            users_per_arm: 2_000,
            days: 7,
            mde: 0.05,
            assignment: Assignment::Split,
        }
    }
}

/// Significance level and power of every test.
pub const ALPHA: f64 = 0.05;
pub const POWER: f64 = 0.8;

/// What the test measured. Lifts are relative to the control's mean.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbReport {
    pub users_per_arm: u32,
    pub days: u16,
    /// Clicks per user over the test, production policy.
    pub control_mean: f64,
    /// Clicks per user over the test, the trained ranker.
    pub treatment_mean: f64,
    pub lift: f64,
    /// Treatment minus control, clicks per user, with its 95% interval.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// 95% confidence interval of the lift.
    pub lift_ci_low: f64,
    pub lift_ci_high: f64,
    /// Two-sided p-value (Welch).
    pub p_value: f64,
    /// 1 if `p_value < 0.05`, else 0.
    pub significant: u8,
    /// Users per arm the calculator asks for, to detect `mde` with power
    /// 0.8 at level 0.05: about 16 sigma^2 / delta^2, sigma from the
    /// control arm.
    pub required_users_per_arm: u64,
    /// Power of this test against a true lift of `mde`, for the arm sizes
    /// the assignment produced (unequal arms count as `2 / (1/n1 + 1/n2)`
    /// per arm).
    pub power: f64,
    /// Share of the participants assigned to the trained ranker.
    pub treatment_share: f64,
    /// Expected clicks lost to the worse arm over the test: for each
    /// participant, their expected clicks under the arm that is better for
    /// the served users as a whole (each weighed by how often they open the
    /// feed) minus under the arm they got.
    pub regret: f64,
}

/// The click probability of every slot of every served session, per arm,
/// and whose session it was.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServedSessions {
    pub user: Vec<u32>,
    /// `control[s]` and `treatment[s]`: session `s`'s click probabilities
    /// slot by slot.
    pub control: Vec<Vec<f64>>,
    pub treatment: Vec<Vec<f64>>,
}

/// Each served user's sessions, so a participant sees their own feeds.
fn sessions_by_user(served: &ServedSessions) -> Vec<(u32, Vec<usize>)> {
    let mut by_user: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut order: Vec<usize> = (0..served.user.len()).collect();
    order.sort_by_key(|&s| (served.user[s], s));
    for s in order {
        match by_user.last_mut() {
            Some((u, list)) if *u == served.user[s] => list.push(s),
            _ => by_user.push((served.user[s], vec![s])),
        }
    }
    by_user
}

/// Each user's expected clicks in one open, per arm: the mean over their
/// sessions of the slots' click probabilities.
fn expected_clicks(by_user: &[(u32, Vec<usize>)], arms: [&Vec<Vec<f64>>; 2]) -> [Vec<f64>; 2] {
    std::array::from_fn(|arm| {
        by_user
            .iter()
            .map(|(_, sessions)| {
                let total: f64 = sessions
                    .iter()
                    .map(|&s| arms[arm][s].iter().sum::<f64>())
                    .sum();
                total / sessions.len() as f64
            })
            .collect()
    })
}

/// Runs the test on `served` (empty: a report of zeros).
pub fn run(world: &FeedWorld, served: &ServedSessions, design: AbDesign, seed: Seed) -> AbReport {
    let mut empty = AbReport {
        users_per_arm: design.users_per_arm,
        days: design.days,
        control_mean: 0.0,
        treatment_mean: 0.0,
        lift: 0.0,
        difference: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        lift_ci_low: 0.0,
        lift_ci_high: 0.0,
        p_value: 1.0,
        significant: 0,
        required_users_per_arm: 0,
        power: 0.0,
        treatment_share: 0.0,
        regret: 0.0,
    };
    let by_user = sessions_by_user(served);
    if by_user.is_empty() || design.users_per_arm < 2 {
        return empty;
    }
    let arms = [&served.control, &served.treatment];
    let expected = expected_clicks(&by_user, arms);
    let activity = |i: usize| f64::from(world.users.activity[by_user[i].0 as usize]);
    let population = |arm: usize| -> f64 {
        (0..by_user.len())
            .map(|i| activity(i) * expected[arm][i])
            .sum()
    };
    let best = usize::from(population(1) > population(0));
    let mut rng = seed.stream("feed.ab");
    let mut assign_rng = seed.stream("feed.ab.assignment");
    let mut assigned = CountArms::new(2);
    let mut regret = 0.0;
    let mut outcomes: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for participant in 0..2 * design.users_per_arm as usize {
        let arm = assigned.choose(design.assignment, participant, &mut assign_rng);
        let index = rng.random_range(0..by_user.len());
        let sessions = &by_user[index].1;
        let activity = activity(index);
        regret +=
            f64::from(design.days) * activity * (expected[best][index] - expected[arm][index]);
        let mut clicks = 0.0;
        for _ in 0..design.days {
            let opens: f64 = rng.random();
            let session = sessions[rng.random_range(0..sessions.len())];
            if opens >= activity {
                continue;
            }
            for &p in &arms[arm][session] {
                let r: f64 = rng.random();
                if r < p {
                    clicks += 1.0;
                }
            }
        }
        assigned.record(arm, clicks);
        outcomes[arm].push(clicks);
    }
    empty.regret = regret;
    let [n1, n2] = [assigned.participants()[0], assigned.participants()[1]];
    empty.treatment_share = n2 as f64 / (n1 + n2) as f64;
    let Ok(result) = experiment::compare(&outcomes[0], &outcomes[1], TestKind::Welch, ALPHA) else {
        return empty;
    };
    let base = result.control.mean;
    let sigma = result.control.variance.sqrt();
    let relative = |x: f64| if base > 0.0 { x / base } else { 0.0 };
    let delta = design.mde * base;
    empty.control_mean = base;
    empty.treatment_mean = result.treatment.mean;
    empty.lift = relative(result.difference);
    empty.difference = result.difference;
    empty.ci_low = result.ci_low;
    empty.ci_high = result.ci_high;
    empty.lift_ci_low = relative(result.ci_low);
    empty.lift_ci_high = relative(result.ci_high);
    empty.p_value = result.p_value;
    empty.significant = u8::from(result.significant);
    empty.required_users_per_arm =
        experiment::sample_size_per_arm(sigma, delta, ALPHA, POWER).unwrap_or(0);
    // Unequal arms measure the difference as well as two equal arms of the
    // harmonic mean's size: the standard error goes with 1/n1 + 1/n2.
    let per_arm = 2 * n1 * n2 / (n1 + n2);
    empty.power = experiment::power(per_arm, sigma, delta, ALPHA).unwrap_or(0.0);
    empty
}
