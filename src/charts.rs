//! The charts: what each one draws, taken from a run's [`Report`]
//! ([`ChartData`], which the engine's worker sends to the page with the
//! metrics), and the drawing itself ([`draw`]), one function per chart,
//! generic over plotters' backends: the page draws on a canvas, the tests
//! draw the same calls as SVG and read them.
//!
//! A chart draws one or more [`Series`]: the current design, and in compare
//! mode the pinned one beside it, each in its own colour of a
//! colour-blind-safe palette (Okabe and Ito's).

mod draw;

use serde::{Deserialize, Serialize};

use crate::engine::models::TrainingCurve;
use crate::engine::pipeline::Curves;
use crate::study::{Report, StudyReport};

pub use draw::{ChartError, Theme, draw};

use crate::study::Chart;

/// Every series the charts of one run draw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartData {
    /// The classifier's test rows (ROC, PR, calibration, scores, confusion).
    pub curves: Option<CurveData>,
    pub loss: LossData,
    pub latency: LatencyData,
    /// One point per simulated interval: `[offered QPS, p99 ms, replicas]`.
    pub hourly: Vec<[f64; 3]>,
    /// Seconds an entry of `hourly` covers (an hour; less when the
    /// simulation covers less than a day).
    pub interval_s: f64,
    /// Cost bars: what is paid for, in dollars.
    pub cost: Vec<(String, f64)>,
    /// The A/B test, where the study runs one.
    pub ab: Option<AbData>,
    /// The monitored days, where the study monitors.
    pub drift: Option<DriftData>,
}

/// The classifier's curves, with the headline numbers their captions quote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CurveData {
    pub roc: Vec<[f64; 2]>,
    pub pr: Vec<[f64; 2]>,
    pub reliability: Vec<[f64; 3]>,
    pub scores_negative: Vec<u32>,
    pub scores_positive: Vec<u32>,
    /// The decision threshold, where the study makes one (the confusion
    /// matrix is at it; 0.5 otherwise).
    pub threshold: Option<f64>,
    pub confusion: [u64; 4],
    pub auc: f64,
    pub pr_auc: f64,
    pub ece: f64,
}

impl CurveData {
    /// Where the study's threshold puts the classifier, from the confusion
    /// matrix: `[false positive rate, recall, precision]` (precision 1 when
    /// nothing is flagged, as the PR curve starts); none where the study
    /// makes no decision.
    pub fn operating_point(&self) -> Option<[f64; 3]> {
        self.threshold?;
        let [tn, fp, fn_, tp] = self.confusion.map(|n| n as f64);
        let share = |part: f64, rest: f64| {
            if part + rest > 0.0 {
                part / (part + rest)
            } else {
                0.0
            }
        };
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
        Some([share(fp, tn), share(tp, fn_), precision])
    }
}

/// Log loss per epoch and the epoch whose weights were kept (empty for a
/// model that does not train, such as a popularity ranker).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossData {
    pub train: Vec<f64>,
    pub valid: Vec<f64>,
    pub best_epoch: usize,
}

/// The latency distribution as log-linear buckets `[low ms, high ms,
/// requests]`, its percentiles and the SLO.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyData {
    pub buckets: Vec<[f64; 3]>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub slo_ms: f64,
}

/// An A/B test's difference (treatment minus control) with its 95%
/// interval, in the unit `metric` names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AbData {
    pub metric: String,
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Participants in the control and the treatment arm.
    pub users: [u64; 2],
}

/// The monitoring timeline: each day's outcome (`metric` names it) for the
/// deployed model and for the production system (`baseline` names it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftData {
    pub metric: String,
    pub baseline: String,
    pub days: Vec<DriftDay>,
}

/// One monitored day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftDay {
    pub day: u16,
    /// The deployed model's outcome, and the production system's.
    pub online: f64,
    pub baseline: f64,
    pub statistic: f64,
    pub alert: bool,
    pub retrained: bool,
}

/// One design's data on a chart, under the name its legend shows.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    pub label: &'a str,
    pub data: &'a ChartData,
}

