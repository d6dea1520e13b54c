//! The feed world's knobs and report keys: how a [`Design`] becomes the
//! engine's [`FeedDesign`]. A knob the study does not offer keeps the
//! engine's default.

use crate::engine::experiment::Assignment;
use crate::engine::features::feed::FeedFeatureOptions;
use crate::engine::features::{Encoding, Scaling};
use crate::engine::models::gbdt::GbdtConfig;
use crate::engine::models::logistic::LogisticConfig;
use crate::engine::models::mlp::MlpConfig;
use crate::engine::pipeline::feed::ab::AbDesign;
use crate::engine::pipeline::feed::monitor::MONITOR_DAYS;
use crate::engine::pipeline::feed::retrieval::{RetrievalDesign, RetrievalMethod};
use crate::engine::pipeline::feed::{FeedDesign, FeedModel};
use crate::engine::sampling::{Imbalance, Sampling};
use crate::engine::split::SplitKind;
use crate::engine::world::feed::{FeedDrift, FeedParams};

use super::knobs::{Design, KnobDef, choice, number, toggle};
use super::{Better, Metric, monitoring};

/// Oversampling repeats each positive this many times.
const OVERSAMPLE_FACTOR: u32 = 4;
/// Undersampling keeps this fraction of the negatives.
const UNDERSAMPLE_RATE: f64 = 0.25;

/// Every knob the feed world understands, with its outer bounds.
pub(crate) const KNOBS: &[KnobDef] = &[
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
    choice("leakage", &["none", "fit_on_all", "future_feature"]),
    choice(
        "features",
        &["all", "no_history", "no_position", "ids_only"],
    ),
    choice("encoding", &["one_hot", "hashed"]),
    number("hash_buckets", 2.0, 1_048_576.0, true),
    toggle("cross"),
    choice(
        "scaling",
        &["none", "standardize", "min_max", "log", "bucketize"],
    ),
    choice("model", &["popularity", "logistic", "gbdt", "mlp"]),
    choice("retrieval", &["popularity", "exact", "ivf"]),
    number("probes", 1.0, 64.0, true),
    number("trees", 1.0, 500.0, true),
    number("max_depth", 1.0, 12.0, true),
    number("hidden_layers", 1.0, 2.0, true),
    number("epochs", 1.0, 50.0, true),
    number("position_bias", 0.0, 3.0, false),
    number("ab_users", 10.0, 50_000.0, true),
    number("ab_days", 1.0, 28.0, true),
    number("mde", 0.001, 1.0, false),
    choice("assignment", &["split", "thompson"]),
    choice(
        "drift",
        &[
            "none",
            "interest_shift",
            "new_cohort",
            "trending_topic",
            "engagement_drop",
        ],
    ),
];

