//! Step 8, online testing and deployment, in the harmful-content world. No
//! one may knowingly show harmful posts to a control group, so an
//! enforcement model is not A/B tested like a ranker: it first runs in
//! *shadow mode* beside production (it scores every post, acts on none,
//! and its decisions are compared with production's), then acts on a
//! growing share of uploads in a *canary* rollout that rolls back when a
//! guardrail (wrongful removals) moves past what the team allows.
//!
//! Production is today's enforcement: the keyword rule under the same
//! two-threshold policy and review queue. Both are measured on the test
//! days' posts against the world's truth (what reviewing every
//! disagreement would tell). The canary draws a platform's daily uploads
//! ([`RolloutDesign::posts_per_day`]) at the wrongful-removal rates the two
//! policies really have on those posts, so the evidence it waits for is
//! the evidence a platform of that size would get.

use serde::Serialize;

use super::{PolicyConfig, PolicyOutcome, apply_policy, keyword_scores};
use crate::engine::experiment::{CanaryOutcome, CanaryPlan};
use crate::engine::pipeline::PipelineError;
use crate::engine::rng::Seed;
use crate::engine::world::content::ContentWorld;

/// What the rollout step chooses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RolloutDesign {
    /// The largest increase of wrongful removals the canary may cause, per
    /// 1,000 posts (canary minus production).
    pub guardrail_per_1000: f64,
    /// Uploads per day on the whole platform: each day of the canary sees
    /// this many posts, its stage's share of them scored by the candidate.
    pub posts_per_day: u64,
}

impl Default for RolloutDesign {
    fn default() -> Self {
        RolloutDesign {
            guardrail_per_1000: 0.5,
            posts_per_day: 1_000_000,
        }
    }
}

/// The candidate's decisions against production's, acting on none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShadowReport {
    /// Share of test posts whose decision (remove, review or leave) differs.
    pub disagreement_rate: f64,
    /// Harmful test posts the candidate would remove or queue for review.
    pub harmful_flagged: usize,
    /// The same for production.
    pub harmful_flagged_production: usize,
    /// `harmful_flagged - harmful_flagged_production`.
    pub extra_harmful_flagged: f64,
    /// Benign test posts the candidate would remove outright.
    pub benign_removed: usize,
    /// The same for production.
    pub benign_removed_production: usize,
    /// Mean posts a day the candidate would send to review, minus production's.
    pub review_load_change: f64,
}

/// How the canary went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CanarySummary {
    /// 1 if every stage passed, 0 if it rolled back.
    pub rolled_out: u8,
    /// The traffic share reached: 1 when rolled out, else the stage at
    /// which it rolled back.
    pub reached: f64,
    /// Days on which the canary decided (advance, hold or roll back); a day
    /// with no wrongful removal in either arm gives no evidence.
    pub decisions: usize,
    /// Posts the candidate scored and acted on.
    pub canary_posts: u64,
    /// Wrongful removals per 1,000 posts under each policy, as measured on
    /// the test days; the canary's evidence is drawn at these rates.
    pub wrongful_per_1000: f64,
    pub wrongful_per_1000_production: f64,
    /// Expected extra wrongful removals the canary caused (negative: it
    /// spared posts production would have removed).
    pub extra_wrongful_removals: f64,
}

/// Step 8's report.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutReport {
    pub shadow: ShadowReport,
    pub canary: CanarySummary,
}

/// What the policy decides for a score before review: 2 remove, 1 review,
/// 0 leave. A review band above `high` (an empty band) queues nothing.
fn decision(score: f64, policy: &PolicyConfig) -> u8 {
    // `low <= high` (the design's check), so a score past `high` counts 2.
    u8::from(score >= policy.low) + u8::from(score >= policy.high)
}

