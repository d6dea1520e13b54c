//! Case studies: the nine design steps every study walks, and the study files
//! under `case_studies/`, parsed once into validated types; running a
//! study's design, and checking its claims.

mod content;
mod feed;
mod knobs;
mod monitoring;
mod raw;
mod run;
mod serving;
pub mod url;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use thiserror::Error;

pub use crate::engine::pipeline::Scope;
use crate::engine::world::content::ContentParams;
use crate::engine::world::feed::FeedParams;
use knobs::KnobDef;
pub use knobs::{DEFAULT_SEED, Design, Knob, KnobKind, KnobValue};
use raw::RawStudy;
pub use run::{ClaimResult, Report, RunError, Runner, StudyReport};
pub use serving::traffic as serving_traffic;

/// The nine steps of an ML system design, in the order a study walks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DesignStep {
    ProblemFormulation,
    Metrics,
    Architecture,
    DataAndLabels,
    Features,
    ModelAndOfflineEvaluation,
    PredictionService,
    OnlineTesting,
    ScalingAndMonitoring,
}

impl DesignStep {
    /// Every step, in order.
    pub const ALL: [DesignStep; 9] = [
        DesignStep::ProblemFormulation,
        DesignStep::Metrics,
        DesignStep::Architecture,
        DesignStep::DataAndLabels,
        DesignStep::Features,
        DesignStep::ModelAndOfflineEvaluation,
        DesignStep::PredictionService,
        DesignStep::OnlineTesting,
        DesignStep::ScalingAndMonitoring,
    ];

    /// The step's title as the UI shows it.
    pub fn title(self) -> &'static str {
        match self {
            DesignStep::ProblemFormulation => "Problem formulation",
            DesignStep::Metrics => "Metrics, offline and online",
            DesignStep::Architecture => "Architecture",
            DesignStep::DataAndLabels => "Data collection and labels",
            DesignStep::Features => "Feature engineering",
            DesignStep::ModelAndOfflineEvaluation => "Model development and offline evaluation",
            DesignStep::PredictionService => "Prediction service",
            DesignStep::OnlineTesting => "Online testing and deployment",
            DesignStep::ScalingAndMonitoring => "Scaling, monitoring and updates",
        }
    }

    /// The step's position, counted from 1.
    pub fn number(self) -> usize {
        self as usize + 1
    }
}

impl DesignStep {
    /// The step's stable id, as study files and URLs name it.
    pub fn id(self) -> &'static str {
        match self {
            DesignStep::ProblemFormulation => "problem",
            DesignStep::Metrics => "metrics",
            DesignStep::Architecture => "architecture",
            DesignStep::DataAndLabels => "data",
            DesignStep::Features => "features",
            DesignStep::ModelAndOfflineEvaluation => "model",
            DesignStep::PredictionService => "serving",
            DesignStep::OnlineTesting => "online",
            DesignStep::ScalingAndMonitoring => "monitoring",
        }
    }

    /// The step with stable id `id`.
    pub fn from_id(id: &str) -> Option<DesignStep> {
        DesignStep::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// What a study is, as its card on the home page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StudyMeta {
    /// Stable identifier, used in URLs: lowercase letters, digits and hyphens.
    pub id: String,
    pub title: String,
    pub summary: String,
    /// Estimated minutes to walk the whole study.
    pub minutes: u32,
    pub sources: Vec<String>,
}

/// A validated case study: what it is, the world it runs in, its nine steps
/// and the lessons it claims.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    pub meta: StudyMeta,
    pub world: WorldSpec,
    /// All nine steps, in [`DesignStep::ALL`] order.
    pub steps: Vec<Step>,
    pub claims: Vec<Claim>,
}

/// The generative world a study runs in, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum WorldSpec {
    Feed(FeedParams),
    Content(ContentParams),
}

