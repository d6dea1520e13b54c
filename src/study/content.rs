//! The harmful-content world's knobs and report keys: how a [`Design`]
//! becomes the engine's [`ContentDesign`]. A knob the study does not offer
//! keeps the engine's default.

use crate::engine::features::Scaling;
use crate::engine::features::content::ContentFeatureOptions;
use crate::engine::models::gbdt::GbdtConfig;
use crate::engine::models::logistic::LogisticConfig;
use crate::engine::models::mlp::{Fusion, MlpConfig};
use crate::engine::pipeline::content::{
    ContentDesign, ContentModel, PolicyConfig, RolloutDesign, content_logistic, content_mlp,
};
use crate::engine::sampling::{Imbalance, Sampling};
use crate::engine::split::SplitKind;
use crate::engine::world::content::{ContentDrift, ContentParams, LabelSource};

use super::knobs::{Design, KnobDef, choice, number, toggle};
use super::{Better, Metric};

/// Oversampling repeats each positive this many times.
const OVERSAMPLE_FACTOR: u32 = 4;
/// Undersampling keeps this fraction of the negatives.
const UNDERSAMPLE_RATE: f64 = 0.25;
/// The vocabulary swap the `drift` knob turns on: from the first test day,
/// adversaries replace each lexicon token by a new variant with this
/// probability, in every category.
const DRIFT_SWAP_SHARE: f64 = 0.6;

/// Every knob the content world understands, with its outer bounds.
pub(crate) const KNOBS: &[KnobDef] = &[
    number("prevalence", 0.0005, 0.2, false),
    choice("drift", &["none", "vocabulary_swap"]),
    number("threshold_low", 0.0, 1.0, false),
    number("threshold_high", 0.0, 1.0, false),
    number("review_capacity", 0.0, 100_000.0, true),
    choice("labels", &["human_review", "user_reports", "heuristic"]),
    number("label_budget", 0.0, 100_000.0, true),
    choice(
        "sampling",
        &[
            "all",
            "uniform",
            "stratified",
            "reservoir",
            "negative_downsampling",
        ],
    ),
    number("sample_rate", 0.01, 1.0, false),
    number("neg_rate", 0.01, 1.0, false),
    toggle("recalibrate"),
    choice(
        "imbalance",
        &["none", "oversample", "undersample", "class_weight"],
    ),
    choice("split", &["time", "random"]),
    choice("leakage", &["none", "future_feature"]),
    choice("features", &["all", "no_history"]),
    number("hash_buckets", 2.0, 1_048_576.0, true),
    choice(
        "scaling",
        &["none", "standardize", "min_max", "log", "bucketize"],
    ),
    choice("model", &["keyword_rule", "logistic", "gbdt", "mlp"]),
    choice("fusion", &["early", "late"]),
    number("trees", 1.0, 500.0, true),
    number("max_depth", 1.0, 12.0, true),
    number("hidden_layers", 1.0, 2.0, true),
    number("epochs", 1.0, 50.0, true),
    number("canary_guardrail", 0.0, 1_000.0, false),
    // Thousands of uploads a day.
    number("canary_posts", 0.01, 1e6, false),
];