/// Runs shadow mode and the canary for the candidate's `scores` of the
/// `test` posts, whose policy outcome is `candidate`.
///
/// # Errors
/// [`PipelineError::Design`] if the rollout's knobs are out of range
/// ([`super::ContentDesign::validate`] checks them first).
pub(super) fn roll_out(
    world: &ContentWorld,
    test: &[usize],
    scores: &[f64],
    candidate: &PolicyOutcome,
    policy: &PolicyConfig,
    design: RolloutDesign,
    seed: Seed,
) -> Result<RolloutReport, PipelineError> {
    let production_scores = keyword_scores(world, test);
    let production = apply_policy(world, test, &production_scores, policy);
    let posts = &world.posts;
    let (mut differ, mut harmful, mut harmful_prod, mut benign, mut benign_prod) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut queued, mut queued_prod) = (0usize, 0usize);
    for (k, &i) in test.iter().enumerate() {
        let (a, b) = (
            decision(scores[k], policy),
            decision(production_scores[k], policy),
        );
        differ += usize::from(a != b);
        queued += usize::from(a == 1);
        queued_prod += usize::from(b == 1);
        if posts.is_harmful(i) {
            harmful += usize::from(a > 0);
            harmful_prod += usize::from(b > 0);
        } else {
            benign += usize::from(a == 2);
            benign_prod += usize::from(b == 2);
        }
    }
    let n = test.len().max(1) as f64;
    let days = {
        let mut d: Vec<u16> = test.iter().map(|&i| posts.day[i]).collect();
        d.sort_unstable();
        d.dedup();
        d.len().max(1) as f64
    };
    let shadow = ShadowReport {
        disagreement_rate: differ as f64 / n,
        harmful_flagged: harmful,
        harmful_flagged_production: harmful_prod,
        extra_harmful_flagged: harmful as f64 - harmful_prod as f64,
        benign_removed: benign,
        benign_removed_production: benign_prod,
        review_load_change: (queued as f64 - queued_prod as f64) / days,
    };

    let rate = |o: &PolicyOutcome| o.wrongful_removals as f64 / n;
    let (canary_rate, control_rate) = (rate(candidate), rate(&production));
    let plan = CanaryPlan {
        users_per_period: design.posts_per_day,
        allowed_degradation: design.guardrail_per_1000 / 1_000.0,
        ..CanaryPlan::default()
    };
    let report = plan
        .simulate(control_rate, canary_rate, seed)
        .map_err(|_| PipelineError::Design {
            name: "rollout.guardrail_per_1000",
            value: design.guardrail_per_1000,
            min: 0.0,
            max: 1_000.0,
        })?;
    let (rolled_out, reached) = match report.outcome {
        CanaryOutcome::RolledOut => (1, 1.0),
        CanaryOutcome::RolledBack { fraction } => (0, fraction),
    };
    Ok(RolloutReport {
        shadow,
        canary: CanarySummary {
            rolled_out,
            reached,
            decisions: report.periods.len(),
            canary_posts: report.canary_users,
            wrongful_per_1000: 1_000.0 * canary_rate,
            wrongful_per_1000_production: 1_000.0 * control_rate,
            extra_wrongful_removals: report.extra_events,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::world::content::ContentParams;

    /// A small world and its last three days' posts.
    fn world() -> (ContentWorld, Vec<usize>) {
        let params = ContentParams {
            posts_per_day: 2_000,
            days: 6,
            ..ContentParams::default()
        };
        let world = ContentWorld::generate(&params, Seed(5)).expect("a valid world");
        let test = (0..world.posts.day.len())
            .filter(|&i| world.posts.day[i] >= 3)
            .collect();
        (world, test)
    }

    fn run(world: &ContentWorld, test: &[usize], scores: &[f64]) -> RolloutReport {
        let policy = PolicyConfig::default();
        let candidate = apply_policy(world, test, scores, &policy);
        roll_out(
            world,
            test,
            scores,
            &candidate,
            &policy,
            RolloutDesign::default(),
            Seed(1),
        )
        .expect("valid knobs")
    }

    #[test]
    fn production_in_shadow_of_itself_agrees_everywhere() {
        let (world, test) = world();
        let scores = keyword_scores(&world, &test);
        let r = run(&world, &test, &scores);
        assert!(r.shadow.disagreement_rate.abs() < 1e-12);
        assert!(r.shadow.extra_harmful_flagged.abs() < 1e-12);
        assert!(r.shadow.review_load_change.abs() < 1e-12);
        assert_eq!(r.shadow.benign_removed, r.shadow.benign_removed_production);
        assert!((r.canary.wrongful_per_1000 - r.canary.wrongful_per_1000_production).abs() < 1e-12);
    }

    #[test]
    fn an_oracle_rolls_out_and_a_model_that_removes_everything_rolls_back() {
        let (world, test) = world();
        let harmful = test.iter().filter(|&&i| world.posts.is_harmful(i)).count();
        let oracle: Vec<f64> = test
            .iter()
            .map(|&i| f64::from(u8::from(world.posts.is_harmful(i))))
            .collect();
        let r = run(&world, &test, &oracle);
        assert_eq!(r.shadow.harmful_flagged, harmful);
        assert_eq!(r.shadow.benign_removed, 0);
        assert!(r.shadow.extra_harmful_flagged > 0.0, "{:?}", r.shadow);
        assert!(r.canary.wrongful_per_1000.abs() < 1e-12);
        assert_eq!((r.canary.rolled_out, r.canary.reached), (1, 1.0));
        assert!(r.canary.extra_wrongful_removals <= 0.0);

        let everything = vec![1.0; test.len()];
        let r = run(&world, &test, &everything);
        assert_eq!(r.shadow.benign_removed, test.len() - harmful);
        assert_eq!(r.canary.rolled_out, 0);
        // Removing every benign post is beyond any doubt at the first stage.
        assert!((r.canary.reached - 0.01).abs() < 1e-12);
        assert_eq!(r.canary.decisions, 1);
        assert!(r.canary.extra_wrongful_removals > 0.0);
    }
}