/// Every numeric key of the feed report, as claims and the CLI name them,
/// with its label and which way is better.
pub(crate) const METRICS: &[Metric] = &[
    Metric::new("offline.auc", "ROC-AUC", Better::Higher),
    Metric::new("offline.pr_auc", "PR-AUC", Better::Higher),
    Metric::new("offline.log_loss", "Log loss", Better::Lower),
    Metric::new("offline.ne", "Normalized entropy", Better::Lower),
    Metric::new("offline.calibration", "Calibration", Better::NearOne),
    Metric::new("offline.ece", "ECE", Better::Lower),
    Metric::new("offline.ndcg_at_10", "NDCG@10", Better::Higher),
    Metric::new("offline.auc_like", "ROC-AUC, likes", Better::Higher),
    Metric::new("offline.auc_share", "ROC-AUC, shares", Better::Higher),
    Metric::new("offline.auc_hide", "ROC-AUC, hides", Better::Higher),
    Metric::new("online.ctr", "Online CTR", Better::Higher),
    Metric::new(
        "online.ctr_logging_policy",
        "CTR, production policy",
        Better::Neither,
    ),
    Metric::new("online.ctr_lift", "CTR lift", Better::Higher),
    Metric::new(
        "online.engagement_per_session",
        "Engagement per session",
        Better::Higher,
    ),
    Metric::new("online.hide_rate", "Hide rate", Better::Lower),
    Metric::new("online.diversity", "Feed diversity", Better::Higher),
    Metric::new("online.sessions", "Sessions served", Better::Neither),
    Metric::new("ab.users_per_arm", "Users per arm", Better::Neither),
    Metric::new("ab.days", "Test days", Better::Neither),
    Metric::new(
        "ab.control_mean",
        "Clicks per user, control",
        Better::Neither,
    ),
    Metric::new(
        "ab.treatment_mean",
        "Clicks per user, treatment",
        Better::Higher,
    ),
    Metric::new("ab.lift", "A/B lift", Better::Higher),
    Metric::new(
        "ab.difference",
        "Clicks per user, difference",
        Better::Higher,
    ),
    Metric::new("ab.ci_low", "Difference, 95% CI low", Better::Higher),
    Metric::new("ab.ci_high", "Difference, 95% CI high", Better::Higher),
    Metric::new("ab.lift_ci_low", "Lift, 95% CI low", Better::Higher),
    Metric::new("ab.lift_ci_high", "Lift, 95% CI high", Better::Higher),
    Metric::new("ab.p_value", "p-value", Better::Lower),
    Metric::new("ab.significant", "Significant", Better::Neither),
    Metric::new(
        "ab.required_users_per_arm",
        "Users per arm needed",
        Better::Lower,
    ),
    Metric::new("ab.power", "Power", Better::Higher),
    Metric::new(
        "ab.treatment_share",
        "Share on the trained ranker",
        Better::Neither,
    ),
    Metric::new("ab.regret", "Clicks lost to the worse arm", Better::Lower),
    Metric::new("monitoring.day_count", "Days monitored", Better::Neither),
    Metric::new(
        "monitoring.mean_ctr",
        "Online CTR over the days",
        Better::Higher,
    ),
    Metric::new(
        "monitoring.ctr_drop",
        "CTR lost, first to last day",
        Better::Lower,
    ),
    Metric::new(
        "monitoring.mean_auc",
        "ROC-AUC over the days",
        Better::Higher,
    ),
    Metric::new("monitoring.alerts", "Drift alerts", Better::Neither),
    Metric::new("monitoring.retrains", "Retrains", Better::Neither),
    Metric::new("model.params", "Parameters", Better::Lower),
    Metric::new("model.flops_per_item", "FLOPs per item", Better::Lower),
    Metric::new("model.bytes", "Model size (bytes)", Better::Lower),
    Metric::new("retrieval.k", "Candidates retrieved", Better::Neither),
    Metric::new("retrieval.corpus", "Live posts", Better::Neither),
    Metric::new("retrieval.queries", "Retrieval queries", Better::Neither),
    Metric::new(
        "retrieval.recall_at_k",
        "Retrieval recall of the truly best posts",
        Better::Higher,
    ),
    Metric::new(
        "retrieval.neighbour_recall",
        "Recall of exact neighbours",
        Better::Higher,
    ),
    Metric::new(
        "retrieval.items_scanned",
        "Items scanned per query",
        Better::Lower,
    ),
    Metric::new(
        "retrieval.tower_params",
        "Two-tower parameters",
        Better::Neither,
    ),
    Metric::new("data.impressions", "Impressions", Better::Neither),
    Metric::new("data.train_rows", "Training rows", Better::Neither),
    Metric::new("data.valid_rows", "Validation rows", Better::Neither),
    Metric::new("data.test_rows", "Test rows", Better::Neither),
    Metric::new(
        "data.train_click_rate",
        "Training click rate",
        Better::Neither,
    ),
    Metric::new("data.test_click_rate", "Test click rate", Better::Neither),
    Metric::new("training.best_epoch", "Best epoch", Better::Neither),
];

/// The metrics the app shows as cards, in order.
pub(crate) const CARDS: &[&str] = &[
    "offline.auc",
    "offline.ne",
    "offline.calibration",
    "online.ctr",
    "online.ctr_lift",
    "online.diversity",
    "model.params",
    "data.train_rows",
];