/// Every numeric key of the content report, as claims and the CLI name them,
/// with its label and which way is better.
pub(crate) const METRICS: &[Metric] = &[
    Metric::new("offline.auc", "ROC-AUC", Better::Higher),
    Metric::new("offline.pr_auc", "PR-AUC", Better::Higher),
    Metric::new("offline.log_loss", "Log loss", Better::Lower),
    Metric::new("offline.ne", "Normalized entropy", Better::Lower),
    Metric::new("offline.calibration", "Calibration", Better::NearOne),
    Metric::new("offline.ece", "ECE", Better::Lower),
    Metric::new(
        "offline.recall_at_precision_90",
        "Recall at precision 90%",
        Better::Higher,
    ),
    Metric::new("per_category.spam.auc", "ROC-AUC, spam", Better::Higher),
    Metric::new("per_category.spam.pr_auc", "PR-AUC, spam", Better::Higher),
    Metric::new(
        "per_category.spam.prevalence",
        "Prevalence, spam",
        Better::Neither,
    ),
    Metric::new(
        "per_category.harassment.auc",
        "ROC-AUC, harassment",
        Better::Higher,
    ),
    Metric::new(
        "per_category.harassment.pr_auc",
        "PR-AUC, harassment",
        Better::Higher,
    ),
    Metric::new(
        "per_category.harassment.prevalence",
        "Prevalence, harassment",
        Better::Neither,
    ),
    Metric::new(
        "per_category.violence.auc",
        "ROC-AUC, violence",
        Better::Higher,
    ),
    Metric::new(
        "per_category.violence.pr_auc",
        "PR-AUC, violence",
        Better::Higher,
    ),
    Metric::new(
        "per_category.violence.prevalence",
        "Prevalence, violence",
        Better::Neither,
    ),
    Metric::new(
        "per_category.self_harm.auc",
        "ROC-AUC, self-harm",
        Better::Higher,
    ),
    Metric::new(
        "per_category.self_harm.pr_auc",
        "PR-AUC, self-harm",
        Better::Higher,
    ),
    Metric::new(
        "per_category.self_harm.prevalence",
        "Prevalence, self-harm",
        Better::Neither,
    ),
    Metric::new("model.params", "Parameters", Better::Lower),
    Metric::new("model.flops_per_item", "FLOPs per item", Better::Lower),
    Metric::new("model.bytes", "Model size (bytes)", Better::Lower),
    Metric::new("data.posts", "Posts", Better::Neither),
    Metric::new(
        "data.labeled_train_posts",
        "Labeled training posts",
        Better::Neither,
    ),
    Metric::new(
        "data.unlabeled_train_posts",
        "Unlabeled training posts",
        Better::Neither,
    ),
    Metric::new("data.train_rows", "Training rows", Better::Neither),
    Metric::new("data.valid_rows", "Validation rows", Better::Neither),
    Metric::new("data.test_rows", "Test rows", Better::Neither),
    Metric::new("data.label_cost", "Labeling cost ($)", Better::Lower),
    Metric::new("data.label_noise", "Label noise", Better::Lower),
    Metric::new(
        "data.label_positive_rate",
        "Labeled harmful share",
        Better::Neither,
    ),
    Metric::new(
        "data.train_positive_rate",
        "Harmful share in training",
        Better::Neither,
    ),
    Metric::new("data.test_prevalence", "Test prevalence", Better::Neither),
    Metric::new("training.best_epoch", "Best epoch", Better::Neither),
    Metric::new("policy.removed", "Removed automatically", Better::Neither),
    Metric::new("policy.sent_to_review", "Sent to review", Better::Neither),
    Metric::new("policy.reviewed", "Reviewed", Better::Neither),
    Metric::new("policy.review_overflow", "Review overflow", Better::Lower),
    Metric::new(
        "policy.wrongful_removals",
        "Wrongful removals",
        Better::Lower,
    ),
    Metric::new("policy.proactive_rate", "Proactive rate", Better::Higher),
    Metric::new(
        "policy.harmful_view_prevalence",
        "Harmful view prevalence",
        Better::Lower,
    ),
    Metric::new(
        "policy.harmful_view_prevalence_unenforced",
        "Harmful view prevalence, no enforcement",
        Better::Neither,
    ),
    Metric::new(
        "shadow.disagreement_rate",
        "Shadow: decisions that differ",
        Better::Neither,
    ),
    Metric::new(
        "shadow.harmful_flagged",
        "Shadow: harmful posts flagged",
        Better::Higher,
    ),
    Metric::new(
        "shadow.harmful_flagged_production",
        "Shadow: harmful posts production flags",
        Better::Neither,
    ),
    Metric::new(
        "shadow.extra_harmful_flagged",
        "Shadow: harmful posts flagged beyond production",
        Better::Higher,
    ),
    Metric::new(
        "shadow.benign_removed",
        "Shadow: benign posts it would remove",
        Better::Lower,
    ),
    Metric::new(
        "shadow.benign_removed_production",
        "Shadow: benign posts production removes",
        Better::Neither,
    ),
    Metric::new(
        "shadow.review_load_change",
        "Shadow: review queue change per day",
        Better::Neither,
    ),
    Metric::new("canary.rolled_out", "Canary rolled out", Better::Higher),
    Metric::new("canary.reached", "Canary traffic reached", Better::Higher),
    Metric::new("canary.decisions", "Canary days decided", Better::Neither),
    Metric::new(
        "canary.canary_posts",
        "Posts in the canary",
        Better::Neither,
    ),
    Metric::new(
        "canary.wrongful_per_1000",
        "Wrongful removals per 1,000 posts",
        Better::Lower,
    ),
    Metric::new(
        "canary.wrongful_per_1000_production",
        "Wrongful removals per 1,000, production",
        Better::Neither,
    ),
    Metric::new(
        "canary.extra_wrongful_removals",
        "Extra wrongful removals in the canary",
        Better::Lower,
    ),
    Metric::new("monitoring.day_count", "Days monitored", Better::Neither),
    Metric::new(
        "monitoring.mean_recall",
        "Harmful posts caught, mean over the days",
        Better::Higher,
    ),
    Metric::new(
        "monitoring.recall_drop",
        "Harmful posts caught, lost first to last day",
        Better::Lower,
    ),
    Metric::new(
        "monitoring.mean_pr_auc",
        "PR-AUC over the days",
        Better::Higher,
    ),
    Metric::new("monitoring.alerts", "Drift alerts", Better::Neither),
    Metric::new("monitoring.retrains", "Retrains", Better::Neither),
];

