//! The monitoring step's retraining and detector knobs, shared by every
//! world, and the engine's `MonitorDesign` built from them. What a day's
//! outcome is (click-through rate, harmful posts caught) is each world's.

use crate::engine::drift::{Detector, RetrainPolicy};
use crate::engine::pipeline::watch::MonitorDesign;

use super::knobs::{Design, KnobDef, choice, number};

/// The monitoring knobs every world understands, with their outer bounds.
pub(crate) const KNOBS: &[KnobDef] = &[
    choice("retrain", &["never", "daily", "weekly", "on_alert"]),
    number("label_delay", 0.0, 3.0, true),
    number("retrain_window", 1.0, 30.0, true),
    choice("detector", &["psi", "ks", "js", "wasserstein", "auto"]),
];

/// The monitoring step's choices; knobs a study does not offer keep
/// `base`'s.
pub(crate) fn monitor_design(design: &Design, base: MonitorDesign) -> MonitorDesign {
    let retrain = RetrainPolicy::from_id(
        design.choice("retrain", "never"),
        design.number("label_delay", 0.0) as u32,
    )
    .unwrap_or(base.retrain);
    MonitorDesign {
        retrain,
        detector: Detector::from_id(design.choice("detector", "psi")).unwrap_or(base.detector),
        window_days: design.number("retrain_window", f64::from(base.window_days)) as u16,
        days: base.days,
    }
}
