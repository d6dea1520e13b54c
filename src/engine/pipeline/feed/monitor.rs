//! Step 9, scaling, monitoring and updates, in the feed world: a model
//! deployed before the world's last days (by default [`MONITOR_DAYS`]) serves them one
//! day at a time through the shared loop (`pipeline/watch.rs`), while the
//! world drifts (if the design's world has drift events). The timeline
//! records each day's online click-through rate against the production
//! ranking's, offline AUC, the detector's value, alerts and retrains.

use serde::Serialize;

use crate::engine::pipeline::watch::{DayView, Deployed, watch};
pub use crate::engine::pipeline::watch::{MONITOR_DAYS, MonitorDesign};

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

/// Runs the shared monitoring loop over `days`; `view` answers a day's
/// scores and its (model, production) click-through rates.
pub(super) async fn run<M>(
    days: std::ops::Range<u16>,
    design: MonitorDesign,
    deploy: impl AsyncFnMut(u16) -> Option<(M, Deployed)>,
    view: impl AsyncFnMut(&M, u16) -> DayView<(f64, f64)>,
) -> MonitorReport {
    let (watched, retrains) = watch(days, design, deploy, view).await;
    let timeline = watched
        .into_iter()
        .map(|w| MonitorDay {
            day: w.day,
            ctr: w.online.0,
            ctr_logging_policy: w.online.1,
            auc: w.auc,
            drift_statistic: w.drift_statistic,
            drift_p_value: w.drift_p_value,
            alert: w.alert,
            retrained: w.retrained,
        })
        .collect();
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