/// The metrics the app shows as cards, in order.
pub(crate) const CARDS: &[&str] = &[
    "offline.pr_auc",
    "offline.auc",
    "offline.recall_at_precision_90",
    "offline.calibration",
    "policy.harmful_view_prevalence",
    "policy.wrongful_removals",
    "policy.review_overflow",
    "data.label_cost",
];

/// Share of all posts that are harmful, summed over the categories.
pub(crate) fn total_prevalence(params: &ContentParams) -> f64 {
    params.categories.iter().map(|c| c.prevalence).sum()
}

/// `params` with every category's prevalence scaled so that they sum to
/// `total`, keeping their proportions.
pub(crate) fn with_prevalence(params: &ContentParams, total: f64) -> ContentParams {
    let mut world = params.clone();
    let now = total_prevalence(params);
    // The same total keeps the parameters bit for bit.
    if now > 0.0 && (total - now).abs() > 1e-12 * now {
        for c in &mut world.categories {
            c.prevalence = c.prevalence * total / now;
        }
    }
    world
}

/// The engine design for `design` in a world with `params`.
pub(crate) fn content_design(params: &ContentParams, design: &Design) -> ContentDesign {
    let base = ContentDesign::default();
    let mut world = match design.get("prevalence") {
        Some(_) => with_prevalence(params, design.number("prevalence", 0.0)),
        None => params.clone(),
    };
    let test_days = match base.split {
        SplitKind::ByTime { test_days, .. } => test_days,
        SplitKind::Random { .. } => 3,
    };
    if design.choice("drift", "none") == "vocabulary_swap" {
        world.drift.push(ContentDrift::VocabularySwap {
            day: world.days.saturating_sub(test_days),
            category: None,
            share: DRIFT_SWAP_SHARE,
        });
    }
    world.review.capacity_per_day =
        design.number("label_budget", f64::from(world.review.capacity_per_day)) as u32;

    let label_source = match design.choice("labels", "human_review") {
        "user_reports" => LabelSource::UserReports,
        "heuristic" => LabelSource::Heuristic,
        _ => LabelSource::HumanReview,
    };
    let sample_rate = design.number("sample_rate", 0.25);
    let sampling = match design.choice("sampling", "all") {
        "uniform" => Sampling::Uniform { rate: sample_rate },
        "stratified" => Sampling::Stratified { rate: sample_rate },
        "reservoir" => Sampling::Reservoir {
            size: reservoir_size(&world, sample_rate),
        },
        "negative_downsampling" => Sampling::NegativeDownsampling {
            rate: design.number("neg_rate", 0.1),
        },
        _ => Sampling::All,
    };
    let imbalance = match design.choice("imbalance", "none") {
        "oversample" => Imbalance::Oversample {
            factor: OVERSAMPLE_FACTOR,
        },
        "undersample" => Imbalance::Undersample {
            rate: UNDERSAMPLE_RATE,
        },
        "class_weight" => Imbalance::ClassWeight,
        _ => Imbalance::None,
    };
    let split = match design.choice("split", "time") {
        "random" => {
            let days = f64::from(world.days.max(1));
            SplitKind::Random {
                valid: 2.0 / days,
                test: f64::from(test_days) / days,
            }
        }
        _ => base.split,
    };
    let features = ContentFeatureOptions {
        author_history: design.choice("features", "all") != "no_history",
        future_leak: design.choice("leakage", "none") == "future_feature",
        ..base.features
    };
    let scaling = match design.choice("scaling", "log") {
        "none" => Scaling::None,
        "standardize" => Scaling::Standardize,
        "min_max" => Scaling::MinMax,
        "bucketize" => Scaling::Bucketize { bins: 16 },
        _ => Scaling::Log,
    };
    // An empty review band (low above high) means what it does to the
    // policy: everything at or above `high` is removed, nothing is queued.
    let high = design.number("threshold_high", base.policy.high);
    let low = design.number("threshold_low", base.policy.low).min(high);
    let policy = PolicyConfig {
        low,
        high,
        review_capacity: design.number("review_capacity", f64::from(base.policy.review_capacity))
            as u32,
    };
    ContentDesign {
        seed: design.seed,
        world,
        features,
        label_source,
        split,
        sampling,
        recalibrate: design.toggle("recalibrate", base.recalibrate),
        imbalance,
        scaling,
        hash_buckets: design.number("hash_buckets", f64::from(base.hash_buckets)) as u32,
        model: model(design),
        quantization: super::serving::precision(design),
        policy,
        rollout: RolloutDesign {
            guardrail_per_1000: design.number("canary_guardrail", base.rollout.guardrail_per_1000),
            posts_per_day: (1_000.0
                * design.number("canary_posts", base.rollout.posts_per_day as f64 / 1_000.0))
                as u64,
        },
        monitor: super::monitoring::monitor_design(design, base.monitor),
        ..base
    }
}

