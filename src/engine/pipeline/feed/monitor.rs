//! Step 9, scaling, monitoring and updates: a model deployed before the
//! world's last [`MONITOR_DAYS`] days serves them one day at a time, while
//! the world drifts (if the design's world has drift events). Each day the
//! monitor compares the distribution of the model's scores on that day's
//! impressions with the scores on the data it was validated on, raises an
//! alert when the detector says so, and the retraining policy decides
//! whether to retrain at the start of the next day on the labels that have
//! arrived by then. The timeline records each day's online click-through
//! rate, offline AUC, the detector's value, alerts and retrains.

use serde::Serialize;

use crate::engine::drift::{Detector, Reference, RetrainPolicy, RetrainSchedule, Thresholds};
use crate::engine::metrics::roc_auc;

/// Days at the end of the world the monitor watches.
pub const MONITOR_DAYS: u16 = 5;

/// Quantile bins of the detectors that bin scores.
const DRIFT_BINS: usize = 10;

/// What the monitoring step chooses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonitorDesign {
    pub retrain: RetrainPolicy,
    pub detector: Detector,
    /// Days of labels a retraining trains on (the most recent ones).
    pub window_days: u16,
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
        }
    }
}

/// One monitored day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonitorDay {
    pub day: u16,
    /// Expected clicks per impression of the deployed model that day.
    pub ctr: f64,
    /// The production (popularity) ranking on the same sessions.
    pub ctr_logging_policy: f64,
    /// The deployed model's ROC-AUC on the day's logged impressions.
    pub auc: f64,
    /// The detector's statistic (a distance, or a test statistic).
    pub drift_statistic: f64,
    /// The test's p-value, for detectors that test (else 1).
    pub drift_p_value: f64,
    pub alert: bool,
    /// Whether the model was retrained at the start of the day.
    pub retrained: bool,
}

/// What monitoring found over the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonitorReport {
    /// Days monitored.
    pub day_count: u16,
    /// Mean of the daily online CTRs.
    pub mean_ctr: f64,
    /// The first monitored day's CTR minus the last's.
    pub ctr_drop: f64,
    pub mean_auc: f64,
    pub alerts: u32,
    pub retrains: u32,
    /// The per-day series.
    pub days: Vec<MonitorDay>,
}

/// What the monitor needs from a deployed model on a day.
pub(super) struct DayView {
    /// Scores of the day's logged impressions, with their clicks.
    pub scores: Vec<f64>,
    pub labels: Vec<u8>,
    /// Expected online CTR that day, and the production ranking's.
    pub ctr: f64,
    pub ctr_logging_policy: f64,
}

/// A deployed model as the monitor sees it: its scores on its own
/// validation rows, the reference of the drift detectors.
pub(super) struct Deployed {
    pub reference_scores: Vec<f64>,
}

/// Runs the monitoring loop over `days` (in order). `deploy(newest)` trains
/// a model on the labels of days up to `newest` (inclusive) and returns it
/// with a view function; the caller owns all training and serving.
pub(super) fn run<M>(
    days: std::ops::Range<u16>,
    design: MonitorDesign,
    mut deploy: impl FnMut(u16) -> Option<(M, Deployed)>,
    mut view: impl FnMut(&M, u16) -> DayView,
) -> MonitorReport {
    let thresholds = Thresholds::default();
    let mut timeline = Vec::new();
    let mut alerts: Vec<u32> = Vec::new();
    let mut retrains = 0;
    let first = days.start;
    let Some((mut model, mut deployed)) = deploy(first.saturating_sub(1)) else {
        return summarize(timeline, 0);
    };
    let mut last_trained = u32::from(first);
    for day in days {
        let mut retrained = false;
        if day > first
            && design
                .retrain
                .should_retrain(u32::from(day), &alerts, last_trained)
            && let Some(newest) = design.retrain.newest_labels(u32::from(day))
            && let Some((m, d)) = deploy(newest as u16)
        {
            model = m;
            deployed = d;
            last_trained = u32::from(day);
            retrained = true;
            retrains += 1;
        }
        let v = view(&model, day);
        let detected = Reference::new(&deployed.reference_scores, DRIFT_BINS)
            .and_then(|r| r.detect(&v.scores, design.detector, &thresholds))
            .ok();
        let alert = detected.is_some_and(|d| d.alert);
        if alert {
            alerts.push(u32::from(day));
        }
        timeline.push(MonitorDay {
            day,
            ctr: v.ctr,
            ctr_logging_policy: v.ctr_logging_policy,
            auc: roc_auc(&v.labels, &v.scores).unwrap_or(f64::NAN),
            drift_statistic: detected.map_or(0.0, |d| d.statistic),
            drift_p_value: detected.and_then(|d| d.p_value).unwrap_or(1.0),
            alert,
            retrained,
        });
    }
    summarize(timeline, retrains)
}

fn summarize(timeline: Vec<MonitorDay>, retrains: u32) -> MonitorReport {
    let n = timeline.len().max(1) as f64;
    let mean = |f: fn(&MonitorDay) -> f64| timeline.iter().map(f).sum::<f64>() / n;
    MonitorReport {
        day_count: timeline.len() as u16,
        mean_ctr: mean(|d| d.ctr),
        ctr_drop: match (timeline.first(), timeline.last()) {
            (Some(a), Some(b)) => a.ctr - b.ctr,
            _ => 0.0,
        },
        mean_auc: mean(|d| d.auc),
        alerts: timeline.iter().filter(|d| d.alert).count() as u32,
        retrains,
        days: timeline,
    }
}