impl From<&Report> for ChartData {
    fn from(report: &Report) -> ChartData {
        let s = &report.serving;
        let latency = LatencyData {
            buckets: s
                .histogram
                .iter()
                .map(|b| [b.lo_ms, b.hi_ms, b.count as f64])
                .collect(),
            p50_ms: s.p50_ms,
            p95_ms: s.p95_ms,
            p99_ms: s.p99_ms,
            slo_ms: s.slo_ms,
        };
        let hourly = s
            .hourly
            .iter()
            .map(|h| [h.qps, h.p99_ms, h.replicas])
            .collect();
        let serving_cost = s.cost_per_million * s.requests_per_day / 1e6;
        let mut cost = vec![("Serving, one day".to_owned(), serving_cost)];
        let mut data = ChartData {
            latency,
            hourly,
            interval_s: s.interval_s,
            ..ChartData::default()
        };
        match &report.result {
            StudyReport::Feed(r) => {
                let o = &r.offline;
                data.curves = Some(curve_data(&r.curves, false, o.auc, o.pr_auc, o.ece));
                data.loss = LossData::from(&r.training);
                data.ab = Some(AbData {
                    metric: "Clicks per user, treatment − control".to_owned(),
                    difference: r.ab.difference,
                    ci_low: r.ab.ci_low,
                    ci_high: r.ab.ci_high,
                    p_value: r.ab.p_value,
                    users: {
                        let total = 2 * u64::from(r.ab.users_per_arm);
                        let treatment = (r.ab.treatment_share * total as f64).round() as u64;
                        [total - treatment, treatment]
                    },
                });
                data.drift = r.monitoring.as_ref().map(|m| DriftData {
                    metric: "Online CTR".to_owned(),
                    baseline: "Production ranking".to_owned(),
                    days: m
                        .days
                        .iter()
                        .map(|d| DriftDay {
                            day: d.day,
                            online: d.ctr,
                            baseline: d.ctr_logging_policy,
                            statistic: d.drift_statistic,
                            alert: d.alert,
                            retrained: d.retrained,
                        })
                        .collect(),
                });
            }
            StudyReport::Content(r) => {
                let o = &r.offline;
                data.curves = Some(curve_data(&r.curves, true, o.auc, o.pr_auc, o.ece));
                data.loss = LossData::from(&r.training);
                cost.push(("Labels".to_owned(), r.data.label_cost));
                data.drift = r.monitoring.as_ref().map(|m| DriftData {
                    metric: "Harmful posts caught".to_owned(),
                    baseline: "Keyword rule".to_owned(),
                    days: m
                        .days
                        .iter()
                        .map(|d| DriftDay {
                            day: d.day,
                            online: d.recall,
                            baseline: d.recall_keyword_rule,
                            statistic: d.drift_statistic,
                            alert: d.alert,
                            retrained: d.retrained,
                        })
                        .collect(),
                });
            }
        }
        data.cost = cost;
        data
    }
}

impl From<&TrainingCurve> for LossData {
    fn from(t: &TrainingCurve) -> LossData {
        LossData {
            train: t.train_loss.clone(),
            valid: t.valid_loss.clone(),
            best_epoch: t.best_epoch,
        }
    }
}

fn curve_data(c: &Curves, decides: bool, auc: f64, pr_auc: f64, ece: f64) -> CurveData {
    CurveData {
        roc: c.roc.clone(),
        pr: c.pr.clone(),
        reliability: c.reliability.clone(),
        scores_negative: c.scores_negative.clone(),
        scores_positive: c.scores_positive.clone(),
        threshold: decides.then_some(c.threshold),
        confusion: c.confusion,
        auc,
        pr_auc,
        ece,
    }
}

/// The chart's title, as its figure shows it.
pub fn title(chart: Chart) -> &'static str {
    match chart {
        Chart::Roc => "ROC curve",
        Chart::Pr => "Precision and recall",
        Chart::Calibration => "Calibration",
        Chart::Loss => "Training and validation loss",
        Chart::Confusion => "Confusion matrix",
        Chart::Scores => "Scores by true class",
        Chart::Latency => "Latency distribution",
        Chart::Throughput => "Latency under load",
        Chart::AbTest => "A/B test",
        Chart::Drift => "Drift and retraining",
        Chart::Cost => "Cost",
    }
}