impl WorldSpec {
    /// The world's stable kind, as `[world] kind` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            WorldSpec::Feed(_) => "feed",
            WorldSpec::Content(_) => "content",
        }
    }

    /// Every knob id this world understands: its own, then the serving and
    /// monitoring steps', which every world shares.
    pub(crate) fn knob_defs(&self) -> impl Iterator<Item = &'static KnobDef> {
        let own = match self {
            WorldSpec::Feed(_) => feed::KNOBS,
            WorldSpec::Content(_) => content::KNOBS,
        };
        own.iter().chain(serving::KNOBS).chain(monitoring::KNOBS)
    }

    /// Every numeric report key a claim may name, with its label and
    /// which way is better.
    pub fn metrics(&self) -> impl Iterator<Item = &'static Metric> {
        let own = match self {
            WorldSpec::Feed(_) => feed::METRICS,
            WorldSpec::Content(_) => content::METRICS,
        };
        own.iter().chain(serving::METRICS)
    }

    /// The metric with key `key`.
    pub fn metric(&self, key: &str) -> Option<&'static Metric> {
        self.metrics().find(|m| m.key == key)
    }

    /// The cards the app shows on `step`: the step's own metrics first
    /// (retrieval's on the architecture step, latency on the serving step,
    /// the A/B test's or the shadow test's and canary's on the online step,
    /// monitoring's on the last), then the world's headline metrics.
    pub fn cards_for(&self, step: DesignStep) -> Vec<&'static str> {
        let own: &[&'static str] = match step {
            DesignStep::Architecture => &[
                "retrieval.recall_at_k",
                "retrieval.neighbour_recall",
                "retrieval.items_scanned",
            ],
            DesignStep::PredictionService => &[
                "serving.p50_ms",
                "serving.p99_ms",
                "serving.slo_violation_rate",
                "serving.cost_per_million",
            ],
            DesignStep::OnlineTesting => &[
                "ab.lift",
                "ab.p_value",
                "ab.power",
                "ab.required_users_per_arm",
                "ab.regret",
                "ab.treatment_share",
                "shadow.extra_harmful_flagged",
                "shadow.disagreement_rate",
                "canary.rolled_out",
                "canary.reached",
                "canary.wrongful_per_1000",
            ],
            // Each world's own first (only keys the world has are kept).
            DesignStep::ScalingAndMonitoring => &[
                "monitoring.mean_ctr",
                "monitoring.ctr_drop",
                "monitoring.mean_recall",
                "monitoring.recall_drop",
                "monitoring.alerts",
                "monitoring.retrains",
            ],
            _ => &[],
        };
        own.iter()
            .copied()
            .filter(|k| self.metric(k).is_some())
            .chain(self.cards().iter().copied())
            .collect()
    }

    /// The keys of the world's headline metrics, in order.
    pub fn cards(&self) -> &'static [&'static str] {
        match self {
            WorldSpec::Feed(_) => feed::CARDS,
            WorldSpec::Content(_) => content::CARDS,
        }
    }
}

/// A numeric report key, as claims, cards and the CLI name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Dotted report key, e.g. `offline.auc`.
    pub key: &'static str,
    /// A short label for cards and charts.
    pub label: &'static str,
    pub better: Better,
}

impl Metric {
    pub(crate) const fn new(key: &'static str, label: &'static str, better: Better) -> Metric {
        Metric { key, label, better }
    }

    /// Whether moving from `from` to `to` is an improvement (`Some(true)`),
    /// a regression (`Some(false)`), or neither (`None`: no change, or a
    /// metric with no better direction).
    pub fn improved(&self, from: f64, to: f64) -> Option<bool> {
        let (a, b) = match self.better {
            Better::Higher => (from, to),
            Better::Lower => (to, from),
            Better::NearOne => ((to - 1.0).abs(), (from - 1.0).abs()),
            Better::Neither => return None,
        };
        if (b - a).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300) || a.is_nan() || b.is_nan() {
            None
        } else {
            Some(b > a)
        }
    }
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Closest to 1 (calibration ratios).
    NearOne,
    /// A count or context, not a goal.
    Neither,
}

/// One design step as a study presents it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub step: DesignStep,
    /// Markdown. The UI renders it without passing raw HTML through.
    pub narrative: String,
    pub knobs: Vec<Knob>,
    pub charts: Vec<Chart>,
}

impl Serialize for DesignStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// A chart a step can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    Roc,
    Pr,
    Calibration,
    Loss,
    Confusion,
    Scores,
    Latency,
    Throughput,
    AbTest,
    Drift,
    Cost,
}

impl Chart {
    /// Every chart, in the order a step lists them by default.
    pub const ALL: [Chart; 11] = [
        Chart::Roc,
        Chart::Pr,
        Chart::Calibration,
        Chart::Loss,
        Chart::Confusion,
        Chart::Scores,
        Chart::Latency,
        Chart::Throughput,
        Chart::AbTest,
        Chart::Drift,
        Chart::Cost,
    ];

    /// The chart's stable id, as study files name it.
    pub fn id(self) -> &'static str {
        match self {
            Chart::Roc => "roc",
            Chart::Pr => "pr",
            Chart::Calibration => "calibration",
            Chart::Loss => "loss",
            Chart::Confusion => "confusion",
            Chart::Scores => "scores",
            Chart::Latency => "latency",
            Chart::Throughput => "throughput",
            Chart::AbTest => "ab_test",
            Chart::Drift => "drift",
            Chart::Cost => "cost",
        }
    }
}

