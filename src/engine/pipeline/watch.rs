//! The monitoring loop every world shares (step 9): a model deployed before
//! the monitored days serves them one at a time while the world drifts.
//! Each day the detector compares the distribution of the model's scores on
//! that day's rows with its scores on the data it was validated on, raises
//! an alert when the detector says so, and the retraining policy decides
//! whether to retrain at the start of the next day on the labels that have
//! arrived by then. Each world says what a day's online outcome is (the
//! feed's click-through rate, the share of harmful posts caught) and owns
//! all training and serving; this loop owns the schedule and the detector.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::drift::{Detector, Reference, RetrainPolicy, RetrainSchedule, Thresholds};
use crate::engine::metrics::roc_auc;

/// Quantile bins of the detectors that bin scores.
const DRIFT_BINS: usize = 10;

/// Days at the end of the world a study's monitor watches.
pub const MONITOR_DAYS: u16 = 5;

/// What the monitoring step chooses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonitorDesign {
    pub retrain: RetrainPolicy,
    pub detector: Detector,
    /// Days of labels a retraining trains on (the most recent ones).
    pub window_days: u16,
    /// Days monitored: the world's last ones (at most all but its first
    /// two), after a deployment trained on the days before.
    pub days: u16,
}

impl Default for MonitorDesign {
    fn default() -> Self {
        MonitorDesign {
            retrain: RetrainPolicy {
                schedule: RetrainSchedule::Never,
                label_delay_days: 0,
            },
            detector: Detector::Psi,
            window_days: 4,
            days: MONITOR_DAYS,
        }
    }
}

/// What the monitor needs from a deployed model on a day: its scores of
/// the day's rows with their true labels, and the world's own outcome `X`.
pub(super) struct DayView<X> {
    pub scores: Vec<f64>,
    pub labels: Vec<u8>,
    pub online: X,
}

/// A deployed model as the monitor sees it: its scores on its own
/// validation rows, the reference of the drift detectors.
pub(super) struct Deployed {
    pub reference_scores: Vec<f64>,
}

/// The models a world's monitoring step deploys, by the newest day of
/// labels each trained on, for one training design `K`: a knob that changes
/// only how models are used (their precision, the detector, the retraining
/// schedule) trains none again.
#[derive(Debug)]
pub(super) struct Deployments<K, M> {
    key: Option<K>,
    by_day: BTreeMap<u16, Arc<M>>,
    trainings: u32,
}

impl<K, M> Default for Deployments<K, M> {
    fn default() -> Self {
        Deployments {
            key: None,
            by_day: BTreeMap::new(),
            trainings: 0,
        }
    }
}

impl<K: PartialEq + Clone, M> Deployments<K, M> {
    /// The model of `key` trained on labels up to `newest`, trained with
    /// `train` unless it is kept. A new key forgets the old one's models.
    pub fn get(&mut self, key: &K, newest: u16, train: impl FnOnce() -> M) -> Arc<M> {
        if self.key.as_ref() != Some(key) {
            self.key = Some(key.clone());
            self.by_day.clear();
        }
        let trainings = &mut self.trainings;
        let model = self.by_day.entry(newest).or_insert_with(|| {
            *trainings += 1;
            Arc::new(train())
        });
        Arc::clone(model)
    }

    /// How many models have really been trained (for tests of reuse).
    pub fn trainings(&self) -> u32 {
        self.trainings
    }
}

/// One monitored day, as the loop saw it.
pub(super) struct Watched<X> {
    pub day: u16,
    pub online: X,
    /// The deployed model's ROC-AUC on the day's rows (NaN with one class).
    pub auc: f64,
    /// The detector's statistic (a distance, or a test statistic).
    pub drift_statistic: f64,
    /// The test's p-value, for detectors that test (else 1).
    pub drift_p_value: f64,
    pub alert: bool,
    /// Whether the model was retrained at the start of the day.
    pub retrained: bool,
}

/// Runs the monitoring loop over `days` (in order). `deploy(newest)` trains
/// a model on the labels of days up to `newest` (inclusive) and returns it
/// with its reference scores; `view(model, day)` serves a day. Returns the
/// days and how many retrainings took effect.
pub(super) async fn watch<M, X>(
    days: std::ops::Range<u16>,
    design: MonitorDesign,
    mut deploy: impl AsyncFnMut(u16) -> Option<(M, Deployed)>,
    mut view: impl AsyncFnMut(&M, u16) -> DayView<X>,
) -> (Vec<Watched<X>>, u32) {
    let thresholds = Thresholds::default();
    let mut timeline = Vec::new();
    let mut alerts: Vec<u32> = Vec::new();
    let mut retrains = 0;
    let first = days.start;
    let Some((mut model, mut deployed)) = deploy(first.saturating_sub(1)).await else {
        return (timeline, 0);
    };
    let mut last_trained = u32::from(first);
    for day in days {
        let mut retrained = false;
        if day > first
            && design
                .retrain
                .should_retrain(u32::from(day), &alerts, last_trained)
            && let Some(newest) = design.retrain.newest_labels(u32::from(day))
            && let Some((m, d)) = deploy(newest as u16).await
        {
            model = m;
            deployed = d;
            last_trained = u32::from(day);
            retrained = true;
            retrains += 1;
        }
        let v = view(&model, day).await;
        let detected = Reference::new(&deployed.reference_scores, DRIFT_BINS)
            .and_then(|r| r.detect(&v.scores, design.detector, &thresholds))
            .ok();
        let alert = detected.is_some_and(|d| d.alert);
        if alert {
            alerts.push(u32::from(day));
        }
        timeline.push(Watched {
            day,
            auc: roc_auc(&v.labels, &v.scores).unwrap_or(f64::NAN),
            online: v.online,
            drift_statistic: detected.map_or(0.0, |d| d.statistic),
            drift_p_value: detected.and_then(|d| d.p_value).unwrap_or(1.0),
            alert,
            retrained,
        });
    }
    (timeline, retrains)
}