/// The model choice and its hyperparameters.
fn model(design: &Design) -> ContentModel {
    match design.choice("model", "logistic") {
        "keyword_rule" => ContentModel::KeywordRule,
        "gbdt" => {
            let d = GbdtConfig::default();
            ContentModel::Gbdt(GbdtConfig {
                trees: design.number("trees", d.trees as f64) as usize,
                max_depth: design.number("max_depth", d.max_depth as f64) as usize,
                ..d
            })
        }
        "mlp" => {
            let fusion = match design.choice("fusion", "early") {
                "late" => Fusion::Late,
                _ => Fusion::Early,
            };
            let d = content_mlp(fusion);
            let width = d.hidden.first().copied().unwrap_or(32);
            let layers = design.number("hidden_layers", 1.0) as usize;
            ContentModel::Mlp(MlpConfig {
                hidden: vec![width; layers.clamp(1, 2)],
                max_epochs: design.number("epochs", d.max_epochs as f64) as usize,
                ..d
            })
        }
        _ => {
            let d = content_logistic();
            ContentModel::Logistic(LogisticConfig {
                max_epochs: design.number("epochs", d.max_epochs as f64) as usize,
                ..d
            })
        }
    }
}

/// A reservoir holding `rate` of the training period's posts.
fn reservoir_size(params: &ContentParams, rate: f64) -> usize {
    let train_days = f64::from(params.days.saturating_sub(5).max(1)) / f64::from(params.days);
    (params.posts() as f64 * train_days * rate).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{KnobValue, WorldSpec, bundled_studies};

    fn content_study() -> crate::study::Study {
        bundled_studies()
            .expect("bundled")
            .into_iter()
            .find(|s| s.meta.id == "harmful-content")
            .expect("the content study is bundled")
    }

    fn params(study: &crate::study::Study) -> &ContentParams {
        match &study.world {
            WorldSpec::Content(p) => p,
            WorldSpec::Feed(_) => panic!("a content world"),
        }
    }

    #[test]
    fn the_bundled_default_design_is_the_engines_default() {
        let study = content_study();
        let design = content_design(params(&study), &study.default_design(1));
        assert_eq!(design, ContentDesign::default());
    }

    #[test]
    fn knobs_map_to_the_engine_design() {
        let study = content_study();
        let world = params(&study);
        let mut design = study.default_design(3);
        for (id, value) in [
            ("labels", "user_reports"),
            ("label_budget", "500"),
            ("prevalence", "0.006"),
            ("drift", "vocabulary_swap"),
            ("threshold_high", "0.3"),
            ("threshold_low", "0.5"),
            ("review_capacity", "40"),
            ("imbalance", "class_weight"),
            ("split", "random"),
            ("leakage", "future_feature"),
            ("features", "no_history"),
            ("hash_buckets", "256"),
            ("model", "mlp"),
            ("fusion", "late"),
            ("hidden_layers", "2"),
            ("canary_guardrail", "2"),
            ("canary_posts", "50"),
        ] {
            study.set(&mut design, id, value).expect(id);
        }
        let d = content_design(world, &design);
        assert_eq!(d.seed, 3);
        assert_eq!(d.label_source, LabelSource::UserReports);
        assert_eq!(d.world.review.capacity_per_day, 500);
        assert!((total_prevalence(&d.world) - 0.006).abs() < 1e-12);
        let shares: Vec<f64> = d.world.categories.iter().map(|c| c.prevalence).collect();
        assert!((shares[0] / shares[3] - 10.0).abs() < 1e-9, "{shares:?}");
        assert_eq!(
            d.world.drift,
            vec![ContentDrift::VocabularySwap {
                day: 11,
                category: None,
                share: DRIFT_SWAP_SHARE,
            }]
        );
        // A review threshold above the removal threshold queues nothing.
        assert_eq!((d.policy.low, d.policy.high), (0.3, 0.3));
        assert_eq!(d.policy.review_capacity, 40);
        assert_eq!(d.imbalance, Imbalance::ClassWeight);
        assert!(matches!(d.split, SplitKind::Random { .. }));
        assert!(d.features.future_leak && !d.features.author_history);
        assert_eq!(d.hash_buckets, 256);
        assert_eq!(
            (d.rollout.guardrail_per_1000, d.rollout.posts_per_day),
            (2.0, 50_000)
        );
        match d.model {
            ContentModel::Mlp(config) => {
                assert_eq!(config.fusion, Fusion::Late);
                assert_eq!(config.hidden.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            design.get("prevalence"),
            Some(&KnobValue::Number(0.006)),
            "the design keeps what was set"
        );
    }

    #[test]
    fn every_knob_and_metric_is_distinct() {
        let mut ids: Vec<&str> = KNOBS.iter().map(|k| k.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), KNOBS.len());
        let mut keys: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), METRICS.len());
        for card in CARDS {
            assert!(keys.contains(card), "{card}");
        }
    }
}