/// A lesson a study claims, checked by running the engine: with knob `knob`
/// at `value` instead of `baseline` (every other knob at its default, except
/// those in `given`), `metric` moves in `direction` by at least
/// `by_at_least` and at most `by_at_most`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Claim {
    pub id: String,
    pub step: DesignStep,
    pub knob: String,
    pub value: KnobValue,
    pub baseline: KnobValue,
    pub given: BTreeMap<String, KnobValue>,
    pub metric: String,
    pub direction: Direction,
    pub by_at_least: f64,
    pub by_at_most: f64,
    /// One sentence the UI shows beside the measured result.
    pub why: String,
}

/// Which way a claim says its metric moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    /// Either way: the claim bounds the size of the change only.
    Either,
}

impl Claim {
    /// Whether a measured change `delta` (value side minus baseline side)
    /// bears the claim out.
    pub fn holds(&self, delta: f64) -> bool {
        let size = match self.direction {
            Direction::Up => delta,
            Direction::Down => -delta,
            Direction::Either => delta.abs(),
        };
        delta.is_finite() && size >= self.by_at_least && size.abs() <= self.by_at_most
    }
}

impl Study {
    /// The optional stages whose numbers `step` shows, read from what it
    /// shows: a card under `retrieval.` or `monitoring.` (the report's
    /// sections of those stages), or the drift chart (the monitored days).
    /// Every step also shows what every run computes.
    pub fn scope_for(&self, step: DesignStep) -> Scope {
        let cards = self.world.cards_for(step);
        let card = |section: &str| cards.iter().any(|k| k.starts_with(section));
        let drift = self
            .steps
            .iter()
            .filter(|s| s.step == step)
            .any(|s| s.charts.contains(&Chart::Drift));
        Scope {
            retrieval: card("retrieval."),
            monitoring: card("monitoring.") || drift,
        }
    }

    /// Every knob the study offers, step by step.
    pub fn knobs(&self) -> impl Iterator<Item = &Knob> {
        self.steps.iter().flat_map(|s| s.knobs.iter())
    }

    /// The knob with id `id`, if the study offers it.
    pub fn knob(&self, id: &str) -> Option<&Knob> {
        self.knobs().find(|k| k.id == id)
    }

    /// The study's default design at `seed`.
    pub fn default_design(&self, seed: u64) -> Design {
        Design {
            seed,
            values: self
                .knobs()
                .map(|k| (k.id.clone(), k.default.clone()))
                .collect(),
        }
    }

    /// Sets knob `id` to the value written as `text` (a URL parameter, a
    /// CLI `--set`).
    ///
    /// # Errors
    /// An unknown knob (the message lists the study's knobs) or a value the
    /// knob does not allow (the message lists the valid values).
    pub fn set(&self, design: &mut Design, id: &str, text: &str) -> Result<(), String> {
        let Some(knob) = self.knob(id) else {
            let ids: Vec<&str> = self.knobs().map(|k| k.id.as_str()).collect();
            return Err(format!(
                "`{id}` is not a knob of {}; its knobs are {}",
                self.meta.id,
                ids.join(", ")
            ));
        };
        let value = knob.parse_value(text).map_err(|e| format!("{id}: {e}"))?;
        design.values.insert(id.to_owned(), value);
        Ok(())
    }
}

/// A case-study file that failed to parse or validate. Every variant names the
/// file and, where there is one, the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StudyError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: field `{field}` {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
}

/// The studies shipped with Casebook, in the order the home page lists them.
/// The first is the one the app opens by default.
const BUNDLED: [(&str, &str); 2] = [
    (
        "case_studies/feed-ranking.toml",
        include_str!("../case_studies/feed-ranking.toml"),
    ),
    (
        "case_studies/harmful-content.toml",
        include_str!("../case_studies/harmful-content.toml"),
    ),
];

/// The most impressions a study file may ask for: a default run must stay
/// well under a second in the browser (1M impressions take about 1.1 s in
/// wasm32, BENCHMARKS.md).
pub const BROWSER_MAX_IMPRESSIONS: u64 = 1_000_000;

/// The most posts a content study file may ask for, for the same reason: at
/// 300,000 posts the default design (world, features, logistic regression,
/// policy) takes about 0.4 s natively and the MLP about 0.6 s, under the
/// feed pipeline's 0.8 to 1.1 s at its cap.
pub const BROWSER_MAX_POSTS: u64 = 300_000;

/// Parses every bundled study. A bundled file that fails is a bug that the
/// tests catch; callers still get the error rather than a panic.
///
/// # Errors
/// The first bundled file that fails to parse or validate.
pub fn bundled_studies() -> Result<Vec<Study>, StudyError> {
    BUNDLED
        .iter()
        .map(|(file, text)| parse_study(file, text))
        .collect()
}