/// The engine design for `design` in a world with `params`.
pub(crate) fn feed_design(params: &FeedParams, design: &Design) -> FeedDesign {
    let base = FeedDesign::default();
    let mut world = params.clone();
    world.position_bias = design.number("position_bias", world.position_bias);
    world
        .drift
        .extend(drift_scenario(&world, design.choice("drift", "none")));

    let sample_rate = design.number("sample_rate", 0.25);
    let sampling = match design.choice("sampling", "all") {
        "uniform" => Sampling::Uniform { rate: sample_rate },
        "stratified" => Sampling::Stratified { rate: sample_rate },
        "reservoir" => Sampling::Reservoir {
            size: reservoir_size(params, sample_rate),
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
        "random" => SplitKind::Random {
            valid: 1.0 / 14.0,
            test: 2.0 / 14.0,
        },
        _ => base.split,
    };
    let leakage = design.choice("leakage", "none");
    let features = match design.choice("features", "all") {
        "no_history" => FeedFeatureOptions {
            user_history: false,
            ..base.features
        },
        "no_position" => FeedFeatureOptions {
            position: false,
            ..base.features
        },
        "ids_only" => FeedFeatureOptions {
            user_history: false,
            position: false,
            ..base.features
        },
        _ => base.features,
    };
    let encoding = match design.choice("encoding", "one_hot") {
        "hashed" => Encoding::Hashed {
            buckets: design.number("hash_buckets", 4096.0) as u32,
        },
        _ => Encoding::OneHot,
    };
    // The hashing trick applies to the cross too: with hashed ids, the
    // user x topic cross gets the same bucket count.
    let cross_buckets = match encoding {
        Encoding::Hashed { buckets } => buckets,
        Encoding::OneHot => base.cross_buckets,
    };
    let scaling = match design.choice("scaling", "standardize") {
        "none" => Scaling::None,
        "min_max" => Scaling::MinMax,
        "log" => Scaling::Log,
        "bucketize" => Scaling::Bucketize { bins: 16 },
        _ => Scaling::Standardize,
    };
    let model = model(design);
    FeedDesign {
        seed: design.seed,
        monitor: monitoring::monitor_design(design, base.monitor),
        ab: AbDesign {
            users_per_arm: design.number("ab_users", f64::from(base.ab.users_per_arm)) as u32,
            days: design.number("ab_days", f64::from(base.ab.days)) as u16,
            mde: design.number("mde", base.ab.mde),
            assignment: Assignment::from_id(design.choice("assignment", base.ab.assignment.id()))
                .unwrap_or_default(),
        },
        world,
        features: FeedFeatureOptions {
            future_leak: leakage == "future_feature",
            ..features
        },
        scaling,
        encoding,
        user_topic_cross: design.toggle("cross", base.user_topic_cross),
        cross_buckets,
        split,
        fit_on_all_rows: leakage == "fit_on_all",
        sampling,
        recalibrate: design.toggle("recalibrate", base.recalibrate),
        imbalance,
        model,
        quantization: super::serving::precision(design),
        retrieval: retrieval_design(design, base.retrieval),
    }
}

/// The retrieval stage's method and probes.
fn retrieval_design(design: &Design, base: RetrievalDesign) -> RetrievalDesign {
    let method = match design.choice("retrieval", base.method.id()) {
        "popularity" => RetrievalMethod::Popularity,
        "exact" => RetrievalMethod::Exact,
        _ => RetrievalMethod::Ivf,
    };
    RetrievalDesign {
        method,
        probes: design.number("probes", base.probes as f64) as usize,
        ..base
    }
}

/// The model choice and its hyperparameters.
fn model(design: &Design) -> FeedModel {
    match design.choice("model", "logistic") {
        "popularity" => FeedModel::Popularity,
        "gbdt" => {
            let d = GbdtConfig::default();
            FeedModel::Gbdt(GbdtConfig {
                trees: design.number("trees", d.trees as f64) as usize,
                max_depth: design.number("max_depth", d.max_depth as f64) as usize,
                ..d
            })
        }
        "mlp" => {
            let d = MlpConfig::default();
            let width = d.hidden.first().copied().unwrap_or(32);
            let layers = design.number("hidden_layers", 1.0) as usize;
            FeedModel::Mlp(MlpConfig {
                hidden: vec![width; layers.clamp(1, 2)],
                max_epochs: design.number("epochs", d.max_epochs as f64) as usize,
                ..d
            })
        }
        _ => {
            let d = LogisticConfig::default();
            FeedModel::Logistic(LogisticConfig {
                max_epochs: design.number("epochs", d.max_epochs as f64) as usize,
                ..d
            })
        }
    }
}

/// Day a drift scenario starts: inside the monitored days, two days after
/// the first, so the timeline shows the days before and after.
fn drift_day(params: &FeedParams) -> u16 {
    params.days.saturating_sub(MONITOR_DAYS) + 2
}

/// The world events of a drift scenario (none for `none`).
fn drift_scenario(params: &FeedParams, id: &str) -> Vec<FeedDrift> {
    let day = drift_day(params);
    match id {
        "interest_shift" => vec![FeedDrift::InterestShift { day, strength: 0.8 }],
        "new_cohort" => vec![FeedDrift::NewCohort {
            day,
            users: params.users / 2,
        }],
        "trending_topic" => vec![FeedDrift::TrendingTopic {
            day,
            topic: 0,
            boost: 1.5,
        }],
        "engagement_drop" => vec![FeedDrift::EngagementShift { day, logit: -0.7 }],
        _ => Vec::new(),
    }
}

/// A reservoir holding `rate` of the expected training impressions.
fn reservoir_size(params: &FeedParams, rate: f64) -> usize {
    let train_days = f64::from(params.days.saturating_sub(3).max(1)) / f64::from(params.days);
    (params.expected_impressions() as f64 * train_days * rate).ceil() as usize
}