/// One sentence saying what the chart shows for the first series, for
/// screen readers and the figure's caption; `None` when the run has no data
/// for this chart.
pub fn describe(chart: Chart, data: &ChartData) -> Option<String> {
    let curves = data.curves.as_ref();
    let text = match chart {
        Chart::Roc => {
            let c = curves?;
            let at = match (c.threshold, c.operating_point()) {
                (Some(t), Some([fpr, tpr, _])) => format!(
                    "; at threshold {t}, true positive rate {tpr:.3} and false positive rate {fpr:.4}"
                ),
                _ => String::new(),
            };
            format!("ROC-AUC {:.4}{at}", c.auc)
        }
        Chart::Pr => {
            let c = curves?;
            let at = match (c.threshold, c.operating_point()) {
                (Some(t), Some([_, recall, precision])) => {
                    format!("; at threshold {t}, recall {recall:.3} and precision {precision:.3}")
                }
                _ => String::new(),
            };
            format!("Average precision {:.4}{at}", c.pr_auc)
        }
        Chart::Calibration => format!("Expected calibration error {:.4}", curves?.ece),
        Chart::Loss => {
            let best = data.loss.valid.get(data.loss.best_epoch)?;
            format!(
                "{} epochs; best validation loss {best:.4} at epoch {}",
                data.loss.valid.len(),
                data.loss.best_epoch + 1
            )
        }
        Chart::Confusion => {
            let c = curves?;
            let [tn, fp, fn_, tp] = c.confusion;
            format!(
                "At threshold {}: {tp} true positives, {fp} false positives, {fn_} false negatives, {tn} true negatives",
                c.threshold.unwrap_or(0.5)
            )
        }
        Chart::Scores => {
            let c = curves?;
            let positives: u32 = c.scores_positive.iter().sum();
            let negatives: u32 = c.scores_negative.iter().sum();
            format!("{positives} positive and {negatives} negative test rows")
        }
        Chart::Latency => {
            let l = &data.latency;
            if l.buckets.is_empty() {
                return None;
            }
            format!(
                "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms against an SLO of {} ms",
                l.p50_ms, l.p95_ms, l.p99_ms, l.slo_ms
            )
        }
        Chart::Throughput => {
            let busiest = data.hourly.iter().max_by(|a, b| a[0].total_cmp(&b[0]))?;
            format!(
                "In the busiest {}, {:.1} requests per second, p99 {:.1} ms",
                interval_label(data.interval_s),
                busiest[0],
                busiest[1]
            )
        }
        Chart::AbTest => {
            let ab = data.ab.as_ref()?;
            format!(
                "Difference {:+.4} (95% interval {:+.4} to {:+.4}), p = {:.3}, {} users in control, {} in treatment",
                ab.difference, ab.ci_low, ab.ci_high, ab.p_value, ab.users[0], ab.users[1]
            )
        }
        Chart::Drift => {
            let drift = data.drift.as_ref()?;
            let days = &drift.days;
            let alerts = days.iter().filter(|d| d.alert).count();
            let retrains = days.iter().filter(|d| d.retrained).count();
            let (first, last) = (days.first()?, days.last()?);
            format!(
                "{}: {:.4} on day {} to {:.4} on day {}; {alerts} alerts, {retrains} retrainings",
                drift.metric, first.online, first.day, last.online, last.day
            )
        }
        Chart::Cost => {
            let parts: Vec<String> = data
                .cost
                .iter()
                .map(|(what, dollars)| format!("{what} ${dollars:.2}"))
                .collect();
            if parts.is_empty() {
                return None;
            }
            parts.join(", ")
        }
    };
    Some(text)
}

/// A metric as a card shows it: whole numbers and anything from 1,000 up
/// as a whole number with thousands separators ("213,020", "11,296"), from
/// 100 up to one decimal ("201.5"), smaller ones to four ("0.7743").
pub fn card_number(x: f64) -> String {
    rounded(x, false)
}

/// A change between two cards' numbers, signed, rounded as [`card_number`]
/// rounds ("+0.0123", "-11,291").
pub fn card_delta(x: f64) -> String {
    rounded(x, true)
}

fn rounded(x: f64, signed: bool) -> String {
    let sign = if x < 0.0 {
        "-"
    } else if signed {
        "+"
    } else {
        ""
    };
    let magnitude = x.abs();
    if !magnitude.is_finite() || magnitude >= 1e15 {
        return if signed {
            format!("{x:+}")
        } else {
            format!("{x}")
        };
    }
    if x.fract() == 0.0 || magnitude >= 1_000.0 {
        let digits = format!("{magnitude:.0}");
        let mut out = String::from(sign);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if magnitude >= 100.0 {
        format!("{sign}{magnitude:.1}")
    } else {
        format!("{sign}{magnitude:.4}")
    }
}

/// How long `seconds` is, as a caption says it: "hour", "6 minutes",
/// "45 seconds".
pub fn interval_label(seconds: f64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds >= 3599.5 {
        "hour".to_owned()
    } else if seconds >= 59.5 {
        plural((seconds / 60.0).round() as u64, "minute")
    } else {
        plural(seconds.round().max(1.0) as u64, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::{card_delta, card_number, interval_label};

    #[test]
    fn cards_round_by_size() {
        assert_eq!(card_number(213_020.0), "213,020");
        assert_eq!(card_number(11_296.4), "11,296");
        assert_eq!(card_number(201.472), "201.5");
        assert_eq!(card_number(0.774_31), "0.7743");
        assert_eq!(card_number(-0.0025), "-0.0025");
        assert_eq!(card_number(0.0), "0");
        assert_eq!(card_number(f64::NAN), "NaN");
        assert_eq!(card_delta(0.0123), "+0.0123");
        assert_eq!(card_delta(-11_291.2), "-11,291");
        assert_eq!(card_delta(3.0), "+3");
        assert_eq!(card_delta(-150.25), "-150.2");
    }

    #[test]
    fn intervals_are_named_as_a_caption_says_them() {
        assert_eq!(interval_label(3600.0), "hour");
        assert_eq!(interval_label(360.0), "6 minutes");
        assert_eq!(interval_label(60.0), "1 minute");
        assert_eq!(interval_label(45.2), "45 seconds");
        assert_eq!(interval_label(0.2), "1 second");
    }
}