/// Parses and validates one study file; `file` names it in errors.
///
/// # Errors
/// [`StudyError::Syntax`] for malformed TOML, a missing or unknown key;
/// [`StudyError::Invalid`] for a value the format does not allow, naming the
/// field and the reason.
pub fn parse_study(file: &str, text: &str) -> Result<Study, StudyError> {
    let raw: RawStudy = toml::from_str(text).map_err(|e| StudyError::Syntax {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    validate::study(raw).map_err(|(field, reason)| StudyError::Invalid {
        file: file.to_owned(),
        field,
        reason,
    })
}

impl fmt::Display for StudyMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{} min", self.id, self.title, self.minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_steps_numbered_in_order_with_distinct_ids() {
        let numbers: Vec<usize> = DesignStep::ALL.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, (1..=9).collect::<Vec<_>>());
        assert_eq!(
            DesignStep::ALL[8].title(),
            "Scaling, monitoring and updates"
        );
        for step in DesignStep::ALL {
            assert_eq!(DesignStep::from_id(step.id()), Some(step));
        }
    }

    #[test]
    fn a_step_asks_for_the_stages_of_what_it_shows() {
        let feed = &bundled_studies().unwrap()[0];
        let only = |retrieval, monitoring| Scope {
            retrieval,
            monitoring,
        };
        assert_eq!(feed.scope_for(DesignStep::Architecture), only(true, false));
        assert_eq!(
            feed.scope_for(DesignStep::ScalingAndMonitoring),
            only(false, true)
        );
        assert_eq!(
            feed.scope_for(DesignStep::ModelAndOfflineEvaluation),
            Scope::CORE
        );
        // A study that shows the drift chart on another step needs the
        // monitored days there.
        let mut moved = feed.clone();
        moved.steps[5].charts.push(Chart::Drift);
        assert_eq!(moved.steps[5].step, DesignStep::ModelAndOfflineEvaluation);
        assert_eq!(
            moved.scope_for(DesignStep::ModelAndOfflineEvaluation),
            only(false, true)
        );
    }

    #[test]
    fn bundled_studies_parse_with_distinct_ids() {
        let studies = bundled_studies().expect("bundled studies are valid");
        let ids: Vec<&str> = studies.iter().map(|s| s.meta.id.as_str()).collect();
        assert_eq!(ids, ["feed-ranking", "harmful-content"]);
        for study in &studies {
            assert!(study.meta.summary.len() > 80);
            assert_eq!(study.steps.len(), 9);
            assert!(study.claims.len() >= 10, "{} claims", study.claims.len());
        }
    }

    #[test]
    fn setting_a_knob_checks_the_value_and_lists_valid_ones() {
        let study = &bundled_studies().expect("bundled")[0];
        let mut design = study.default_design(DEFAULT_SEED);
        study
            .set(&mut design, "model", "gbdt")
            .expect("gbdt is a model");
        assert_eq!(design.get("model"), Some(&KnobValue::Choice("gbdt".into())));
        let err = study.set(&mut design, "model", "forest").unwrap_err();
        assert!(err.contains("popularity, logistic, gbdt, mlp"), "{err}");
        let err = study.set(&mut design, "colour", "red").unwrap_err();
        assert!(
            err.contains("its knobs are retrieval, probes, sampling"),
            "{err}"
        );
        let err = study.set(&mut design, "trees", "12.5").unwrap_err();
        assert!(err.contains("whole numbers from 10 to 300"), "{err}");
        let err = study.set(&mut design, "recalibrate", "maybe").unwrap_err();
        assert!(err.contains("true and false"), "{err}");
        assert_eq!(
            design.get("model"),
            Some(&KnobValue::Choice("gbdt".into())),
            "a rejected value keeps what the design had"
        );
    }

    #[test]
    fn claims_hold_by_direction_and_bounds() {
        let study = &bundled_studies().expect("bundled")[0];
        let claim = |direction, by_at_least, by_at_most| Claim {
            direction,
            by_at_least,
            by_at_most,
            ..study.claims[0].clone()
        };
        assert!(claim(Direction::Up, 0.1, f64::INFINITY).holds(0.2));
        assert!(!claim(Direction::Up, 0.1, f64::INFINITY).holds(0.05));
        assert!(!claim(Direction::Up, 0.1, f64::INFINITY).holds(-0.2));
        assert!(claim(Direction::Down, 0.1, f64::INFINITY).holds(-0.2));
        assert!(claim(Direction::Either, 0.0, 0.01).holds(-0.005));
        assert!(!claim(Direction::Either, 0.0, 0.01).holds(0.02));
        assert!(!claim(Direction::Up, 0.0, 1.0).holds(f64::NAN));
    }
}
